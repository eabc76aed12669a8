#!/usr/bin/env python3
"""Masked sequence prefill: PaddedAttention against the PyTorch peers.

For each case (padded batch, valid lengths uniform random in a range) this
times, with CUDA events after warm-up (median of --runs calls):
  ours        pattn_sequence_prefill, lengths in host memory (work list)
  ours-b2b    the same, 10 calls back to back per event pair (host work
              overlapped with the GPU), for the throughput of a serving loop
  ours-dlen   the same with lengths in device memory (full grid, early exit)
  ours-upld   one call with PADDEDATTN_UPLOAD_LENGTHS=1: host lengths go the
              large-batch way (work list copied to the device) even for a
              small batch; compares that path with lengths in the parameters
Host time per call (the ctypes call alone, wall clock, median) is reported
for ours and ours-upld: what a caller's thread spends inside the library.
  flex        torch.compile'd flex_attention with a BlockMask (padding + causal)
  cudnn       SDPA, cuDNN backend, boolean mask
  efficient   SDPA, memory-efficient backend, boolean mask
  flash-dense SDPA flash on the dense padded batch, no mask (its TFLOP/s count
              dense work and are reported separately)
  fa2         FlashAttention-2 varlen (PyTorch's bundled kernel,
              aten._flash_attention_forward) on the packed real tokens
              [total, heads, d] with cu_seqlens, GQA native; packing not timed
  cudnn-dense SDPA cuDNN on the dense batch, no mask (is_causal where causal):
              the ceiling. Its rate counts the dense work it did; with no
              padding that is the same real work. "frac cudnn" is ours (real
              work) over it.
  ours-mma    ours with PADDEDATTN_PREFILL_MMA_SYNC=1 (the mma.sync kernel
              where the Hopper one would run) and
  ours-hopper ours with PADDEDATTN_PREFILL_HOPPER=1 (the Hopper kernel
              wherever it can run): the A/B of the two kernels; `ours` is
              the library's default choice between them
  ours-hshort ours with PADDEDATTN_PREFILL_HOPPER=1 and
              PADDEDATTN_PREFILL_HOPPER_SHORT=1: the Hopper kernel with its
              64-row short-row tiles (head_dim 64 / 128)
  ours-hshortw the same with PADDEDATTN_PREFILL_HOPPER_SHORT=2: 128-key
              tiles at head_dim 64, 48-key tiles at 128 (3 blocks per SM)
  ours-hpersist as ours-hshort with PADDEDATTN_PREFILL_HOPPER_PERSISTENT=1:
              the short-row tiles as a persistent grid
  ours-hwide  PADDEDATTN_PREFILL_HOPPER=1, PADDEDATTN_PREFILL_HOPPER_SHORT=0 and
              PADDEDATTN_PREFILL_HOPPER_WIDE=1: 176-key tiles at head_dim 128
              without a causal mask
  ours-htall  the same with PADDEDATTN_PREFILL_HOPPER_SHORT=0: its 128-row
              tiles only (A/B of the Hopper tile height)
  ours-hnotma ours-htall with PADDEDATTN_PREFILL_HOPPER_TMA=0: every KV tile
              of the 128-row tiles by cp.async (A/B of the TMA loads)
  ours-general ours with PADDEDATTN_PREFILL_MMA_SYNC=1 and
              PADDEDATTN_PREFILL_GENERAL=1: the mma.sync kernel with the
              window / soft-cap / compensated-sum code the plain kernel
              leaves out (A/B of the two mma.sync kernels, vs ours-mma)
  ours-largep ours with PADDEDATTN_PREFILL_LARGE_PARAMS=1: host lengths of
              batches of 257-2048 rows in the 32 KB kernel parameters instead
              of copied to the device (A/B; only for those batches)
  ours-tall   ours with PADDEDATTN_PREFILL_TALL_TILES=1: 128-row tiles also
              where short rows take 64-row tiles (A/B; head_dim 32 / 64 / 128)
  ours-short  ours with PADDEDATTN_PREFILL_SHORT_TILES=1: 64-row tiles of
              the plain mma.sync kernel wherever the head_dim has them (32 to
              128), whatever the row lengths (A/B of the tile height)
  ours-single ours with PADDEDATTN_PREFILL_SINGLE_STAGE=1: the plain kernel
              with one K and one V buffer instead of its staged (K, V)
              slots (A/B of the K/V pipeline)
--quick runs a subset of the cases (the new families) with ours, ours-mma,
ours-hopper, fa2 and cudnn-dense only (--peers picks peers explicitly).
TFLOP/s count real work only: 4 * head_dim * num_qo_heads * (visible (query,
key) pairs), so causal counts about half and padding nothing. A peer that
refuses a case prints n/a with the reason.

--variants runs only the attention-variant cases instead: a causal 16k row
with sliding windows 8192..1024 (time against the full row, next to the
visible work; FA2 with window_size where PyTorch takes it) and packed
(cu_seqlens) against padded calls on the same real tokens and FA2 varlen,
checking that packed rows equal the padded ones bit for bit.

Checks: ours against SDPA-efficient on the real rows (per-row relative
error, bf16 tolerance), lse against a float32 reference where it fits in
memory, padding rows exactly o = 0 / lse = -inf, and that NaN written into
every padding row of q, k and v changes no real row.

  PYTHONPATH=bindings/python PADDEDATTN_NATIVE_LIB=build/libpaddedattn.so python3 bench/python/bench_prefill.py [--json out.json]
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch

import paddedattn as pa  # noqa: E402  (the package in bindings/python: PYTHONPATH=bindings/python)
from cuda_timing import median_event_ms  # noqa: E402
from bench_common import report_failed_checks  # noqa: E402

CASES = [
    # name, batch, seq, q heads, kv heads, head_dim, mode, length range
    dict(name="b64 s512 causal left", b=64, s=512, hq=32, hkv=8, d=128, mode="causal_left", lens=(64, 512)),
    dict(name="b16 s2048 causal left", b=16, s=2048, hq=32, hkv=8, d=128, mode="causal_left", lens=(256, 2048)),
    dict(name="b4 s8192 causal left", b=4, s=8192, hq=32, hkv=8, d=128, mode="causal_left", lens=(4096, 8192)),
    dict(name="b64 s512 padded right d64 16/16", b=64, s=512, hq=16, hkv=16, d=64, mode="padded_right", lens=(64, 512)),
    dict(name="b16 s2048 padded right 32/32", b=16, s=2048, hq=32, hkv=32, d=128, mode="padded_right", lens=(256, 2048)),
    dict(name="b8 s4096 causal full", b=8, s=4096, hq=32, hkv=8, d=128, mode="causal_full", lens=None),
    # Extra cases: head_dim 256 and a right-padded causal batch.
    dict(name="b16 s2048 causal right d256", b=16, s=2048, hq=16, hkv=4, d=256, mode="causal_right", lens=(256, 2048)),
    dict(name="b32 s1024 padded left d64 GQA", b=32, s=1024, hq=32, hkv=8, d=64, mode="padded_left", lens=(64, 1024)),
    # Short and skewed batches (the embedding-server workload), head_dim 64 /
    # 256, and single long rows. "lognormal" lengths: exp(N(ln median, sigma)),
    # clipped to [1, s] (median 180, sigma 0.5: most rows 100-300).
    dict(name="b128 s1024 causal left lognormal", b=128, s=1024, hq=32, hkv=8, d=128, mode="causal_left",
         lens=("lognormal", 180, 0.5)),
    dict(name="b512 s128 padded right d64 12/12 f16 (BERT)", b=512, s=128, hq=12, hkv=12, d=64,
         mode="padded_right", lens=(16, 128), dtype="f16"),
    dict(name="b256 s256 padded right 32/8", b=256, s=256, hq=32, hkv=8, d=128, mode="padded_right",
         lens=(16, 256)),
    dict(name="b8 s4096 causal left d256 16/4", b=8, s=4096, hq=16, hkv=4, d=256, mode="causal_left",
         lens=(1024, 4096)),
    dict(name="b32 s1024 causal left d64 28/4 (GQA 7:1)", b=32, s=1024, hq=28, hkv=4, d=64, mode="causal_left",
         lens=(64, 1024)),
    dict(name="b1 s16384 causal 32/32", b=1, s=16384, hq=32, hkv=32, d=128, mode="causal_full", lens=None),
    dict(name="b1 s16384 bidirectional 32/32", b=1, s=16384, hq=32, hkv=32, d=128, mode="full", lens=None),
    # A small embedding model's shape (head_dim 32, 12 heads), a large batch of short sentences.
    dict(name="b1024 s128 padded right d32 12/12 f16 (MiniLM-like)", b=1024, s=128, hq=12, hkv=12, d=32,
         mode="padded_right", lens=(8, 128), dtype="f16"),
]
QUICK_CASES = [8, 9, 10, 11, 12, 13, 14]
ALL_PEERS = ("b2b", "upld", "dlen", "mma", "hopper", "hshort", "hshortw", "hpersist", "htall", "hnotma", "hwide", "general",
             "largep", "tall", "short", "single", "efficient", "cudnn", "flex", "flash-dense", "fa2", "cudnn-dense")
QUICK_PEERS = ("mma", "hopper", "general", "largep", "tall", "fa2", "cudnn-dense")

# The small models' head_dims (mma.sync kernels; the Hopper kernel has none of
# them, docs/architecture.md): a MiniLM / bge-small / e5-small embedding batch
# (head_dim 32, 12 heads) and causal decoder batches at head_dim 80 (Phi-2-like)
# and 96 (Phi-3-mini-like) with GQA 32/8. Run them alone with
# --cases 17,18,19 (--peers fa2,cudnn-dense for the FlashAttention-2 varlen rows).
HEAD_DIM_CASES = [
    dict(name="b256 s128 padded right d32 12/12 f16 (MiniLM-like)", b=256, s=128, hq=12, hkv=12, d=32,
         mode="padded_right", lens=(16, 128), dtype="f16"),
    dict(name="b32 s1024 causal left d80 32/8", b=32, s=1024, hq=32, hkv=8, d=80, mode="causal_left",
         lens=(64, 1024)),
    dict(name="b32 s1024 causal left d96 32/8", b=32, s=1024, hq=32, hkv=8, d=96, mode="causal_left",
         lens=(64, 1024)),
]
CASES += HEAD_DIM_CASES

MODES = {
    # mask mode, left padded, causal
    "causal_left": (pa.MaskMode.CAUSAL_PADDED_LEFT, True, True),
    "causal_right": (pa.MaskMode.CAUSAL_PADDED_RIGHT, False, True),
    "padded_right": (pa.MaskMode.PADDED, False, False),
    "padded_left": (pa.MaskMode.PADDED_LEFT, True, False),
    "causal_full": (pa.MaskMode.CAUSAL_PADDED_RIGHT, False, True),
    "full": (pa.MaskMode.PADDED, False, False),
}


def draw_lens(spec, b, s, gen):
    if spec[0] == "lognormal":
        _, median, sigma = spec
        x = torch.empty(b).log_normal_(math.log(median), sigma, generator=gen)
        return x.round().clamp(1, s).int().tolist()
    lo, hi = spec
    return torch.randint(lo, hi + 1, (b,), generator=gen).tolist()


class env_switch:
    """Context: some of the library's diagnostic switches set ("NAME" = 1, or "NAME=value")."""

    def __init__(self, *names):
        self.values = [n.split("=", 1) if "=" in n else (n, "1") for n in names]

    def __enter__(self):
        for name, value in self.values:
            os.environ[name] = value

    def __exit__(self, *exc):
        for name, _ in self.values:
            os.environ.pop(name, None)


