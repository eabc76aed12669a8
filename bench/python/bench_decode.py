#!/usr/bin/env python3
"""Decode benchmark: pattn_decode against a left-padded KV cache vs PyTorch.

Cases: batch 1/16/64 x cache 1k/8k/32k, kv lengths uniform in
[cache/2, cache], q_len 1, head_dim 128, 32 query heads / 8 KV heads, bf16,
left padding, lengths in device memory.

For each case, on the same GPU and in the same process:
  - paddedattn   pattn_decode (split-KV chosen by the library)
  - sdpa_flash   torch SDPA, FlashAttention backend, dense over the whole cache
  - sdpa_cudnn   torch SDPA, cuDNN backend, boolean padding mask
  - flex         FlexAttention with a BlockMask of the padding
Every contestant is timed the same way: CUDA graphs of back-to-back calls,
CUDA events around graph replays (so Python launch overhead is not measured;
eager timing is used where capture fails, and the table says so).

Achieved bandwidth counts the bytes the work needs: the real K and V rows,
q and o. It is compared with a device-to-device copy of a large tensor
(read + write bytes / time), as the target is stated, and with a read-only
stream (a sum over a large tensor), which is what decode does. Prints a table and JSON; the JSON is also
written to $OUT/bench_decode.json (or --json PATH).

Also for ours: lengths in host memory (passed in the kernel parameters for
up to 512 rows, so the call is graph-capturable), one call per event pair
(eager, host work included) with device lengths, host lengths, and host
lengths through the device copy (PADDEDATTN_UPLOAD_LENGTHS=1), with the
split kernel + combine kernel path (PADDEDATTN_DECODE_CLUSTER=0, an A/B
against the automatic choice, which uses the cluster merge where it was
measured faster), and with --sweep a sweep of forced num_splits on the small
cases (automatic merge, and the combine kernel), with --stage-sweep every
case at cp.async pipeline depths 2 to 8 (PADDEDATTN_DECODE_STAGES), and with
--variant-cases a grid of depths x forced split counts x merge (cluster or
combine kernel) on the named cases, each variant's output checked against
the default's. The ctypes
parameters of ours are built once, outside the timed region.

With --varlen-suite (instead of the cases above): the serving shapes
(VARLEN_CASES: b32 16k 40/8, b8 4k q4 32/8 d64, b128 2k, b2 64k, b64 8k q2
28/4, b1-b4 with 32k-128k caches, b1 1k, b16 8k), kv lengths uniform in
[cache/2, cache], right padding, lengths in device memory, against
FlashAttention-2 varlen (torch.ops.aten._flash_attention_forward on the
real rows packed, cu_seqlens_k; the packing is not timed), and ours on a
paged copy of the same cache (page sizes 16 and 64, pages in a shuffled
order, page_table [batch, max_pages]). Outputs of the graph replays are
compared with each other and with FA2. GB/s counts the real K/V bytes only;
the fraction is of the read-only stream.

Usage: PYTHONPATH=bindings/python python3 bench/python/bench_decode.py [--lib path/to/libpaddedattn.so]
       [--quick] [--no-flex] [--sweep] [--stage-sweep] [--variant-cases 64x1024,...]
       [--batches 1,16] [--caches 1024,8192] [--json PATH] [--no-json-stdout]
       [--varlen-suite [--varlen-only b32_16k,b2_64k]]
"""
import ctypes
import argparse
import json
import math
import os
import time

import paddedattn  # noqa: E402  (the package in bindings/python: PYTHONPATH=bindings/python)
import torch  # noqa: E402
from cuda_timing import median_event_ms  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

NUM_QO_HEADS = 32
NUM_KV_HEADS = 8
HEAD_DIM = 128
DTYPE = torch.bfloat16


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default=None, help="path of libpaddedattn.so (else PADDEDATTN_NATIVE_LIB or the build)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--no-flex", action="store_true", help="skip FlexAttention (it compiles per shape)")
    ap.add_argument("--flex-budget-s", type=float, default=150.0,
                    help="stop adding FlexAttention compilations after this many seconds")
    ap.add_argument("--json", default=None, help="where to write the JSON (default $OUT/bench_decode.json)")
    ap.add_argument("--batches", default="1,16,64", help="comma-separated batch sizes")
    ap.add_argument("--caches", default="1024,8192,32768", help="comma-separated cache lengths")
    ap.add_argument("--sweep", action="store_true",
                    help="also time forced num_splits 1..128 on cases with batch * cache <= 16 * 8192")
    ap.add_argument("--stage-sweep", action="store_true",
                    help="also time every case at pipeline depths 2, 3, 4, 6, 8 (PADDEDATTN_DECODE_STAGES), "
                         "automatic split count")
    ap.add_argument("--variant-cases", default="",
                    help="comma-separated BATCHxCACHE cases (e.g. 1x1024,64x1024) to time on a grid of pipeline "
                         "depths x forced split counts x merge (cluster / combine kernel)")
    ap.add_argument("--no-json-stdout", action="store_true", help="write the JSON to the file only")
    ap.add_argument("--varlen-suite", action="store_true",
                    help="run the serving shapes against FA2 varlen and the paged variants instead")
    ap.add_argument("--varlen-only", default="", help="comma-separated names of VARLEN_CASES to run (default all)")
    return ap.parse_args()


