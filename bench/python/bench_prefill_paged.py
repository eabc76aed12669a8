#!/usr/bin/env python3
"""Paged prefill after a cached prefix: PaddedAttention paged against contiguous and FA2 varlen.

The serving step "prefill of new tokens after a cached prefix": row b has
prefix[b] keys already in the cache and new[b] new tokens whose queries are
computed now (their keys already appended to the cache), causal, bottom-right
aligned (new query i sees the prefix and the new keys up to its own), bf16,
head_dim 128, 32 query / 8 KV heads unless noted. For each case this times,
with CUDA events after warm-up (median of --runs calls, host work included,
lengths in host memory unless noted):
  paged16, paged64  ours, pattn_sequence_prefill with page_table: k/v pages
                    [num_pages, page_size, kv_heads, d] from one pool in a
                    random order (the pages of a row are not contiguous),
                    unused pages and the slots past a row's end NaN,
                    page_table [batch, max_pages_per_row] i32 on the device
                    (-1 past the entries a row reads)
  paged16-dlen      paged16 with q_valid_lens / kv_valid_lens on the device
                    (the CUDA-graph capturable call of a serving loop)
  contig            ours on the same keys in a right-padded [batch, kv_len]
                    cache (q_valid_lens = new, kv_valid_lens = prefix + new;
                    NaN in the padding); the library's default kernel (the
                    Hopper kernel on an H200 where rows reach 1024 keys)
  contig-mma        contig with PADDEDATTN_PREFILL_MMA_SYNC=1: the mma.sync
                    kernel, which is what a paged call always runs, so
                    paged / contig-mma is the cost of the page table alone
  fa2               FlashAttention-2 varlen (torch.ops.aten._flash_attention_forward)
                    on the packed real tokens: cu_seqlens_q over the new
                    tokens, cu_seqlens_k over prefix + new (FA2 aligns causal
                    bottom-right when seqlen_q != seqlen_k); packing not timed.
                    FA2 with a block table is not in aten and is not run.
One case has rows sharing the pages of a common prefix (page_table entries
repeated across rows; a prefix page that new keys would share is not shared).

TFLOP/s count real work only: 4 * head_dim * num_qo_heads * (visible (query,
key) pairs), sum over rows of qv * (kv - qv) + qv * (qv + 1) / 2.
Checks (each case; a failed check makes the exit status 1): every real
output row finite (NaN in unused pages / tail slots / padding never leaks),
padding query rows o = 0 and lse = -inf, paged equal to contig (per-row
relative error, bf16 tolerance; lse within 1e-2), paged equal to FA2,
paged equal to a float64 reference on sampled rows (first and last row,
first and last queries, the heads of the first and last KV head).

  PYTHONPATH=bindings/python PADDEDATTN_NATIVE_LIB=build/libpaddedattn.so \\
      python3 bench/python/bench_prefill_paged.py [--json out.json] [--cases 0,3] [--runs 20]
  python3 bench/python/bench_prefill_paged.py --self-test   # case construction only, no torch, no GPU
  ... --smoke --device cpu --dtype f32                      # tiny cases through the CPU backend
bench/run_prefill_paged.sh builds the library and runs it. bench_prefill.py
--paged forwards here.
"""
import argparse
import json
import math
import os
import random
import statistics
import sys
import time
import traceback

from bench_common import report_failed_checks

# torch and paddedattn are imported where the cases run (run_case, main), so
# that the case construction below runs without them (--self-test).

CASES = [
    # name, batch, prefix keys per row, new tokens per row (int, or (lo, hi)
    # uniform inclusive: the first row gets lo, the second hi), q heads, kv
    # heads, head_dim; shared: keys of a common prefix whose full pages
    # every row shares (rows' prefixes start with the same keys).
    dict(name="b8 prefix 4096 + 512 new", b=8, prefix=4096, new=512, hq=32, hkv=8, d=128),
    dict(name="b32 prefix 1024 + 128 new", b=32, prefix=1024, new=128, hq=32, hkv=8, d=128),
    dict(name="b4 prefix 16384 + 2048 new", b=4, prefix=16384, new=2048, hq=32, hkv=8, d=128),
    dict(name="b64 prefix 2048 + 1..64 new (mixed)", b=64, prefix=2048, new=(1, 64), hq=32, hkv=8, d=128),
    dict(name="b16 shared prefix 4000 + 256 new", b=16, prefix=4000, new=256, hq=32, hkv=8, d=128, shared=4000),
    dict(name="b16 prefix 256..8192 + 1..512 new (mixed)", b=16, prefix=(256, 8192), new=(1, 512), hq=32, hkv=8,
         d=128),
]
# Tiny cases (odd lengths, GQA 2 and 3, shared prefixes, one new token): a
# quick run of every code path, on the CPU backend too (--smoke).
SMOKE_CASES = [
    dict(name="smoke b3 prefix 37..70 + 1..9 new GQA 2", b=3, prefix=(37, 70), new=(1, 9), hq=4, hkv=2, d=64),
    dict(name="smoke b4 shared prefix 45 + 3..17 new GQA 3", b=4, prefix=(45, 80), new=(3, 17), hq=6, hkv=2, d=128,
         shared=45),
    dict(name="smoke b2 prefix 0 + 33 new (plain causal)", b=2, prefix=0, new=33, hq=4, hkv=4, d=64),
]
PAGE_SIZES = (16, 64)
ALL_PEERS = ("paged", "dlen", "contig", "contig-mma", "fa2")
TOLERANCE = 1.6e-2  # per-row relative error between two bf16 results (bench_prefill.py uses the same)
LSE_TOLERANCE = 1e-2