def mma_sync_only():
    """The library keeps the mma.sync kernels (no Hopper kernel)."""
    return env_switch("PADDEDATTN_PREFILL_MMA_SYNC")


def hopper_always():
    """The library takes the Hopper kernel wherever it can run."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER")


def hopper_short():
    """The Hopper kernel everywhere, with its 64-row short-row tiles at head_dim 64 / 128."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER", "PADDEDATTN_PREFILL_HOPPER_SHORT=1")


def hopper_short_wide():
    """As hopper_short, with 128-key tiles at head_dim 64 and 48-key tiles at 128."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER", "PADDEDATTN_PREFILL_HOPPER_SHORT=2")


def hopper_wide():
    """The Hopper kernel everywhere, 128-row tiles, 176-key tiles at head_dim 128 without a causal mask."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER", "PADDEDATTN_PREFILL_HOPPER_SHORT=0", "PADDEDATTN_PREFILL_HOPPER_WIDE")


def hopper_persistent():
    """As hopper_short, the short-row tiles as a persistent grid."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER", "PADDEDATTN_PREFILL_HOPPER_SHORT=1",
                      "PADDEDATTN_PREFILL_HOPPER_PERSISTENT")


def hopper_tall():
    """The Hopper kernel everywhere, with its 128-row tiles only."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER", "PADDEDATTN_PREFILL_HOPPER_SHORT=0")


def hopper_tall_no_tma():
    """As hopper_tall, every KV tile loaded with cp.async (no tensor maps)."""
    return env_switch("PADDEDATTN_PREFILL_HOPPER", "PADDEDATTN_PREFILL_HOPPER_SHORT=0",
                      "PADDEDATTN_PREFILL_HOPPER_TMA=0")


def general_mma_sync():
    """The library keeps the mma.sync kernel with the variant code paths."""
    return env_switch("PADDEDATTN_PREFILL_MMA_SYNC", "PADDEDATTN_PREFILL_GENERAL")