def time_graph(fn, calls_per_graph, replays):
    """Median microseconds per call of fn, from CUDA-graph replays (eager on failure)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm up: compilation, caches, allocator
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    mode = "graph"
    graph = None
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls_per_graph):
                fn()
        graph.replay()
        torch.cuda.synchronize()
    except Exception:  # some backends cannot be captured: time them eagerly
        graph = None
        mode = "eager"
        torch.cuda.synchronize()

    def once():
        if graph is not None:
            graph.replay()
        else:
            for _ in range(calls_per_graph):
                fn()

    return median_event_ms(once, 1, replays) * 1000.0 / calls_per_graph, mode


def time_eager(fn, runs):
    """Median microseconds of one call between two CUDA events (host work included)."""
    return median_event_ms(fn, 3, runs) * 1000.0


class OursDecode:
    """pattn_decode with its ctypes parameters built once (as a real caller would)."""

    def __init__(self, q, k, v, o, lens, num_splits=0, page_table=None, padding=None):
        self.keep = []
        p = paddedattn.DecodeParams()
        p.struct_size = ctypes.sizeof(paddedattn.DecodeParams)
        p.padding_side = int(paddedattn.PaddingSide.LEFT if padding is None else padding)
        p.page_table = paddedattn.tensor_like(page_table)
        self.keep.append(page_table)
        p.q, p.k_cache, p.v_cache, p.o = (paddedattn.tensor_from_torch(x) for x in (q, k, v, o))
        p.lse = paddedattn.absent_tensor()
        if isinstance(lens, torch.Tensor):
            p.kv_valid_lens = paddedattn.tensor_from_torch(lens)
            self.keep.append(lens)
        else:
            host = (ctypes.c_int32 * len(lens))(*lens)
            self.keep.append(host)
            p.kv_valid_lens = paddedattn.tensor_from_pointer(ctypes.addressof(host), [len(lens)],
                                                             paddedattn.DType.I32, paddedattn.DeviceType.CPU)
        p.softmax_scale = 0.0
        p.num_splits = int(num_splits)
        self.params = p
        self.fn = paddedattn.lib().pattn_decode

    def __call__(self):
        status = self.fn(ctypes.byref(self.params), ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
        if status != 0:
            raise paddedattn.PattnError(status, paddedattn.last_error_message())


def copy_bandwidth_gbs():
    """Device-to-device copy of a 2 GiB tensor: (read + write bytes) / time."""
    n = 2 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    src.random_(0, 255)
    us, _ = time_graph(lambda: dst.copy_(src), 5, 10)
    del src, dst
    torch.cuda.empty_cache()
    return 2.0 * n / (us * 1e-6) / 1e9


def read_bandwidth_gbs():
    """Read-only streaming reference: sum of a 2 GiB bf16 tensor, bytes read / time."""
    n = 1 << 30
    x = torch.empty(n, dtype=torch.bfloat16, device="cuda").uniform_(-1, 1)
    us, _ = time_graph(lambda: x.sum(dtype=torch.float32), 5, 10)
    del x
    torch.cuda.empty_cache()
    return 2.0 * n / (us * 1e-6) / 1e9


def run_case(batch, cache_len, args, flex_state, copy_gbs):
    gen = torch.Generator(device="cuda")
    gen.manual_seed(batch * 100003 + cache_len)
    q = torch.randn(batch, 1, NUM_QO_HEADS, HEAD_DIM, device="cuda", dtype=DTYPE, generator=gen)
    k = torch.randn(batch, cache_len, NUM_KV_HEADS, HEAD_DIM, device="cuda", dtype=DTYPE, generator=gen)
    v = torch.randn(batch, cache_len, NUM_KV_HEADS, HEAD_DIM, device="cuda", dtype=DTYPE, generator=gen)
    lens = torch.randint(cache_len // 2, cache_len + 1, (batch,), device="cuda", dtype=torch.int32, generator=gen)
    o = torch.empty_like(q)
    real_keys = int(lens.sum().item())

    # Bytes the work needs: real K and V rows, q and o.
    elem = 2
    needed = real_keys * NUM_KV_HEADS * HEAD_DIM * elem * 2 + 2 * q.numel() * elem

    rows = []
    result = {"batch": batch, "cache_len": cache_len, "real_keys": real_keys, "bytes_needed": needed}

    ours = OursDecode(q, k, v, o, lens)
    host_lens = [int(x) for x in lens.tolist()]
    ours_host = OursDecode(q, k, v, o, host_lens)

    calls = 20 if not args.quick else 5
    replays = 15 if not args.quick else 5
    us, mode = time_graph(ours, calls, replays)
    gbs = needed / (us * 1e-6) / 1e9
    result["paddedattn"] = {"us": us, "timing": mode, "gbs": gbs, "copy_fraction": gbs / copy_gbs}
    result["paddedattn"]["read_fraction"] = gbs / args.read_gbs
    # A/B in the same run: the split kernel + combine kernel path
    # (PADDEDATTN_DECODE_CLUSTER=0; the variable is read at each call, so at capture).
    os.environ["PADDEDATTN_DECODE_CLUSTER"] = "0"
    try:
        result["paddedattn_two_kernels_us"] = time_graph(ours, calls, replays)[0]
    finally:
        os.environ.pop("PADDEDATTN_DECODE_CLUSTER", None)
    us_h, mode_h = time_graph(ours_host, calls, replays)
    result["paddedattn_host_lens"] = {"us": us_h, "timing": mode_h}
    eager_runs = 30 if not args.quick else 15
    result["eager_1call_us"] = {"device_lens": time_eager(ours, eager_runs),
                                "host_lens": time_eager(ours_host, eager_runs)}
    os.environ["PADDEDATTN_UPLOAD_LENGTHS"] = "1"
    try:
        result["eager_1call_us"]["host_lens_upload"] = time_eager(ours_host, eager_runs)
    finally:
        os.environ.pop("PADDEDATTN_UPLOAD_LENGTHS", None)
    if args.sweep and batch * cache_len <= 16 * 8192:
        sweep = {}
        for splits in (1, 2, 4, 8, 16, 32, 64, 128):
            if splits * 32 > cache_len:
                break
            sweep[str(splits)] = time_graph(OursDecode(q, k, v, o, lens, splits), calls, replays)[0]
        result["split_sweep_us"] = sweep
        # The same forced counts with the combine kernel (no cluster merge).
        sweep2 = {}
        os.environ["PADDEDATTN_DECODE_CLUSTER"] = "0"
        try:
            for splits in (2, 4, 8, 16):
                if splits * 32 > cache_len:
                    break
                sweep2[str(splits)] = time_graph(OursDecode(q, k, v, o, lens, splits), calls, replays)[0]
        finally:
            os.environ.pop("PADDEDATTN_DECODE_CLUSTER", None)
        result["split_sweep_two_kernels_us"] = sweep2
    stage_list = (2, 3, 4, 6, 8)

    def with_env(env, fn):
        saved = {k2: os.environ.get(k2) for k2 in env}
        os.environ.update(env)
        try:
            return fn()
        finally:
            for k2, v2 in saved.items():
                if v2 is None:
                    os.environ.pop(k2, None)
                else:
                    os.environ[k2] = v2

    o_default = o.clone()
    ours()
    torch.cuda.synchronize()
    o_default.copy_(o)
    variant_diff = 0.0

    def check_variant(fn):
        nonlocal variant_diff
        o.zero_()
        fn()
        torch.cuda.synchronize()
        variant_diff = max(variant_diff, float((o.float() - o_default.float()).abs().max().item()))

    if args.stage_sweep:
        st = {}
        for stages in stage_list:
            env = {"PADDEDATTN_DECODE_STAGES": str(stages)}
            st[str(stages)] = with_env(env, lambda: time_graph(ours, calls, replays)[0])
            with_env(env, lambda: check_variant(ours))
        result["stage_sweep_us"] = st
    if "%dx%d" % (batch, cache_len) in args.variant_cases.split(","):
        grid = {}
        forced = {n: OursDecode(q, k, v, o, lens, n) for n in (1, 2, 4, 8, 16, 32) if n * 32 <= cache_len}
        for stages in stage_list:
            for merge in ("all", "0"):
                for n, fn in forced.items():
                    if (merge == "all" and n > 16) or (merge == "0" and n == 1):
                        continue  # the same kernels as another entry
                    env = {"PADDEDATTN_DECODE_STAGES": str(stages), "PADDEDATTN_DECODE_CLUSTER": merge}
                    key = "%d/%s/%d" % (stages, "cluster" if merge == "all" else "combine", n)
                    grid[key] = with_env(env, lambda: time_graph(fn, 20, 15)[0])
                    with_env(env, lambda: check_variant(fn))
        result["variant_grid_us"] = grid
    o.copy_(o_default)
    result["variants_max_abs_diff"] = variant_diff
    # Host lengths give the same bits as device lengths (same forced split
    # count: the automatic choice may differ, as host lengths give the exact
    # longest row), also through the uploaded copy.
    # The upload path always merges in the combine kernel, so all three use it
    # here (PADDEDATTN_DECODE_CLUSTER=0).
    o_ref, o_host, o_up = torch.empty_like(o), torch.empty_like(o), torch.empty_like(o)
    os.environ["PADDEDATTN_DECODE_CLUSTER"] = "0"
    try:
        OursDecode(q, k, v, o_ref, lens, 4)()
        OursDecode(q, k, v, o_host, host_lens, 4)()
        os.environ["PADDEDATTN_UPLOAD_LENGTHS"] = "1"
        OursDecode(q, k, v, o_up, host_lens, 4)()
    finally:
        os.environ.pop("PADDEDATTN_UPLOAD_LENGTHS", None)
        os.environ.pop("PADDEDATTN_DECODE_CLUSTER", None)
    torch.cuda.synchronize()
    result["host_lens_equal"] = bool(torch.equal(o_host, o_ref) and torch.equal(o_up, o_ref))
    # Cluster merge vs combine kernel at the same count: the same math in
    # another order, so at most a rounding difference.
    o_cluster = torch.empty_like(o)
    os.environ["PADDEDATTN_DECODE_CLUSTER"] = "all"
    try:
        OursDecode(q, k, v, o_cluster, lens, 4)()
    finally:
        os.environ.pop("PADDEDATTN_DECODE_CLUSTER", None)
    torch.cuda.synchronize()
    result["cluster_vs_two_kernels_max_abs"] = float((o_cluster.float() - o_ref.float()).abs().max().item())

    # Peers see [batch, heads, seq, dim] views of the same cache (no copy).
    qt = q.transpose(1, 2)
    kt = k.transpose(1, 2)
    vt = v.transpose(1, 2)
    positions = torch.arange(cache_len, device="cuda")
    keep = positions[None, :] >= (cache_len - lens[:, None])  # left padding: real keys at the end
    bool_mask = keep[:, None, None, :]  # [batch, 1, 1, cache_len]

    # Correctness of ours on real rows: masked SDPA (math) on up to 2 rows.
    nb = min(batch, 2)
    ours()
    with sdpa_kernel([SDPBackend.MATH]):
        ref = F.scaled_dot_product_attention(qt[:nb].float(), kt[:nb].float(), vt[:nb].float(),
                                             attn_mask=bool_mask[:nb], enable_gqa=True)
    result["max_abs_err_vs_math"] = float((o[:nb].transpose(1, 2).float() - ref).abs().max().item())

    def peer(name, fn):
        try:
            fn()
            torch.cuda.synchronize()
            t, m = time_graph(fn, calls, replays)
            result[name] = {"us": t, "timing": m, "speedup_of_paddedattn": t / us}
        except Exception as e:  # report, keep going
            torch.cuda.synchronize()
            result[name] = {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:160])}

    expanded = {}

    def kv_expanded():
        # Fallback for a backend without GQA support: K/V repeated per query head.
        if not expanded:
            group = NUM_QO_HEADS // NUM_KV_HEADS
            expanded["k"] = kt.repeat_interleave(group, dim=1)
            expanded["v"] = vt.repeat_interleave(group, dim=1)
        return expanded["k"], expanded["v"]

    def sdpa(backend, mask):
        def gqa():
            with sdpa_kernel([backend]):
                return F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, enable_gqa=True)

        def expand():
            ke, ve = kv_expanded()
            with sdpa_kernel([backend]):
                return F.scaled_dot_product_attention(qt, ke, ve, attn_mask=mask)

        try:
            gqa()
            torch.cuda.synchronize()
            return gqa, "gqa"
        except Exception:
            torch.cuda.synchronize()
            return expand, "kv heads expanded"

    fn, how = sdpa(SDPBackend.FLASH_ATTENTION, None)
    peer("sdpa_flash", fn)
    result["sdpa_flash"]["gqa"] = how
    fn, how = sdpa(SDPBackend.CUDNN_ATTENTION, bool_mask)
    peer("sdpa_cudnn", fn)
    result["sdpa_cudnn"]["gqa"] = how
    expanded.clear()

    if not args.no_flex and flex_state["ok"]:
        if time.time() - flex_state["start"] > args.flex_budget_s:
            result["flex"] = {"error": "skipped: compilation time budget spent"}
        else:
            try:
                from torch.nn.attention.flex_attention import create_block_mask, flex_attention
                if flex_state["fn"] is None:
                    flex_state["fn"] = torch.compile(flex_attention)
                starts = (cache_len - lens).to(torch.int32)

                def mask_mod(b, h, q_idx, kv_idx):
                    return kv_idx >= starts[b]

                block_mask = create_block_mask(mask_mod, batch, None, 1, cache_len, device="cuda")
                flex = flex_state["fn"]
                peer("flex", lambda: flex(qt, kt, vt, block_mask=block_mask, enable_gqa=True))
            except Exception as e:
                result["flex"] = {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:160])}
    elif args.no_flex:
        result["flex"] = {"error": "skipped (--no-flex)"}

    peers = [n for n in ("sdpa_flash", "sdpa_cudnn", "flex") if "us" in result.get(n, {})]
    result["faster_than_every_peer"] = all(result[n]["us"] > us for n in peers) if peers else None
    del q, k, v, o, keep, bool_mask
    torch.cuda.empty_cache()
    return result


# name: (batch, cache_len, q_len, num_qo_heads, num_kv_heads, head_dim)
VARLEN_CASES = [
    ("b32_16k", (32, 16384, 1, 40, 8, 128)),
    ("b8_4k_q4_d64", (8, 4096, 4, 32, 8, 64)),
    ("b128_2k", (128, 2048, 1, 32, 8, 128)),
    ("b2_64k", (2, 65536, 1, 32, 8, 128)),
    ("b64_8k_q2_28_4", (64, 8192, 2, 28, 4, 128)),
    ("b1_32k", (1, 32768, 1, 32, 8, 128)),
    ("b1_64k", (1, 65536, 1, 32, 8, 128)),
    ("b1_128k", (1, 131072, 1, 32, 8, 128)),
    ("b2_32k", (2, 32768, 1, 32, 8, 128)),
    ("b2_128k", (2, 131072, 1, 32, 8, 128)),
    ("b4_32k", (4, 32768, 1, 32, 8, 128)),
    ("b4_64k", (4, 65536, 1, 32, 8, 128)),
    ("b4_128k", (4, 131072, 1, 32, 8, 128)),
    ("b1_1k", (1, 1024, 1, 32, 8, 128)),
    ("b16_8k", (16, 8192, 1, 32, 8, 128)),
]
# The small models' head_dims: 32 with GQA 16/4 (a batch and one long row:
# the split path), 80 (Phi-2-like, 32/32) and 96 (Phi-3-mini-like, 32/32, and
# speculative q_len 4). Alone: --varlen-suite --varlen-only
# b64_2k_d32,b1_32k_d32,b32_4k_d80,b32_4k_d96,b8_8k_q4_d96
VARLEN_CASES += [
    ("b64_2k_d32", (64, 2048, 1, 16, 4, 32)),
    ("b1_32k_d32", (1, 32768, 1, 16, 4, 32)),
    ("b32_4k_d80", (32, 4096, 1, 32, 32, 80)),
    ("b32_4k_d96", (32, 4096, 1, 32, 32, 96)),
    ("b8_8k_q4_d96", (8, 8192, 4, 32, 32, 96)),
]
PAGE_SIZES = (16, 64)


def paged_copy(k, v, page_size, gen):
    """The cache [batch, cache, heads, dim] as pages [num_pages, page_size, heads, dim] in a shuffled
    order and the block table [batch, max_pages] (int32) that maps row b's page e to its page."""
    batch, cache_len, heads, dim = k.shape
    per_row = (cache_len + page_size - 1) // page_size
    num_pages = batch * per_row
    perm = torch.randperm(num_pages, device="cuda", generator=gen)
    table = perm.view(batch, per_row).to(torch.int32).contiguous()
    padded = per_row * page_size

    def pages(x):
        if padded != cache_len:
            x = torch.cat([x, x.new_zeros(batch, padded - cache_len, heads, dim)], dim=1)
        out = torch.empty(num_pages, page_size, heads, dim, device="cuda", dtype=x.dtype)
        out[perm] = x.reshape(num_pages, page_size, heads, dim)
        return out

    return pages(k), pages(v), table