# --------------------------------------------------------------------------
# Case construction (pure Python)
# --------------------------------------------------------------------------


def draw(spec, n, rng):
    """n values of spec: an int, or (lo, hi) uniform inclusive with the first
    value lo and the second hi (so the extremes are always there)."""
    if isinstance(spec, int):
        return [spec] * n
    lo, hi = spec
    out = [rng.randint(lo, hi) for _ in range(n)]
    if n >= 1:
        out[0] = lo
    if n >= 2:
        out[1] = hi
    return out


def draw_rows(case, seed):
    """(prefix, new) per row, deterministic in (seed, case name)."""
    rng = random.Random("%d:%s" % (seed, case["name"]))
    prefix = draw(case["prefix"], case["b"], rng)
    new = draw(case["new"], case["b"], rng)
    shared = case.get("shared", 0)
    if shared > min(prefix):
        raise ValueError("%s: shared prefix %d is longer than the shortest prefix %d" % (case["name"], shared,
                                                                                      min(prefix)))
    return prefix, new


class PageLayout:
    """Where each row's keys live in one page pool.

    table[b]: max_pages entries, the first ceil(kv[b] / page_size) are row
    b's pages in order (physical ids, a random permutation of the logical
    ones), the rest -1. The first `shared_pages` entries are the same in
    every row (the full pages of the common prefix); every other used page
    belongs to one row. `spare` pages belong to no row."""

    def __init__(self, kv, page_size, shared_keys, rng, spare=None):
        if page_size < 1:
            raise ValueError("page_size %d < 1" % page_size)
        self.kv = list(kv)
        self.page_size = ps = page_size
        self.need = [(k + ps - 1) // ps for k in self.kv]
        self.shared_pages = shared_keys // ps
        own = [n - self.shared_pages for n in self.need]
        if min(own, default=0) < 0:
            raise ValueError("a row has fewer keys than the shared prefix")
        used = self.shared_pages + sum(own)
        self.num_spare = max(3, used // 16) if spare is None else spare
        self.num_pages = used + self.num_spare
        self.max_pages = max(max(self.need, default=0), 1)
        perm = list(range(self.num_pages))
        rng.shuffle(perm)
        self.table = []
        nxt = self.shared_pages
        for b, n in enumerate(self.need):
            row = [perm[e] for e in range(self.shared_pages)]
            row += [perm[nxt + e] for e in range(own[b])]
            nxt += own[b]
            self.table.append(row + [-1] * (self.max_pages - n))
        self.spare_pages = sorted(perm[used:])

    def slot_index(self):
        """Flat slot (page * page_size + slot) of every real key, rows in
        order, keys in order: the row-major order of cache[kv_real]."""
        ps = self.page_size
        out = []
        for b, k in enumerate(self.kv):
            t = self.table[b]
            out.extend(t[j // ps] * ps + j % ps for j in range(k))
        return out

    def scattered_rows(self):
        """Rows (with 2 pages or more) whose pages are not one ascending run."""
        n = 0
        for b, need in enumerate(self.need):
            t = self.table[b][:need]
            if need >= 2 and any(t[e + 1] != t[e] + 1 for e in range(need - 1)):
                n += 1
        return n

    def summary(self):
        return dict(page_size=self.page_size, num_pages=self.num_pages, max_pages_per_row=self.max_pages,
                    shared_pages=self.shared_pages, spare_pages=self.num_spare,
                    scattered_rows=self.scattered_rows(), rows_with_2_pages=sum(1 for n in self.need if n >= 2))


def validate_layout(layout, shared_keys):
    """The layout's invariants; returns a list of problems (empty: valid)."""
    bad = []
    ps, w = layout.page_size, layout.max_pages
    if not 1 <= ps <= 256:
        bad.append("page_size %d outside [1, 256]" % ps)
    owner = {}
    for b, (k, need) in enumerate(zip(layout.kv, layout.need)):
        t = layout.table[b]
        if len(t) != w:
            bad.append("row %d: %d entries, expected %d" % (b, len(t), w))
            continue
        if k > w * ps:
            bad.append("row %d: %d keys > max_pages_per_row * page_size = %d" % (b, k, w * ps))
        used = t[:need]
        if any(not 0 <= p < layout.num_pages for p in used):
            bad.append("row %d: page outside [0, %d)" % (b, layout.num_pages))
        if len(set(used)) != len(used):
            bad.append("row %d: a page repeated" % b)
        if any(p != -1 for p in t[need:]):
            bad.append("row %d: entries past ceil(kv / page_size) are not -1" % b)
        for e, p in enumerate(used):
            owner.setdefault(p, set()).add((b, e) if e >= layout.shared_pages else ("shared", e))
    if shared_keys // ps != layout.shared_pages:
        bad.append("shared pages %d, expected %d" % (layout.shared_pages, shared_keys // ps))
    for e in range(layout.shared_pages):
        if len({layout.table[b][e] for b in range(len(layout.kv))}) != 1:
            bad.append("shared page %d differs between rows" % e)
    for p, who in owner.items():
        if len(who) != 1:
            bad.append("page %d used by %s" % (p, sorted(map(str, who))))
    if set(layout.spare_pages) & set(owner):
        bad.append("a spare page is used by a row")
    if len(owner) + len(layout.spare_pages) != layout.num_pages:
        bad.append("pages used %d + spare %d != num_pages %d" % (len(owner), len(layout.spare_pages),
                                                                layout.num_pages))
    rows2 = sum(1 for n in layout.need if n >= 2)
    if rows2 and layout.scattered_rows() == 0:
        bad.append("no row has scattered pages")
    return bad


def visible_pairs(q_lens, kv_lens):
    """Causal bottom-right visible (query, key) pairs: query i of a row with
    qv queries and kv keys sees keys j <= i + kv - qv."""
    total = 0
    for qv, kv in zip(q_lens, kv_lens):
        if kv >= qv:
            total += qv * (kv - qv) + qv * (qv + 1) // 2
        else:  # the first qv - kv queries see nothing
            total += kv * (kv + 1) // 2
    return total


def cu_seqlens(lens):
    out = [0]
    for n in lens:
        out.append(out[-1] + n)
    return out


def case_shapes(case, prefix, new, layout):
    """The shapes of one paged call, checked against the library's rules
    before anything is allocated: (dict of shapes, list of problems)."""
    b, hq, hkv, d = case["b"], case["hq"], case["hkv"], case["d"]
    kv = [p + n for p, n in zip(prefix, new)]
    shapes = dict(q=[b, max(new), hq, d], k_pages=[layout.num_pages, layout.page_size, hkv, d],
                  k_contig=[b, max(kv), hkv, d], page_table=[b, layout.max_pages], q_valid_lens=[b],
                  kv_valid_lens=[b])
    bad = []
    if hq % hkv:
        bad.append("num_qo_heads %d is not a multiple of num_kv_heads %d" % (hq, hkv))
    if len(prefix) != b or len(new) != b:
        bad.append("lengths of %d / %d rows for batch %d" % (len(prefix), len(new), b))
    if min(new) < 1:
        bad.append("a row without new tokens (FA2 varlen is not timed on empty rows here)")
    if any(k > layout.max_pages * layout.page_size for k in kv):
        bad.append("a row has more keys than max_pages_per_row * page_size")
    if layout.kv != kv:
        bad.append("layout built for other lengths")
    return shapes, bad


def bytes_needed(case, prefix, new, page_sizes, elem=2):
    """Rough device bytes of one case (q, o, contiguous and paged K/V, packed copies)."""
    b, hq, hkv, d = case["b"], case["hq"], case["hkv"], case["d"]
    kv = [p + n for p, n in zip(prefix, new)]
    q = b * max(new) * hq * d * elem
    kc = b * max(kv) * hkv * d * elem
    pages = sum(sum(kv) * 1.1 + len(kv) * ps for ps in page_sizes) * hkv * d * elem
    return int(4 * q + 2 * kc + 2 * pages + 2 * sum(kv) * hkv * d * elem)


def self_test():
    """The case construction without torch: layouts valid for every case and
    page size, a gather through the table returning every row's own keys in
    order (shared prefix keys from the shared pages), nothing written to
    spare pages, the pair count against a brute-force count."""
    problems = []
    checked = 0
    for case in CASES + SMOKE_CASES:
        prefix, new = draw_rows(case, 1234)
        kv = [p + n for p, n in zip(prefix, new)]
        shared = case.get("shared", 0)
        for ps in (1, 7) + PAGE_SIZES + (256,):
            rng = random.Random(ps)
            layout = PageLayout(kv, ps, shared, rng)
            bad = validate_layout(layout, shared)
            _, bad_shapes = case_shapes(case, prefix, new, layout)
            bad += bad_shapes
            # Symbolic keys: (row, j), the shared prefix ("s", j).
            pool = [None] * (layout.num_pages * ps)
            keys = [("s", j) if j < shared else (b, j) for b, k in enumerate(kv) for j in range(k)]
            idx = layout.slot_index()
            if len(idx) != len(keys):
                bad.append("slot_index has %d entries for %d keys" % (len(idx), len(keys)))
            for i, key in zip(idx, keys):
                if pool[i] is not None and pool[i] != key:
                    bad.append("slot %d written with %s and %s" % (i, pool[i], key))
                    break
                pool[i] = key
            for b, k in enumerate(kv):
                t = layout.table[b]
                got = [pool[t[j // ps] * ps + j % ps] for j in range(k)]
                # Shared keys past the last full shared page sit on the row's own page (copies).
                want = [("s", j) if j < shared else (b, j) for j in range(k)]
                if got != want:
                    bad.append("row %d reads other keys through its table" % b)
            for p in layout.spare_pages:
                if any(x is not None for x in pool[p * ps:(p + 1) * ps]):
                    bad.append("spare page %d written" % p)
            shared_slots = layout.shared_pages * ps
            if len(set(idx)) != shared_slots + sum(k - shared_slots for k in kv):
                bad.append("%d distinct slots, expected %d" % (len(set(idx)), shared_slots + sum(kv) -
                                                                len(kv) * shared_slots))
            if bad:
                problems.append("%s, page %d: %s" % (case["name"], ps, "; ".join(bad[:4])))
            checked += 1
    rng = random.Random(5)
    for _ in range(200):
        qv, kv = rng.randint(0, 40), rng.randint(0, 60)
        brute = sum(1 for i in range(qv) for j in range(kv) if j <= i + kv - qv)
        if visible_pairs([qv], [kv]) != brute:
            problems.append("visible_pairs(%d, %d) = %d, brute force %d" % (qv, kv, visible_pairs([qv], [kv]),
                                                                          brute))
    if cu_seqlens([3, 0, 5]) != [0, 3, 3, 8]:
        problems.append("cu_seqlens")
    for p in problems:
        print("FAIL " + p)
    print("self-test: %d layouts checked, %d problems" % (checked, len(problems)))
    return 1 if problems else 0


def describe_cases(cases, seed, page_sizes):
    for i, case in enumerate(cases):
        prefix, new = draw_rows(case, seed)
        kv = [p + n for p, n in zip(prefix, new)]
        print("%d: %s: new %d..%d (sum %d), keys %d..%d, pairs %.3g, ~%.2f GB" % (
            i, case["name"], min(new), max(new), sum(new), min(kv), max(kv), visible_pairs(new, kv),
            bytes_needed(case, prefix, new, page_sizes) / 1e9))
        for ps in page_sizes:
            layout = PageLayout(kv, ps, case.get("shared", 0), random.Random(ps))
            print("    %s" % json.dumps(layout.summary()))


# --------------------------------------------------------------------------
# Running a case (torch, the library)
# --------------------------------------------------------------------------


def short_error(e):
    return (type(e).__name__ + ": " + (str(e).splitlines() or [""])[0])[:200]


def make_call_class():
    """PagedCall on bench_prefill.OursCall (the parameters built once, so a
    timed call is one ctypes call), with kv_valid_lens and page_table."""
    import paddedattn as pa
    from bench_prefill import OursCall

    class PagedCall(OursCall):
        def __init__(self, q, k, v, o, lse, q_lens, kv_lens, page_table=None, lens_on_device=False):
            super().__init__(q, k, v, o, lse, pa.MaskMode.CAUSAL_PADDED_RIGHT, q_lens, lens_on_device)
            p = self.params
            p.kv_valid_lens = self.lens_tensor(kv_lens, lens_on_device, q.device)
            p.page_table = pa.absent_tensor() if page_table is None else pa.tensor_from_torch(page_table)

    return PagedCall


def time_ms(fn, args, on_cuda):
    if on_cuda:
        from cuda_timing import median_event_ms
        return median_event_ms(fn, args.warmup, args.runs)
    for _ in range(min(args.warmup, 1)):
        fn()
    times = []
    for _ in range(max(min(args.runs, 3), 1)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def reference_rows(q, kc, vc, prefix, new, rows, hq, hkv, scale):
    """float64 attention of sampled (row, query, head) triples from the
    contiguous tensors, written from the mask rule alone: {row: (queries,
    heads, o [nq, nh, d])}."""
    import torch
    g = hq // hkv
    heads = sorted(set(list(range(g)) + list(range(hq - g, hq))))
    out = {}
    for b in rows:
        qv, kv = new[b], prefix[b] + new[b]
        queries = sorted(set(list(range(min(8, qv))) + list(range(max(0, qv - 64), qv))))
        qi = torch.tensor(queries, device=q.device)
        hi = torch.tensor(heads, device=q.device)
        qq = q[b, qi][:, hi].double()                                   # [nq, nh, d]
        kk = kc[b, :kv][:, hi // g].double()                            # [kv, nh, d]
        vv = vc[b, :kv][:, hi // g].double()
        s = torch.einsum("qhd,khd->hqk", qq, kk) * scale
        j = torch.arange(kv, device=q.device)
        visible = j[None, :] <= (qi[:, None] + (kv - qv))               # [nq, kv]
        s = s.masked_fill(~visible[None], float("-inf"))
        p = torch.softmax(s, dim=-1)
        out[b] = (qi, hi, torch.einsum("hqk,khd->qhd", p, vv))
    return out


def run_case(case, args, dev, dtype):
    import torch
    from bench_prefill import row_rel_err, mma_sync_only

    on_cuda = dev.type == "cuda"
    b, hq, hkv, d = case["b"], case["hq"], case["hkv"], case["d"]
    shared = case.get("shared", 0)
    prefix, new = draw_rows(case, args.seed)
    kv = [p + n for p, n in zip(prefix, new)]
    max_new, max_kv = max(new), max(kv)
    pairs = visible_pairs(new, kv)
    flops = 4.0 * d * hq * pairs
    result = dict(case=case["name"], batch=b, num_qo_heads=hq, num_kv_heads=hkv, head_dim=d,
                  dtype=str(dtype).replace("torch.", ""), prefix=case["prefix"], new=case["new"], shared=shared,
                  new_tokens=sum(new), keys=sum(kv), max_new=max_new, max_keys=max_kv, visible_pairs=pairs,
                  real_tflop=flops / 1e12, layouts={}, peers={}, checks={}, info={}, errors=[])
    peers, checks, info = result["peers"], result["checks"], result["info"]

    # The layouts and the shapes, checked on the host before any allocation.
    layouts = {}
    for ps in args.page_sizes:
        layout = PageLayout(kv, ps, shared, random.Random("%d:%d:%s" % (args.seed, ps, case["name"])))
        bad = validate_layout(layout, shared) + case_shapes(case, prefix, new, layout)[1]
        if bad:
            result["errors"].append("page %d layout: %s" % (ps, "; ".join(bad)))
            continue
        layouts[ps] = layout
        result["layouts"][str(ps)] = layout.summary()

    PagedCall = make_call_class()
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed + 7919 * b + max_kv)
    nan = float("nan")
    q = torch.randn(b, max_new, hq, d, device=dev, dtype=dtype, generator=gen)
    kc = torch.randn(b, max_kv, hkv, d, device=dev, dtype=dtype, generator=gen)
    vc = torch.randn(b, max_kv, hkv, d, device=dev, dtype=dtype, generator=gen)
    if shared:
        kc[:, :shared] = kc[:1, :shared].clone()
        vc[:, :shared] = vc[:1, :shared].clone()
    q_real = torch.arange(max_new, device=dev)[None, :] < torch.tensor(new, device=dev)[:, None]
    kv_real = torch.arange(max_kv, device=dev)[None, :] < torch.tensor(kv, device=dev)[:, None]
    q[~q_real] = nan
    kc[~kv_real] = nan
    vc[~kv_real] = nan
    scale = 1.0 / math.sqrt(d)

    def fresh_out():
        return (torch.full((b, max_new, hq, d), nan, device=dev, dtype=dtype),
                torch.full((b, max_new, hq), nan, device=dev, dtype=torch.float32))

    def sync():
        if on_cuda:
            torch.cuda.synchronize()

    def timed(name, call):
        try:
            ms = time_ms(call, args, on_cuda)
            peers[name] = dict(ms=ms, tflops=flops / ms / 1e9)
        except Exception as e:  # noqa: BLE001 - a failing variant is reported, the others go on
            sync()
            peers[name] = dict(na=short_error(e))

    def output_checks(name, o, lse):
        checks[name + "_real_rows_finite"] = bool(torch.isfinite(o[q_real]).all().item())
        if (~q_real).any():
            checks[name + "_padding_rows_zero"] = bool((o[~q_real] == 0).all().item())
            checks[name + "_padding_lse_neg_inf"] = bool(torch.isneginf(lse[~q_real]).all().item())

    # ---- ours, contiguous
    o_c, lse_c = fresh_out()
    contig = PagedCall(q, kc, vc, o_c, lse_c, new, kv)
    have_contig = False
    try:
        contig()
        sync()
        have_contig = True
        output_checks("contig", o_c, lse_c)
        o_c_ref, lse_c_ref = o_c.clone(), lse_c.clone()
    except Exception as e:  # noqa: BLE001
        sync()
        result["errors"].append("contig: " + short_error(e))
    if have_contig and "contig" in args.peers:
        timed("contig", contig)
    o_m_ref = None
    if have_contig and "contig-mma" in args.peers:
        with mma_sync_only():
            o_m, lse_m = fresh_out()
            contig_mma = PagedCall(q, kc, vc, o_m, lse_m, new, kv)
            try:
                contig_mma()
                sync()
                output_checks("contig_mma", o_m, lse_m)
                err = row_rel_err(o_m, o_c_ref, q_real)
                checks["contig_mma_max_row_rel_err_vs_contig"] = err
                checks["contig_mma_matches_contig"] = err < TOLERANCE
                o_m_ref = o_m.clone()
            except Exception as e:  # noqa: BLE001
                sync()
                result["errors"].append("contig-mma: " + short_error(e))
            timed("contig-mma", contig_mma)
            del contig_mma, o_m, lse_m

    # ---- ours, paged
    first_paged = None
    for ps, layout in layouts.items():
        name = "paged%d" % ps
        try:
            idx = torch.tensor(layout.slot_index(), dtype=torch.long, device=dev)
            kp = torch.full((layout.num_pages * ps, hkv, d), nan, device=dev, dtype=dtype)
            vp = torch.full_like(kp, nan)
            kp[idx] = kc[kv_real]
            vp[idx] = vc[kv_real]
            kp = kp.view(layout.num_pages, ps, hkv, d)
            vp = vp.view(layout.num_pages, ps, hkv, d)
            table = torch.tensor(layout.table, dtype=torch.int32, device=dev)
            del idx
            if layout.spare_pages:
                spare = torch.tensor(layout.spare_pages, device=dev)
                info[name + "_spare_pages_nan"] = bool(torch.isnan(kp[spare].float()).all().item())
            o_p, lse_p = fresh_out()
            paged = PagedCall(q, kp, vp, o_p, lse_p, new, kv, page_table=table)
            paged()
            sync()
        except Exception as e:  # noqa: BLE001
            sync()
            result["errors"].append(name + ": " + short_error(e))
            peers[name] = dict(na=short_error(e))
            continue
        output_checks(name, o_p, lse_p)
        if have_contig:
            err = row_rel_err(o_p, o_c_ref, q_real)
            checks[name + "_max_row_rel_err_vs_contig"] = err
            checks[name + "_matches_contig"] = err < TOLERANCE
            info[name + "_max_abs_diff_vs_contig"] = (o_p[q_real].float() - o_c_ref[q_real].float()).abs().max().item()
            lerr = (lse_p[q_real] - lse_c_ref[q_real]).abs().max().item()
            checks[name + "_lse_max_abs_err_vs_contig"] = lerr
            checks[name + "_lse_matches_contig"] = lerr < LSE_TOLERANCE
            if o_m_ref is not None:
                info[name + "_equals_contig_mma_bitwise"] = bool(torch.equal(o_p, o_m_ref))
        if "paged" in args.peers:
            timed(name, paged)
        if first_paged is None:
            first_paged = (ps, o_p.clone())
            if "dlen" in args.peers:
                o_d, lse_d = fresh_out()
                try:
                    dlen = PagedCall(q, kp, vp, o_d, lse_d, new, kv, page_table=table, lens_on_device=True)
                    dlen()
                    sync()
                    output_checks(name + "_dlen", o_d, lse_d)
                    err = row_rel_err(o_d, o_p, q_real)
                    checks[name + "_dlen_matches_host_lens"] = err < TOLERANCE
                    info[name + "_dlen_max_row_rel_err_vs_host_lens"] = err
                    timed(name + "-dlen", dlen)
                except Exception as e:  # noqa: BLE001
                    sync()
                    peers[name + "-dlen"] = dict(na=short_error(e))
                dlen = None
                del o_d, lse_d
        del paged, kp, vp, table, o_p, lse_p
        if on_cuda:
            torch.cuda.empty_cache()

    # ---- float64 reference on sampled rows
    ours_o = first_paged[1] if first_paged is not None else (o_c_ref if have_contig else None)
    if ours_o is not None:
        try:
            rows = sorted({0, b - 1, max(range(b), key=lambda r: new[r])})
            ref = reference_rows(q, kc, vc, prefix, new, rows, hq, hkv, scale)
            worst = 0.0
            for r, (qi, hi, o_ref) in ref.items():
                got = ours_o[r, qi][:, hi].double()
                rel = ((got - o_ref).norm(dim=-1) / o_ref.norm(dim=-1).clamp_min(1e-30)).max().item()
                worst = max(worst, rel)
            name = "paged%d" % first_paged[0] if first_paged is not None else "contig"
            checks[name + "_max_row_rel_err_vs_f64_reference"] = worst
            checks[name + "_matches_f64_reference"] = worst < TOLERANCE
        except Exception as e:  # noqa: BLE001
            sync()
            result["errors"].append("reference: " + short_error(e))

    # ---- FlashAttention-2 varlen on the packed tokens
    if "fa2" in args.peers:
        try:
            qp = q[q_real].contiguous()
            kp_ = kc[kv_real].contiguous()
            vp_ = vc[kv_real].contiguous()
            cu_q = torch.tensor(cu_seqlens(new), dtype=torch.int32, device=dev)
            cu_k = torch.tensor(cu_seqlens(kv), dtype=torch.int32, device=dev)

            def fa2():
                return torch.ops.aten._flash_attention_forward(qp, kp_, vp_, cu_q, cu_k, max_new, max_kv, 0.0, True,
                                                               False)[0]

            out = fa2()
            sync()
            if ours_o is not None:
                mine = ours_o[q_real]
                err = row_rel_err(mine.unsqueeze(0), out.unsqueeze(0),
                                  torch.ones(1, mine.shape[0], dtype=torch.bool, device=dev))
                checks["ours_max_row_rel_err_vs_fa2"] = err
                checks["ours_matches_fa2"] = err < TOLERANCE
                info["ours_max_abs_diff_vs_fa2"] = (mine.float() - out.float()).abs().max().item()
            del out
            timed("fa2", fa2)
            del qp, kp_, vp_
        except Exception as e:  # noqa: BLE001
            sync()
            peers["fa2"] = dict(na=short_error(e))

    # ---- ratios
    def ms(name):
        p = peers.get(name, {})
        return p.get("ms")

    ratios = result["ratios"] = {}
    for ps in layouts:
        name = "paged%d" % ps
        if ms(name) and ms("contig"):
            ratios[name + "_over_contig_time"] = ms(name) / ms("contig")
        if ms(name) and ms("contig-mma"):
            ratios[name + "_over_contig_mma_time"] = ms(name) / ms("contig-mma")
        if ms(name) and ms("fa2"):
            ratios[name + "_speed_over_fa2"] = ms("fa2") / ms(name)
    if ms("contig") and ms("fa2"):
        ratios["contig_speed_over_fa2"] = ms("fa2") / ms("contig")
    if result["errors"]:
        checks["no_errors"] = False
    del q, kc, vc
    if on_cuda:
        torch.cuda.empty_cache()
    return result


def cell(r, name):
    p = r["peers"].get(name)
    if p is None:
        return "-"
    if "na" in p:
        return "n/a"
    return "%.3f (%.1f)" % (p["ms"], p["tflops"])


def print_tables(results, page_sizes):
    names = ["paged%d" % ps for ps in page_sizes]
    cols = names + ["paged%d-dlen" % page_sizes[0], "contig", "contig-mma", "fa2"]
    print("\nPaged prefill after a cached prefix: ms (TFLOP/s of real work)")
    print("| case | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for r in results:
        print("| %s | %s |" % (r["case"], " | ".join(cell(r, c) for c in cols)))
    print("\nRatios: paged / contig time (> 1: paged slower), paged / contig-mma time, ours speed / FA2 varlen")
    rcols = []
    for n in names:
        rcols += [n + "_over_contig_time", n + "_over_contig_mma_time", n + "_speed_over_fa2"]
    rcols.append("contig_speed_over_fa2")
    print("| case | " + " | ".join(c.replace("_time", "").replace("_", " ") for c in rcols) + " | checks |")
    print("|---|" + "---|" * (len(rcols) + 1))
    for r in results:
        ok = all(v for v in r["checks"].values() if isinstance(v, bool))
        vals = ["%.2f" % r["ratios"][c] if c in r.get("ratios", {}) else "-" for c in rcols]
        print("| %s | %s | %s |" % (r["case"], " | ".join(vals), "ok" if ok else "FAILED"))
    for r in results:
        for name, p in r["peers"].items():
            if "na" in p:
                print("  %s / %s: n/a: %s" % (r["case"], name, p["na"]))
        for e in r.get("errors", []):
            print("  %s: error: %s" % (r["case"], e))
        bad = [k for k, v in r["checks"].items() if v is False]
        if bad:
            print("  %s: failed checks: %s" % (r["case"], ", ".join(bad)))


def pick_cases(spec, pool):
    if not spec:
        return list(pool)
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item.isdigit():
            out.append(pool[int(item)])
        else:
            hits = [c for c in pool if item in c["name"]]
            if not hits:
                raise SystemExit("no case matches %r" % item)
            out.extend(hits)
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", help="path of libpaddedattn.so (default: $PADDEDATTN_NATIVE_LIB, then the usual places)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cases", help="comma-separated case indices or name substrings (default: all)")
    ap.add_argument("--smoke", action="store_true", help="the tiny cases instead (every code path, seconds)")
    ap.add_argument("--page-sizes", default=",".join(map(str, PAGE_SIZES)), help="comma-separated page sizes")
    ap.add_argument("--peers", help="comma-separated subset of " + ",".join(ALL_PEERS) + " (default: all)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (the CPU backend: FA2 n/a, contig-mma and dlen the same calls)")
    ap.add_argument("--dtype", default="bf16", choices=("bf16", "f16", "f32"), help="f32: CPU backend only")
    ap.add_argument("--json", help="also write the JSON here (and to $OUT/bench_prefill_paged.json when OUT is set)")
    ap.add_argument("--self-test", action="store_true", help="check the case construction (no torch, no GPU) and exit")
    ap.add_argument("--list", action="store_true", help="print the cases and their page layouts and exit (no torch)")
    ap.add_argument("--paged", action="store_true", help=argparse.SUPPRESS)  # bench_prefill.py --paged forwards here
    args = ap.parse_args(argv)
    args.page_sizes = [int(x) for x in args.page_sizes.split(",") if x]
    args.peers = set(args.peers.split(",")) if args.peers else set(ALL_PEERS)
    unknown = args.peers - set(ALL_PEERS)
    if unknown:
        ap.error("unknown peers: " + ",".join(sorted(unknown)))
    if not args.page_sizes or any(not 1 <= ps <= 256 for ps in args.page_sizes):
        ap.error("page sizes must be in [1, 256]")
    return args


def main(argv=None):
    args = parse_args(argv)
    pool = SMOKE_CASES if args.smoke else CASES
    cases = pick_cases(args.cases, pool)
    if args.self_test:
        return self_test()
    if args.list:
        describe_cases(cases, args.seed, args.page_sizes)
        return 0

    import torch
    import paddedattn as pa

    pa.load_library(args.lib)
    dev = torch.device(args.device)
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[args.dtype]
    on_cuda = dev.type == "cuda"
    gpu = torch.cuda.get_device_name(0) if on_cuda else "cpu"
    print("device: %s, torch %s, library %s, page sizes %s, %d cases" % (
        gpu, torch.__version__, pa.version_string(), args.page_sizes, len(cases)), flush=True)
    results = []
    paths = ([args.json] if args.json else []) + (
        [os.path.join(os.environ["OUT"], "bench_prefill_paged.json")] if os.environ.get("OUT") else [])

    def write_json():  # after every case, so a run cut short keeps what it measured
        blob = dict(gpu=gpu, torch=torch.__version__, library=pa.version_string(),
                    date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    family="paged prefill after a cached prefix", dtype=args.dtype, page_sizes=args.page_sizes,
                    runs=args.runs, warmup=args.warmup, seed=args.seed, results=results)
        text = json.dumps(blob, indent=1)
        for path in paths:
            with open(path, "w") as f:
                f.write(text)

    for case in cases:
        t0 = time.time()
        try:
            r = run_case(case, args, dev, dtype)
        except Exception as e:  # noqa: BLE001 - one broken case must not stop the others
            traceback.print_exc()
            if on_cuda:
                try:
                    torch.cuda.synchronize()
                    torch.cuda.empty_cache()
                except Exception:  # noqa: BLE001
                    pass
            r = dict(case=case["name"], peers={}, checks=dict(no_errors=False), info={}, ratios={},
                     errors=["case: " + short_error(e)])
        r["wall_s"] = time.time() - t0
        results.append(r)
        summary = ", ".join("%s %s" % (k, "%.3f ms" % v["ms"] if "ms" in v else "n/a") for k, v in r["peers"].items())
        print("case %s: %s (%.1f s)" % (case["name"], summary or "no timings", r["wall_s"]), flush=True)
        write_json()
    print_tables(results, args.page_sizes)
    write_json()
    return report_failed_checks(results)


if __name__ == "__main__":
    sys.exit(main())