def tall_tiles():
    """The plain kernel keeps 128-row tiles for short rows."""
    return env_switch("PADDEDATTN_PREFILL_TALL_TILES")


def short_tiles():
    """The plain kernel takes 64-row tiles wherever the head_dim has them."""
    return env_switch("PADDEDATTN_PREFILL_SHORT_TILES")


def single_stage():
    """The plain kernel keeps one K and one V buffer."""
    return env_switch("PADDEDATTN_PREFILL_SINGLE_STAGE")


def large_params():
    """Host lengths of 257-2048 rows travel in the 32 KB kernel parameters."""
    return env_switch("PADDEDATTN_PREFILL_LARGE_PARAMS")


def visible_pairs(lens, causal):
    total = 0
    for n in lens:
        total += n * (n + 1) // 2 if causal else n * n
    return total


def time_cuda_back_to_back(fn, warmup, runs, calls=10):
    """Median milliseconds per call of `calls` back-to-back calls between two
    events: host work of one call overlaps the GPU work of the previous one."""
    return median_event_ms(fn, warmup, max(runs // 3, 5), calls)


def host_us(fn, warmup, runs):
    """Median wall-clock microseconds of the call itself (host side), with the
    GPU idle before each call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        times.append((t1 - t0) * 1e6)
    return statistics.median(times)


class upload_lengths:
    """Context: the library sends host lengths through the device copy."""

    def __enter__(self):
        os.environ["PADDEDATTN_UPLOAD_LENGTHS"] = "1"

    def __exit__(self, *exc):
        os.environ.pop("PADDEDATTN_UPLOAD_LENGTHS", None)


def time_cuda(fn, warmup, runs):
    """Median milliseconds of `runs` calls, each between two CUDA events."""
    return median_event_ms(fn, warmup, runs)


class OursCall:
    """Builds pattn_prefill_params once so the timed call is one ctypes call."""

    def __init__(self, q, k, v, o, lse, mask_mode, lens, lens_on_device):
        self.keep = []
        p = pa.PrefillParams()
        p.struct_size = ctypes.sizeof(pa.PrefillParams)
        p.mask_mode = int(mask_mode)
        p.q, p.k, p.v, p.o = (pa.tensor_from_torch(x) for x in (q, k, v, o))
        p.lse = pa.tensor_from_torch(lse)
        p.q_valid_lens = pa.absent_tensor() if lens is None else self.lens_tensor(lens, lens_on_device, q.device)
        p.kv_valid_lens = pa.absent_tensor()
        p.softmax_scale = 0.0
        p.reserved = 0
        self.params = p
        self.fn = pa.lib().pattn_sequence_prefill
        self.on_cuda = q.device.type == "cuda"  # CPU tensors (bench_prefill_paged.py --self-test): stream 0

    def lens_tensor(self, lens, on_device, device):
        """An i32 length tensor for the parameters: a device copy, or host
        memory the call reads; either is kept alive with the parameters."""
        if on_device:
            t = torch.tensor(lens, dtype=torch.int32, device=device)
            self.keep.append(t)
            return pa.tensor_from_torch(t)
        host = (ctypes.c_int32 * len(lens))(*lens)
        self.keep.append(host)
        return pa.tensor_from_pointer(ctypes.addressof(host), [len(lens)], pa.DType.I32, pa.DeviceType.CPU)

    def __call__(self):
        stream = torch.cuda.current_stream().cuda_stream if self.on_cuda else 0
        status = self.fn(ctypes.byref(self.params), ctypes.c_void_p(stream))
        if status != 0:
            raise pa.PattnError(status, pa.last_error_message())


def real_ranges(lens, s, left):
    return [(s - n, s) if left else (0, n) for n in lens]


def bool_mask(lens, s, left, causal, device):
    """[B, 1, S, S] True where query row r may attend key column c."""
    idx = torch.arange(s, device=device)
    n = torch.tensor(lens, device=device).view(-1, 1)
    first = (s - n) if left else torch.zeros_like(n)
    real = (idx.view(1, -1) >= first) & (idx.view(1, -1) < first + n)  # [B, S]
    m = real[:, :, None] & real[:, None, :]
    if causal:
        # Same length for q and kv here, so bottom-right == the plain diagonal.
        m = m & (idx.view(1, -1, 1) >= idx.view(1, 1, -1))
    return m[:, None]


def make_flex(lens, s, left, causal, b, device):
    import torch._dynamo
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    n = torch.tensor(lens, device=device, dtype=torch.int32)
    first = (s - n) if left else torch.zeros_like(n)

    def mask_mod(bi, h, qi, ki):
        f = first[bi]
        ok = (qi >= f) & (qi < f + n[bi]) & (ki >= f) & (ki < f + n[bi])
        if causal:
            ok = ok & (ki <= qi)
        return ok

    block_mask = create_block_mask(mask_mod, b, None, s, s, device=device)
    # Every case is a new static shape, hence a recompile; past dynamo's
    # recompile limit (8) torch.compile falls back to running flex_attention eagerly
    # (scores materialised, 10-200x slower), which from the ninth case on made
    # a full run's Flex column meaningless. A fresh dynamo per case keeps it
    # compiled (compilation is in the warm-up, not timed).
    torch._dynamo.reset()
    compiled = torch.compile(flex_attention, dynamic=False)
    return compiled, block_mask


def row_rel_err(o, ref, rows_mask):
    """Per-row relative error over [B, S, H, D] restricted to rows_mask [B, S]."""
    diff = (o.float() - ref.float()).norm(dim=-1)
    den = ref.float().norm(dim=-1).clamp_min(1e-30)
    rel = (diff / den)[rows_mask]
    return rel.max().item() if rel.numel() else 0.0


def reference_lse(q, k, lens, s, left, causal, scale, hq, hkv):
    """float32 lse per (b, row, head) for real rows; -inf elsewhere."""
    out = torch.full(q.shape[:3], float("-inf"), device=q.device)
    g = hq // hkv
    for bi, n in enumerate(lens):
        if n == 0:
            continue
        f = s - n if left else 0
        future = torch.ones(n, n, device=q.device, dtype=torch.bool).triu(1) if causal else None
        for h0 in range(0, hq, 8):  # 8 heads at a time keeps the score matrix small
            qb = q[bi, f:f + n, h0:h0 + 8].float().transpose(0, 1)  # [h, n, D]
            kb = k[bi, f:f + n].float().transpose(0, 1).repeat_interleave(g, dim=0)[h0:h0 + 8]
            sc = torch.matmul(qb, kb.transpose(1, 2)) * scale
            if causal:
                sc.masked_fill_(future, float("-inf"))
            out[bi, f:f + n, h0:h0 + 8] = torch.logsumexp(sc, dim=-1).transpose(0, 1)
    return out


def dense_sdpa(qt, kt, vt, g, causal, backend):
    """SDPA on the dense [B, H, S, D] batch without a mask through `backend`:
    enable_gqa where the backend takes it, K/V expanded to the query heads
    otherwise. Returns the call (run it inside sdpa_kernel([backend]))."""
    from torch.nn.attention import sdpa_kernel
    import torch.nn.functional as F

    kk, vv, kwargs = kt, vt, {}
    with sdpa_kernel([backend]):
        try:
            F.scaled_dot_product_attention(qt[:1], kk[:1], vv[:1], is_causal=causal, enable_gqa=True)
            kwargs = dict(enable_gqa=True)
        except RuntimeError:
            kk = kt.repeat_interleave(g, dim=1)
            vv = vt.repeat_interleave(g, dim=1)

    def fn():
        return F.scaled_dot_product_attention(qt, kk, vv, is_causal=causal, **kwargs)
    return fn


def run_case(case, args, gen):
    dev = torch.device("cuda")
    b, s, hq, hkv, d = case["b"], case["s"], case["hq"], case["hkv"], case["d"]
    mask_mode, left, causal = MODES[case["mode"]]
    dtype = torch.float16 if case.get("dtype") == "f16" else torch.bfloat16
    peers = args.peer_set
    if case["lens"] is None:
        lens = [s] * b
        lens_arg = None
    else:
        lens = draw_lens(case["lens"], b, s, gen)
        lens_arg = lens
    q = torch.randn(b, s, hq, d, device=dev, dtype=dtype)
    k = torch.randn(b, s, hkv, d, device=dev, dtype=dtype)
    v = torch.randn(b, s, hkv, d, device=dev, dtype=dtype)
    o = torch.full((b, s, hq, d), float("nan"), device=dev, dtype=dtype)
    lse = torch.full((b, s, hq), float("nan"), device=dev, dtype=torch.float32)
    scale = 1.0 / math.sqrt(d)

    pairs = visible_pairs(lens, causal)
    flops = 4.0 * d * hq * pairs
    dense_pairs = b * (s * (s + 1) // 2 if causal else s * s)
    dense_flops = 4.0 * d * hq * dense_pairs
    ranges = real_ranges(lens, s, left)
    rows_real = torch.zeros(b, s, dtype=torch.bool, device=dev)
    for bi, (lo_r, hi_r) in enumerate(ranges):
        rows_real[bi, lo_r:hi_r] = True

    result = dict(case=case["name"], batch=b, seq=s, num_qo_heads=hq, num_kv_heads=hkv, head_dim=d,
                  dtype="f16" if dtype == torch.float16 else "bf16",
                  mode=case["mode"], lens_range=case["lens"], real_tflop=flops / 1e12,
                  dense_tflop=dense_flops / 1e12, peers={}, checks={})

    # ---- ours
    ours = OursCall(q, k, v, o, lse, mask_mode, lens_arg, lens_on_device=False)
    ms = time_cuda(ours, args.warmup, args.runs)
    result["peers"]["ours"] = dict(ms=ms, tflops=flops / ms / 1e9)
    result["host_us"] = dict(ours=host_us(ours, args.warmup, args.runs))
    # The same call under one tuning switch each (peer, switch, whether the
    # case has what the switch changes), timed in this order.
    switched = [
        ("mma", mma_sync_only, True),
        ("hopper", hopper_always, True),
        ("hshort", hopper_short, d in (64, 128)),
        ("hshortw", hopper_short_wide, d in (64, 128)),
        ("hpersist", hopper_persistent, d in (64, 128)),
        ("htall", hopper_tall, d in (64, 128)),
        ("hnotma", hopper_tall_no_tma, True),
        ("hwide", hopper_wide, d == 128 and not causal),
        ("general", general_mma_sync, True),
        ("largep", large_params, lens_arg is not None and b > 256),
        ("tall", tall_tiles, d <= 128),
        ("short", short_tiles, d <= 128),
        ("single", single_stage, True),
    ]
    for peer, switch, applies in switched:
        if peer in peers and applies:
            with switch():
                ms = time_cuda(ours, args.warmup, args.runs)
                result["peers"]["ours-" + peer] = dict(ms=ms, tflops=flops / ms / 1e9)
    if "b2b" in peers:
        ms = time_cuda_back_to_back(ours, args.warmup, args.runs)
        result["peers"]["ours-b2b"] = dict(ms=ms, tflops=flops / ms / 1e9)
    if "upld" in peers:
        with upload_lengths():
            ms = time_cuda(ours, args.warmup, args.runs)
            result["peers"]["ours-upld"] = dict(ms=ms, tflops=flops / ms / 1e9)
            result["host_us"]["ours-upld"] = host_us(ours, args.warmup, args.runs)
    if lens_arg is not None and "dlen" in peers:
        o_dev = torch.empty_like(o)
        ours_dev = OursCall(q, k, v, o_dev, lse.clone(), mask_mode, lens_arg, lens_on_device=True)
        ms = time_cuda(ours_dev, args.warmup, args.runs)
        result["peers"]["ours-dlen"] = dict(ms=ms, tflops=flops / ms / 1e9)

    # fresh poisoned outputs for the checks
    o.fill_(float("nan"))
    lse.fill_(float("nan"))
    ours()
    torch.cuda.synchronize()
    o_ours = o.clone()
    lse_ours = lse.clone()
    pad = ~rows_real
    checks = result["checks"]
    checks["padding_rows_zero"] = bool((o_ours[pad] == 0).all().item()) if pad.any() else True
    checks["padding_lse_neg_inf"] = bool(torch.isneginf(lse_ours[pad]).all().item()) if pad.any() else True
    checks["real_rows_finite"] = bool(torch.isfinite(o_ours[rows_real]).all().item())

    # NaN in every padding row of q, k and v must not change a real row.
    if pad.any():
        qn, kn, vn = q.clone(), k.clone(), v.clone()
        qn[pad] = float("nan")
        kn[pad] = float("inf")
        vn[pad] = float("nan")
        o2 = torch.full_like(o, float("nan"))
        lse2 = torch.full_like(lse, float("nan"))
        OursCall(qn, kn, vn, o2, lse2, mask_mode, lens_arg, lens_on_device=False)()
        torch.cuda.synchronize()
        checks["nan_padding_no_leak"] = bool(torch.equal(o2[rows_real], o_ours[rows_real]) and
                                             (o2[pad] == 0).all().item())
        del qn, kn, vn, o2, lse2
    # The uploaded-list path gives the same bits.
    o_up = torch.full_like(o, float("nan"))
    lse_up = torch.full_like(lse, float("nan"))
    with upload_lengths():
        OursCall(q, k, v, o_up, lse_up, mask_mode, lens_arg, lens_on_device=False)()
    torch.cuda.synchronize()
    checks["upload_path_equal"] = bool(torch.equal(o_up, o_ours) and torch.equal(lse_up, lse_ours))
    del o_up, lse_up
    if "mma" in peers:
        # The mma.sync kernel computes the same function (not the same bits).
        o_mma = torch.full_like(o, float("nan"))
        with mma_sync_only():
            OursCall(q, k, v, o_mma, torch.full_like(lse, float("nan")), mask_mode, lens_arg,
                     lens_on_device=False)()
        torch.cuda.synchronize()
        checks["max_row_rel_err_vs_mma_sync"] = row_rel_err(o_ours, o_mma, rows_real)
        checks["matches_mma_sync"] = checks["max_row_rel_err_vs_mma_sync"] < 1.6e-2
        del o_mma
    # Every switched peer but mma (checked above) against ours, also where
    # its switch changes nothing for this case.
    for peer, switch, _ in switched:
        if peer == "mma" or peer not in peers:
            continue
        o_alt = torch.full_like(o, float("nan"))
        with switch():
            OursCall(q, k, v, o_alt, torch.full_like(lse, float("nan")), mask_mode, lens_arg,
                     lens_on_device=False)()
        torch.cuda.synchronize()
        checks["max_row_rel_err_vs_" + peer] = row_rel_err(o_ours, o_alt, rows_real)
        checks["matches_" + peer] = checks["max_row_rel_err_vs_" + peer] < 1.6e-2
        checks[peer + "_real_rows_finite"] = bool(torch.isfinite(o_alt[rows_real]).all().item())
        checks[peer + "_padding_rows_zero"] = bool((o_alt[~rows_real] == 0).all().item()) if pad.any() else True
        del o_alt
    if lens_arg is not None and "dlen" in peers:
        o_dev.fill_(float("nan"))
        ours_dev()
        torch.cuda.synchronize()
        # With lengths in device memory the dispatch cannot see the longest
        # row, so it may pick the other kernel family (prefill_dispatch.cu):
        # then the results agree to bf16 rounding rather than bit for bit.
        checks["max_row_rel_err_device_lens"] = row_rel_err(o_dev, o_ours, rows_real)
        checks["device_lens_equal"] = bool(torch.equal(o_dev, o_ours)) or checks["max_row_rel_err_device_lens"] < 1.6e-2
        del o_dev

    if True:
        ref_lse = reference_lse(q, k, lens, s, left, causal, scale, hq, hkv)
        err = (lse_ours[rows_real] - ref_lse[rows_real]).abs().max().item()
        checks["lse_max_abs_err"] = err
        checks["lse_ok"] = err < 1e-2
        del ref_lse

    if args.no_peers:
        return result

    # ---- peers (BHSD layout)
    qt = q.transpose(1, 2).contiguous()
    kt = k.transpose(1, 2).contiguous()
    vt = v.transpose(1, 2).contiguous()
    g = hq // hkv
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    mask = None
    mask_error = "not needed"
    try:
        if peers & {"efficient", "cudnn"}:
            mask = bool_mask(lens, s, left, causal, dev)
    except RuntimeError as e:  # out of memory for a dense mask
        mask = None
        mask_error = str(e).splitlines()[0]

    def sdpa_peer(name, backend):
        if mask is None:
            result["peers"][name] = dict(na="dense boolean mask: " + mask_error)
            return None
        kk, vv = kt, vt
        kwargs = {}
        try:
            with sdpa_kernel([backend]):
                try:
                    F.scaled_dot_product_attention(qt[:1], kk[:1], vv[:1], attn_mask=mask[:1], enable_gqa=True)
                    kwargs = dict(enable_gqa=True)
                except RuntimeError:
                    kk = kt.repeat_interleave(g, dim=1)
                    vv = vt.repeat_interleave(g, dim=1)

                def fn():
                    return F.scaled_dot_product_attention(qt, kk, vv, attn_mask=mask, **kwargs)

                ms = time_cuda(fn, args.warmup, args.runs)
                out = fn()
            result["peers"][name] = dict(ms=ms, tflops=flops / ms / 1e9,
                                         note="enable_gqa" if kwargs else "K/V expanded to q heads")
            return out
        except Exception as e:  # noqa: BLE001 - a refusing peer is reported, not fatal
            result["peers"][name] = dict(na=(type(e).__name__ + ": " + str(e).splitlines()[0])[:200])
            return None

    # FlashAttention-2 varlen on the packed real tokens (packing not timed).
    if "fa2" in peers:
        try:
            qp, kp, vp = q[rows_real].contiguous(), k[rows_real].contiguous(), v[rows_real].contiguous()
            cu = torch.zeros(b + 1, dtype=torch.int32, device=dev)
            cu[1:] = torch.tensor(lens, dtype=torch.int32, device=dev).cumsum(0)
            max_len = max(lens)

            def fn():
                return torch.ops.aten._flash_attention_forward(qp, kp, vp, cu, cu, max_len, max_len, 0.0, causal,
                                                               False)[0]

            ms = time_cuda(fn, args.warmup, args.runs)
            result["peers"]["fa2"] = dict(ms=ms, tflops=flops / ms / 1e9)
            ref = torch.zeros_like(o)
            ref[rows_real] = fn()
            checks["max_row_rel_err_vs_fa2"] = row_rel_err(o_ours, ref, rows_real)
            checks["matches_fa2"] = checks["max_row_rel_err_vs_fa2"] < 1.6e-2
            del qp, kp, vp, ref
        except Exception as e:  # noqa: BLE001
            result["peers"]["fa2"] = dict(na=(type(e).__name__ + ": " + str(e).splitlines()[0])[:200])

    # SDPA cuDNN on the dense batch without a mask: the ceiling (dense work).
    if "cudnn-dense" in peers:
        try:
            fn = dense_sdpa(qt, kt, vt, g, causal, SDPBackend.CUDNN_ATTENTION)
            with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
                ms = time_cuda(fn, args.warmup, args.runs)
            result["peers"]["cudnn-dense"] = dict(ms=ms, tflops=dense_flops / ms / 1e9,
                                                  note="dense work, no mask")
        except Exception as e:  # noqa: BLE001
            result["peers"]["cudnn-dense"] = dict(na=(type(e).__name__ + ": " + str(e).splitlines()[0])[:200])

    out_eff = sdpa_peer("efficient", SDPBackend.EFFICIENT_ATTENTION) if "efficient" in peers else None
    if "cudnn" in peers:
        sdpa_peer("cudnn", SDPBackend.CUDNN_ATTENTION)

    if out_eff is not None:
        ref = out_eff.transpose(1, 2)
        err = row_rel_err(o_ours, ref, rows_real)
        checks["max_row_rel_err_vs_efficient"] = err
        checks["matches_efficient"] = err < 1.6e-2
        del ref, out_eff

    try:
        if "flex" not in peers:
            raise _Skipped()
        flex, block_mask = make_flex(lens, s, left, causal, b, dev)

        def fn():
            return flex(qt, kt, vt, block_mask=block_mask, enable_gqa=(g > 1))

        ms = time_cuda(fn, max(args.warmup, 3), args.runs)
        result["peers"]["flex"] = dict(ms=ms, tflops=flops / ms / 1e9)
        out_flex = fn().transpose(1, 2)
        checks["max_row_rel_err_vs_flex"] = row_rel_err(o_ours, out_flex, rows_real)
        del out_flex
    except _Skipped:
        pass
    except Exception as e:  # noqa: BLE001
        result["peers"]["flex"] = dict(na=(type(e).__name__ + ": " + str(e).splitlines()[0])[:200])

    try:
        if "flash-dense" not in peers:
            raise _Skipped()
        fn = dense_sdpa(qt, kt, vt, g, causal, SDPBackend.FLASH_ATTENTION)
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
            ms = time_cuda(fn, args.warmup, args.runs)
        result["peers"]["flash-dense"] = dict(ms=ms, tflops=flops / ms / 1e9, dense_tflops=dense_flops / ms / 1e9)
    except _Skipped:
        pass
    except Exception as e:  # noqa: BLE001
        result["peers"]["flash-dense"] = dict(na=(type(e).__name__ + ": " + str(e).splitlines()[0])[:200])

    del mask, qt, kt, vt, q, k, v, o, lse
    torch.cuda.empty_cache()
    return result


class _Skipped(Exception):
    """A peer left out by --peers / --quick."""


def fmt_peer(r, name):
    p = r["peers"].get(name)
    if p is None:
        return "-"
    if "na" in p:
        return "n/a"
    return "%.1f" % p["tflops"]


def print_table(results):
    cols = ["ours", "ours-mma", "ours-hopper", "ours-b2b", "ours-dlen", "ours-upld", "flex", "cudnn", "efficient"]
    print()
    print("TFLOP/s on real work (bf16 unless the case says f16); ms of ours; ours / peer")
    header = "| case | " + " | ".join(cols) + (" | flash dense (dense TFLOP/s) | ours ms | ours-upld ms | host us"
                                              " (ours / upld) | x flex | x cudnn | x efficient | checks |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        ours = r["peers"]["ours"]
        ratios = []
        for peer in ("flex", "cudnn", "efficient"):
            p = r["peers"].get(peer, {})
            ratios.append("%.2f" % (ours["tflops"] / p["tflops"]) if "tflops" in p else "n/a")
        fd = r["peers"].get("flash-dense", {})
        fd_s = "%.1f (%.1f)" % (fd["tflops"], fd["dense_tflops"]) if "tflops" in fd else "n/a"
        c = r["checks"]
        ok = all(v for k2, v in c.items() if isinstance(v, bool))
        up = r["peers"].get("ours-upld", {})
        hu = r.get("host_us", {})
        print("| %s | %s | %s | %.3f | %s | %s | %s | %s |" % (
            r["case"], " | ".join(fmt_peer(r, n) for n in cols), fd_s, ours["ms"],
            "%.3f" % up["ms"] if "ms" in up else "-",
            "%.0f / %.0f" % (hu.get("ours", float("nan")), hu.get("ours-upld", float("nan"))),
            " | ".join(ratios), "ok" if ok else "FAIL " + json.dumps(c)))
    print()
    print("Against FlashAttention-2 varlen and SDPA cuDNN dense (the ceiling: dense work, no mask)")
    print("| case | ours | ours-mma | ours-hopper | fa2 varlen | cudnn dense | ours ms | x ours-mma"
          " | x ours-hopper | x fa2 | frac cudnn dense |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ours = r["peers"]["ours"]

        def ratio(name, num="ours"):
            p = r["peers"].get(name, {})
            n = r["peers"].get(num, {})
            return "%.2f" % (n["tflops"] / p["tflops"]) if "tflops" in p and "tflops" in n else "-"
        print("| %s | %.1f | %s | %s | %s | %s | %.3f | %s | %s | %s | %s |" % (
            r["case"], ours["tflops"], fmt_peer(r, "ours-mma"), fmt_peer(r, "ours-hopper"), fmt_peer(r, "fa2"),
            fmt_peer(r, "cudnn-dense"), ours["ms"], ratio("ours-mma"), ratio("ours-hopper"), ratio("fa2"),
            ratio("cudnn-dense")))
    if any("ours-general" in r["peers"] or "ours-largep" in r["peers"] for r in results):
        print()
        print("A/B: plain against general mma.sync kernel; lengths copied against 32 KB parameters;"
              " 64-row against 128-row tiles")
        print("| case | ours-mma | ours-general | mma / general | ours | ours-largep | ours / largep | ours-tall"
              " | ours / tall |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results:
            def ratio2(num, den):
                n, d_ = r["peers"].get(num, {}), r["peers"].get(den, {})
                return "%.2f" % (n["tflops"] / d_["tflops"]) if "tflops" in n and "tflops" in d_ else "-"
            print("| %s | %s | %s | %s | %.1f | %s | %s | %s | %s |" % (
                r["case"], fmt_peer(r, "ours-mma"), fmt_peer(r, "ours-general"), ratio2("ours-mma", "ours-general"),
                r["peers"]["ours"]["tflops"], fmt_peer(r, "ours-largep"), ratio2("ours", "ours-largep"),
                fmt_peer(r, "ours-tall"), ratio2("ours", "ours-tall")))
    for r in results:
        for name, p in r["peers"].items():
            if "na" in p:
                print("  %s / %s: n/a: %s" % (r["case"], name, p["na"]))


# --------------------------------------------------------------------------
# Attention variants (--variants): sliding window and packed layout
# --------------------------------------------------------------------------

# Sliding window: one 16k-token causal row, window_left in WINDOWS (None =
# no window). Work is about s * w - w^2 / 2 visible pairs, so the time
# should follow it (time_ratio ~ work_ratio) rather than stay at the full row.
WINDOW_CASE = dict(name="b1 s16384 causal window", b=1, s=16384, hq=32, hkv=8, d=128)
WINDOWS = [None, 8192, 4096, 2048, 1024]
# Packed vs padded on the same real tokens (the padded cases' shapes).
PACKED_CASES = [
    dict(name="b16 s2048 causal packed", b=16, s=2048, hq=32, hkv=8, d=128, causal=True, lens=(256, 2048)),
    dict(name="b64 s512 causal packed", b=64, s=512, hq=32, hkv=8, d=128, causal=True, lens=(64, 512)),
    dict(name="b16 s2048 bidir packed 32/32", b=16, s=2048, hq=32, hkv=32, d=128, causal=False, lens=(256, 2048)),
    dict(name="b64 s512 bidir packed d64", b=64, s=512, hq=16, hkv=16, d=64, causal=False, lens=(64, 512)),
    # The short-row cases furthest from FA2 varlen in the padded layout, whose
    # zero padding rows are a large share of the bytes (docs/performance.md,
    # "Short rows: what the bytes allow"): packed, they write none.
    dict(name="b128 s1024 causal packed lognormal", b=128, s=1024, hq=32, hkv=8, d=128, causal=True,
         lens=("lognormal", 180, 0.5)),
    dict(name="b256 s256 bidir packed 32/8", b=256, s=256, hq=32, hkv=8, d=128, causal=False, lens=(16, 256)),
    dict(name="b512 s128 bidir packed d64 12/12 (BERT)", b=512, s=128, hq=12, hkv=12, d=64, causal=False,
         lens=(16, 128)),
]


class VariantCall(OursCall):
    """OursCall with a window, a soft cap or cu_seqlens (host offsets)."""

    def __init__(self, q, k, v, o, lse, mask_mode, lens=None, window=None, soft_cap=0.0, cu_seqlens=None):
        super().__init__(q, k, v, o, lse, mask_mode, lens, lens_on_device=False)
        p = self.params
        p.cu_seqlens_q = pa.absent_tensor()
        p.cu_seqlens_kv = pa.absent_tensor()
        if cu_seqlens is not None:
            host = (ctypes.c_int32 * len(cu_seqlens))(*cu_seqlens)
            self.keep.append(host)
            p.cu_seqlens_q = pa.tensor_from_pointer(ctypes.addressof(host), [len(cu_seqlens)], pa.DType.I32,
                                                    pa.DeviceType.CPU)
        p.window_enabled = 0 if window is None else 1
        p.window_left, p.window_right = (0, 0) if window is None else window
        p.logits_soft_cap = float(soft_cap)


def fa2_varlen(q, k, v, cu, max_len, causal, window_left=None):
    """FlashAttention-2 varlen (PyTorch's bundled kernel) on packed [total, heads, d]."""
    kwargs = {}
    if window_left is not None:
        kwargs = dict(window_size_left=window_left, window_size_right=0 if causal else -1)
    return torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, max_len, max_len, 0.0, causal, False,
                                                   **kwargs)[0]


def run_window_suite(args):
    c = WINDOW_CASE
    dev = torch.device("cuda")
    s, hq, hkv, d = c["s"], c["hq"], c["hkv"], c["d"]
    q = torch.randn(1, s, hq, d, device=dev, dtype=torch.bfloat16)
    k = torch.randn(1, s, hkv, d, device=dev, dtype=torch.bfloat16)
    v = torch.randn(1, s, hkv, d, device=dev, dtype=torch.bfloat16)
    o = torch.empty_like(q)
    lse = torch.empty(1, s, hq, device=dev)
    cu = torch.tensor([0, s], dtype=torch.int32, device=dev)
    rows = []
    base = None
    for w in WINDOWS:
        pairs = s * (s + 1) // 2 if w is None else sum(min(i, w) + 1 for i in range(s))
        call = VariantCall(q, k, v, o, lse, pa.MaskMode.CAUSAL_PADDED_RIGHT,
                           window=None if w is None else (w, -1))
        ms = time_cuda(call, args.warmup, args.runs)
        row = dict(case=c["name"], window=w, ms=ms, pairs=pairs, tflops=4.0 * d * hq * pairs / ms / 1e9)
        if base is None:
            base = row
        row["time_ratio"] = ms / base["ms"]
        row["work_ratio"] = pairs / base["pairs"]
        try:
            fms = time_cuda(lambda: fa2_varlen(q[0], k[0], v[0], cu, s, True, w), args.warmup, args.runs)
            row["fa2_ms"] = fms
            ref = fa2_varlen(q[0], k[0], v[0], cu, s, True, w)
            call()
            torch.cuda.synchronize()
            row["max_row_rel_err_vs_fa2"] = row_rel_err(o, ref.unsqueeze(0), torch.ones(1, s, dtype=torch.bool,
                                                                                       device=dev))
        except Exception as e:  # noqa: BLE001
            row["fa2_ms"] = "n/a: " + (type(e).__name__ + ": " + str(e).splitlines()[0])[:120]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n%-26s %8s %10s %10s %10s %10s" % ("sliding window", "window", "ms", "time/full", "work/full", "fa2 ms"))
    for r in rows:
        fa2 = r["fa2_ms"] if isinstance(r["fa2_ms"], str) else "%.3f" % r["fa2_ms"]
        print("%-26s %8s %10.3f %10.3f %10.3f %10s" % (r["case"], r["window"] or "-", r["ms"], r["time_ratio"],
                                                      r["work_ratio"], fa2))
    return rows


def run_packed_suite(args, gen):
    dev = torch.device("cuda")
    rows = []
    for c in PACKED_CASES:
        b, s, hq, hkv, d, causal = c["b"], c["s"], c["hq"], c["hkv"], c["d"], c["causal"]
        lens = draw_lens(c["lens"], b, s, gen)
        mode = pa.MaskMode.CAUSAL_PADDED_RIGHT if causal else pa.MaskMode.PADDED
        q = torch.randn(b, s, hq, d, device=dev, dtype=torch.bfloat16)
        k = torch.randn(b, s, hkv, d, device=dev, dtype=torch.bfloat16)
        v = torch.randn(b, s, hkv, d, device=dev, dtype=torch.bfloat16)
        rows_real = torch.zeros(b, s, dtype=torch.bool, device=dev)
        for bi, n in enumerate(lens):
            rows_real[bi, :n] = True
        # Packed copies of the real tokens, with 7 NaN tokens after them.
        tail = 7
        qp = torch.cat([q[rows_real], torch.full((tail, hq, d), float("nan"), device=dev, dtype=q.dtype)])
        kp = torch.cat([k[rows_real], torch.full((tail, hkv, d), float("nan"), device=dev, dtype=k.dtype)])
        vp = torch.cat([v[rows_real], torch.full((tail, hkv, d), float("nan"), device=dev, dtype=v.dtype)])
        cu = [0]
        for n in lens:
            cu.append(cu[-1] + n)
        o_pad = torch.full_like(q, float("nan"))
        lse_pad = torch.full((b, s, hq), float("nan"), device=dev)
        o_pk = torch.full_like(qp, float("nan"))
        lse_pk = torch.full((qp.shape[0], hq), float("nan"), device=dev)
        padded = VariantCall(q, k, v, o_pad, lse_pad, mode, lens=lens)
        packed = VariantCall(qp, kp, vp, o_pk, lse_pk, mode, cu_seqlens=cu)
        pairs = visible_pairs(lens, causal)
        flops = 4.0 * d * hq * pairs
        row = dict(case=c["name"], padded_ms=time_cuda(padded, args.warmup, args.runs),
                   packed_ms=time_cuda(packed, args.warmup, args.runs))
        cu_dev = torch.tensor(cu, dtype=torch.int32, device=dev)
        try:
            row["fa2_ms"] = time_cuda(lambda: fa2_varlen(qp, kp, vp, cu_dev, max(lens), causal), args.warmup,
                                      args.runs)
        except Exception as e:  # noqa: BLE001
            row["fa2_ms"] = None
            row["fa2_na"] = (type(e).__name__ + ": " + str(e).splitlines()[0])[:160]
        # The packed call on each prefill kernel family (A/B of the dispatch's choice).
        for name, switch in (("mma", mma_sync_only), ("hopper_tall", hopper_tall), ("hopper_short", hopper_short),
                             ("hopper_short_wide", hopper_short_wide)):
            if name == "mma" or d in (64, 128):
                with switch():
                    row["packed_%s_ms" % name] = time_cuda(packed, args.warmup, args.runs)
        row["packed_tflops"] = flops / row["packed_ms"] / 1e9
        row["packed_over_padded"] = row["padded_ms"] / row["packed_ms"]
        row["packed_over_fa2"] = row["fa2_ms"] / row["packed_ms"] if row["fa2_ms"] else None
        # Checks: the same real rows as the padded call, and nothing written
        # past the sequences. Bit for bit when both run the same kernel
        # family; where the dispatch picks different ones for the two
        # (prefill_dispatch.cu: the padded length vs the longest sequence)
        # they agree to bf16 rounding.
        padded()
        packed()
        torch.cuda.synchronize()
        total = cu[-1]
        row["max_row_rel_err_packed_vs_padded"] = row_rel_err(o_pk[:total].unsqueeze(0), o_pad[rows_real].unsqueeze(0),
                                                              torch.ones(1, total, dtype=torch.bool, device=o_pk.device))
        row["packed_equals_padded"] = bool(torch.equal(o_pk[:total], o_pad[rows_real])) \
            or row["max_row_rel_err_packed_vs_padded"] < 1.6e-2
        row["lse_equal"] = bool(torch.equal(lse_pk[:total], lse_pad[rows_real])) \
            or bool(((lse_pk[:total] - lse_pad[rows_real]).abs() <= 1e-3 * lse_pad[rows_real].abs().clamp_min(1.0)).all().item())
        row["tail_untouched"] = bool(torch.isnan(o_pk[total:]).all().item())
        rows.append(row)
        print(json.dumps(row), flush=True)
        del q, k, v, qp, kp, vp, o_pad, o_pk
        torch.cuda.empty_cache()
    print("\n%-30s %10s %10s %10s %12s %10s" % ("packed vs padded", "padded ms", "packed ms", "fa2 ms",
                                                 "pk/padded", "pk/fa2"))
    for r in rows:
        print("%-30s %10.3f %10.3f %10s %12.3f %10s" % (
            r["case"], r["padded_ms"], r["packed_ms"], "n/a" if r["fa2_ms"] is None else "%.3f" % r["fa2_ms"],
            r["packed_over_padded"], "n/a" if r["packed_over_fa2"] is None else "%.2fx" % r["packed_over_fa2"]))
    return rows


def run_variants(args, gen):
    blob = dict(gpu=torch.cuda.get_device_name(0), torch=torch.__version__, library=pa.version_string(),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                window=run_window_suite(args), packed=run_packed_suite(args, gen))
    text = json.dumps(blob, indent=1)
    for path in ([args.json] if args.json else []) + (
            [os.path.join(os.environ["OUT"], "bench_prefill_variants.json")] if os.environ.get("OUT") else []):
        with open(path, "w") as f:
            f.write(text)
    bad = [r["case"] for r in blob["packed"]
           if not (r["packed_equals_padded"] and r["lse_equal"] and r["tail_untouched"])]
    if bad:
        print("CHECKS FAILED: " + ", ".join(bad))
        return 1
    return 0


def main():
    if "--paged" in sys.argv[1:]:  # paged prefill after a cached prefix: bench_prefill_paged.py
        import bench_prefill_paged
        return bench_prefill_paged.main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", help="path of libpaddedattn.so (default: $PADDEDATTN_NATIVE_LIB, then the usual places)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cases", help="comma-separated case indices (default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="the new case families only, peers ours-mma, fa2, cudnn-dense, 10 runs")
    ap.add_argument("--peers", help="comma-separated peers to run (default: all): " + ",".join(ALL_PEERS))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--no-peers", action="store_true", help="time and check ours only")
    ap.add_argument("--only-ours", action="store_true", help="run ours once per case and nothing else (for profilers)")
    ap.add_argument("--variants", action="store_true",
                    help="only the attention-variant cases: sliding window on a 16k row, packed vs padded vs FA2 varlen")
    args = ap.parse_args()

    pa.load_library(args.lib)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    if args.variants:
        return run_variants(args, gen)
    if args.quick and args.runs == ap.get_default("runs"):
        args.runs = 10
    args.peer_set = set(args.peers.split(",")) if args.peers else set(QUICK_PEERS if args.quick else ALL_PEERS)
    unknown = args.peer_set - set(ALL_PEERS)
    if unknown:
        ap.error("unknown peers: " + ",".join(sorted(unknown)))
    if args.cases:
        cases = [CASES[int(i)] for i in args.cases.split(",")]
    else:
        cases = [CASES[i] for i in QUICK_CASES] if args.quick else CASES
    results = []
    if args.only_ours:
        for case in cases:
            mask_mode, _, _ = MODES[case["mode"]]
            b, s = case["b"], case["s"]
            dt = torch.float16 if case.get("dtype") == "f16" else torch.bfloat16
            q = torch.randn(b, s, case["hq"], case["d"], device="cuda", dtype=dt)
            k = torch.randn(b, s, case["hkv"], case["d"], device="cuda", dtype=dt)
            v = torch.randn_like(k)
            lens = None if case["lens"] is None else draw_lens(case["lens"], b, s, gen)
            o = torch.empty_like(q)
            lse = torch.empty(b, s, case["hq"], device="cuda")
            OursCall(q, k, v, o, lse, mask_mode, lens, lens_on_device=False)()
            torch.cuda.synchronize()
        return 0
    for case in cases:
        t0 = time.time()
        r = run_case(case, args, gen)
        torch.cuda.empty_cache()
        r["wall_s"] = time.time() - t0
        results.append(r)
        print(json.dumps(r), flush=True)
    print_table(results)
    blob = dict(gpu=torch.cuda.get_device_name(0), torch=torch.__version__,
                library=pa.version_string(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                results=results)
    text = json.dumps(blob, indent=1)
    print("\nJSON")
    print(text)
    out_paths = []
    if args.json:
        out_paths.append(args.json)
    if os.environ.get("OUT"):
        out_paths.append(os.path.join(os.environ["OUT"], "bench_prefill.json"))
    for path in out_paths:
        with open(path, "w") as f:
            f.write(text)
    return report_failed_checks(results)


if __name__ == "__main__":
    sys.exit(main())