def varlen_case_tensors(shape):
    """q, k, v, the cached lengths of a VARLEN_CASES shape and the generator
    that drew them, seeded by the shape (profile_decode_cases.py and
    sweep_decode_splits.py draw the same; run_varlen_case draws its page
    permutations from the same generator afterwards)."""
    batch, cache_len, q_len, qo_heads, kv_heads, dim = shape
    gen = torch.Generator(device="cuda")
    gen.manual_seed(batch * 7919 + cache_len + q_len)
    q = torch.randn(batch, q_len, qo_heads, dim, device="cuda", dtype=DTYPE, generator=gen)
    k = torch.randn(batch, cache_len, kv_heads, dim, device="cuda", dtype=DTYPE, generator=gen)
    v = torch.randn(batch, cache_len, kv_heads, dim, device="cuda", dtype=DTYPE, generator=gen)
    lens = torch.randint(cache_len // 2, cache_len + 1, (batch,), device="cuda", dtype=torch.int32, generator=gen)
    return q, k, v, lens, gen


def run_varlen_case(name, shape, args, read_gbs):
    batch, cache_len, q_len, qo_heads, kv_heads, dim = shape
    q, k, v, lens, gen = varlen_case_tensors(shape)
    host_lens = [int(x) for x in lens.tolist()]
    real_keys = sum(host_lens)
    kv_bytes = real_keys * kv_heads * dim * 2 * 2  # real K and V rows only
    calls = 20 if not args.quick else 5
    replays = 15 if not args.quick else 5
    result = {"name": name, "batch": batch, "cache_len": cache_len, "q_len": q_len, "num_qo_heads": qo_heads,
              "num_kv_heads": kv_heads, "head_dim": dim, "real_keys": real_keys, "kv_bytes": kv_bytes}

    def entry(us, mode):
        gbs = kv_bytes / (us * 1e-6) / 1e9
        return {"us": us, "timing": mode, "kv_gbs": gbs, "read_fraction": gbs / read_gbs}

    right = int(paddedattn.PaddingSide.RIGHT)
    o = torch.empty_like(q)
    ours = OursDecode(q, k, v, o, lens, padding=right)
    result["paddedattn"] = entry(*time_graph(ours, calls, replays))
    o_contig = o.clone()  # the output of the last graph replay

    # FA2 varlen on the real rows packed (not timed), GQA native.
    cu_k = torch.zeros(batch + 1, device="cuda", dtype=torch.int32)
    cu_k[1:] = torch.cumsum(lens, 0)
    cu_q = torch.arange(0, (batch + 1) * q_len, q_len, device="cuda", dtype=torch.int32)
    keep = torch.arange(cache_len, device="cuda")[None, :] < lens[:, None]
    k_packed, v_packed = k[keep].contiguous(), v[keep].contiguous()
    q_packed = q.reshape(batch * q_len, qo_heads, dim)
    max_k = max(host_lens)

    def fa2():
        return torch.ops.aten._flash_attention_forward(q_packed, k_packed, v_packed, cu_q, cu_k, q_len, max_k, 0.0,
                                                       q_len > 1, False)[0]

    try:
        ref = fa2()
        torch.cuda.synchronize()
        result["fa2_varlen"] = entry(*time_graph(fa2, calls, replays))
        result["fa2_varlen"]["speedup_of_paddedattn"] = result["fa2_varlen"]["us"] / result["paddedattn"]["us"]
        result["max_abs_diff_vs_fa2"] = float((o_contig.reshape(ref.shape).float() - ref.float()).abs().max().item())
    except Exception as e:  # report, keep going
        torch.cuda.synchronize()
        result["fa2_varlen"] = {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:160])}
    del k_packed, v_packed

    for page_size in PAGE_SIZES:
        kp, vp, table = paged_copy(k, v, page_size, gen)
        op = torch.empty_like(q)
        paged = OursDecode(q, kp, vp, op, lens, page_table=table, padding=right)
        key = "paddedattn_paged%d" % page_size
        try:
            result[key] = entry(*time_graph(paged, calls, replays))
            result[key]["vs_contiguous"] = result[key]["us"] / result["paddedattn"]["us"]
            # Graph replays of the paged call give the contiguous result (same split count).
            result[key]["max_abs_diff_vs_contiguous"] = float((op.float() - o_contig.float()).abs().max().item())
        except Exception as e:
            torch.cuda.synchronize()
            result[key] = {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:160])}
        del kp, vp, table
    del q, k, v, o
    torch.cuda.empty_cache()
    return result


def varlen_main(args, props, copy_gbs, read_gbs, path):
    report = {"device": props.name, "torch": torch.__version__, "library": paddedattn.version_string(),
              "suite": "varlen", "dtype": "bf16", "padding": "right",
              "kv_lens": "uniform in [cache/2, cache], device memory",
              "copy_bandwidth_gbs": copy_gbs, "read_bandwidth_gbs": read_gbs, "cases": []}
    only = [x for x in args.varlen_only.split(",") if x]
    for name, shape in VARLEN_CASES:
        if only and name not in only:
            continue
        r = run_varlen_case(name, shape, args, read_gbs)
        report["cases"].append(r)
        print("case %s: ours %.1f us, FA2 varlen %s, paged16 %s, paged64 %s" % (
            name, r["paddedattn"]["us"], r["fa2_varlen"].get("us", r["fa2_varlen"].get("error")),
            r["paddedattn_paged16"].get("us", r["paddedattn_paged16"].get("error")),
            r["paddedattn_paged64"].get("us", r["paddedattn_paged64"].get("error"))), flush=True)
        if path:
            with open(path, "w") as f:
                f.write(json.dumps(report, indent=1))
    print("device: %s, torch %s, copy %.0f GB/s (read + write), read-only %.0f GB/s" % (
        props.name, torch.__version__, copy_gbs, read_gbs))
    print("| case | ours us | K/V GB/s | of read-only | FA2 varlen us | FA2 / ours | paged16 us (/ contig) | "
          "paged64 us (/ contig) | max diff vs FA2 | paged vs contig |")
    for r in report["cases"]:
        f2 = r["fa2_varlen"]
        p16, p64 = r["paddedattn_paged16"], r["paddedattn_paged64"]
        print("| %s | %.1f | %.0f | %.0f%% | %s | %s | %s | %s | %s | %s |" % (
            r["name"], r["paddedattn"]["us"], r["paddedattn"]["kv_gbs"], 100 * r["paddedattn"]["read_fraction"],
            "%.1f" % f2["us"] if "us" in f2 else "n/a", "%.2f" % f2["speedup_of_paddedattn"] if "us" in f2 else "n/a",
            "%.1f (%.2f)" % (p16["us"], p16["vs_contiguous"]) if "us" in p16 else "n/a",
            "%.1f (%.2f)" % (p64["us"], p64["vs_contiguous"]) if "us" in p64 else "n/a",
            "%.1e" % r["max_abs_diff_vs_fa2"] if "max_abs_diff_vs_fa2" in r else "n/a",
            "%.1e/%.1e" % (p16.get("max_abs_diff_vs_contiguous", float("nan")),
                           p64.get("max_abs_diff_vs_contiguous", float("nan")))))
    if path:
        with open(path, "w") as f:
            f.write(json.dumps(report, indent=1))


def main():
    args = parse_args()
    paddedattn.load_library(args.lib)
    torch.backends.cuda.matmul.allow_tf32 = False
    props = torch.cuda.get_device_properties(0)
    copy_gbs = copy_bandwidth_gbs()
    read_gbs = read_bandwidth_gbs()
    if args.varlen_suite:
        path = args.json or (os.path.join(os.environ["OUT"], "bench_decode_varlen.json")
                             if os.environ.get("OUT") else None)
        varlen_main(args, props, copy_gbs, read_gbs, path)
        return
    report = {
        "device": props.name,
        "torch": torch.__version__,
        "library": paddedattn.version_string(),
        "shape": {"q_len": 1, "num_qo_heads": NUM_QO_HEADS, "num_kv_heads": NUM_KV_HEADS,
                  "head_dim": HEAD_DIM, "dtype": "bf16", "padding": "left",
                  "kv_lens": "uniform in [cache/2, cache], device memory"},
        "copy_bandwidth_gbs": copy_gbs,
        "read_bandwidth_gbs": read_gbs,
        "cases": [],
    }
    args.read_gbs = read_gbs
    flex_state = {"ok": True, "fn": None, "start": time.time()}
    path = args.json or (os.path.join(os.environ["OUT"], "bench_decode.json") if os.environ.get("OUT") else None)
    for batch in [int(x) for x in args.batches.split(",")]:
        for cache_len in [int(x) for x in args.caches.split(",")]:
            r = run_case(batch, cache_len, args, flex_state, copy_gbs)
            report["cases"].append(r)
            print("case batch %d cache %d: ours %.1f us (two kernels %.1f, host lens %.1f), flash %s, cudnn %s, "
                  "flex %s, 1-call dev/host/upload %.1f/%.1f/%.1f us, sweep %s, sweep two kernels %s" % (
                      batch, cache_len, r["paddedattn"]["us"], r["paddedattn_two_kernels_us"],
                      r["paddedattn_host_lens"]["us"],
                      r.get("sdpa_flash", {}).get("us"), r.get("sdpa_cudnn", {}).get("us"),
                      r.get("flex", {}).get("us"), r["eager_1call_us"]["device_lens"],
                      r["eager_1call_us"]["host_lens"], r["eager_1call_us"]["host_lens_upload"],
                      r.get("split_sweep_us"), r.get("split_sweep_two_kernels_us")), flush=True)
            if path:  # the cases so far, in case the run is cut short
                with open(path, "w") as f:
                    f.write(json.dumps(report, indent=1))

    def cell(r, name):
        x = r.get(name, {})
        if "us" in x:
            return "%9.1f" % x["us"]
        return "%9s" % "n/a"

    print("device: %s, torch %s, copy bandwidth %.0f GB/s (read + write), read-only bandwidth %.0f GB/s (sum)"
          % (props.name, torch.__version__, copy_gbs, read_gbs))
    print("%5s %6s | %9s %7s %6s | %9s %9s %9s | %s" % ("batch", "cache", "ours us", "GB/s", "%copy",
                                                       "flash us", "cudnn us", "flex us", "fastest?"))
    for r in report["cases"]:
        ours = r["paddedattn"]
        print("%5d %6d | %9.1f %7.0f %5.0f%% | %s %s %s | %s   (err %.2e)" % (
            r["batch"], r["cache_len"], ours["us"], ours["gbs"], 100 * ours["copy_fraction"],
            cell(r, "sdpa_flash"), cell(r, "sdpa_cudnn"), cell(r, "flex"),
            {True: "yes", False: "NO", None: "-"}[r["faster_than_every_peer"]], r["max_abs_err_vs_math"]))
    print("ours, A/B (us): default | split kernel + combine kernel (PADDEDATTN_DECODE_CLUSTER=0) | "
          "max |o| difference at 4 splits")
    for r in report["cases"]:
        print("%5d %6d | %9.1f | %9.1f | %.2e" % (r["batch"], r["cache_len"], r["paddedattn"]["us"],
                                                 r["paddedattn_two_kernels_us"],
                                                 r["cluster_vs_two_kernels_max_abs"]))
    print("ours, more ways (us): graph host-lens | one call per event pair: device lens, host lens, "
          "host lens uploaded | host == device bits")
    for r in report["cases"]:
        e = r["eager_1call_us"]
        print("%5d %6d | %9.1f | %9.1f %9.1f %9.1f | %s" % (
            r["batch"], r["cache_len"], r["paddedattn_host_lens"]["us"], e["device_lens"], e["host_lens"],
            e["host_lens_upload"], r["host_lens_equal"]))
    for r in report["cases"]:
        if "split_sweep_us" in r:
            print("split sweep batch %d cache %d: %s" % (r["batch"], r["cache_len"], ", ".join(
                "%s:%.1f" % (k2, v2) for k2, v2 in r["split_sweep_us"].items())))
            print("  same, combine kernel: %s" % ", ".join(
                "%s:%.1f" % (k2, v2) for k2, v2 in r["split_sweep_two_kernels_us"].items()))
    for r in report["cases"]:
        if "stage_sweep_us" in r:
            print("pipeline depth sweep batch %d cache %d (auto splits): %s" % (r["batch"], r["cache_len"], ", ".join(
                "%s:%.1f" % (k2, v2) for k2, v2 in r["stage_sweep_us"].items())))
    for r in report["cases"]:
        if "variant_grid_us" in r:
            g = r["variant_grid_us"]
            best = min(g, key=g.get)
            print("variant grid batch %d cache %d (stages/merge/splits: us), best %s %.1f, max |o - default| %.2e:" % (
                r["batch"], r["cache_len"], best, g[best], r["variants_max_abs_diff"]))
            for stages in ("2", "3", "4", "6", "8"):
                print("  " + ", ".join("%s:%.1f" % (k2, v2) for k2, v2 in g.items() if k2.split("/")[0] == stages))
    for r in report["cases"]:
        for name in ("sdpa_flash", "sdpa_cudnn", "flex"):
            if "error" in r.get(name, {}):
                print("  batch %d cache %d %s: %s" % (r["batch"], r["cache_len"], name, r[name]["error"]))
    b16 = [r for r in report["cases"] if r["batch"] == 16 and r["cache_len"] == 8192]
    if b16:
        report["target_b16_8k_copy_fraction"] = b16[0]["paddedattn"]["copy_fraction"]
    text = json.dumps(report, indent=1)
    if not args.no_json_stdout:
        print(text)
    if path:
        with open(path, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
