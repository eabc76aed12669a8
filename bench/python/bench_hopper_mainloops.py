#!/usr/bin/env python3
"""A/B of the Hopper prefill kernel's KV mainloops (PADDEDATTN_PREFILL_HOPPER_MAINLOOP,
native/cuda/prefill_params.h kHopperMainloop*) in one process, on cases of
bench_prefill.py, against cuDNN SDPA on the dense batch.

For every case and mainloop: the Hopper kernel forced (PADDEDATTN_PREFILL_HOPPER=1),
outputs NaN-poisoned before the call, then checked against the mma.sync kernel
(max per-row relative error of o on real rows, max |lse difference|), padding
rows exactly o = 0 / lse = -inf, NaN/Inf in every padding row of q/k/v
changing no real row; and the median of --runs CUDA-event timings. TFLOP/s
count real work only (as bench_prefill.py).

  PYTHONPATH=bindings/python PADDEDATTN_NATIVE_LIB=.../libpaddedattn.so \\
      python3 bench/python/bench_hopper_mainloops.py --cases 13,14 --mainloops 0,1,2,3
"""
import argparse
import math
import os

import torch

import paddedattn as pa  # noqa: E402
import bench_prefill as bp  # noqa: E402  (same folder)


def set_env(mainloop):
    os.environ["PADDEDATTN_PREFILL_HOPPER"] = "1"
    os.environ.pop("PADDEDATTN_PREFILL_MMA_SYNC", None)
    if mainloop is None:
        os.environ.pop("PADDEDATTN_PREFILL_HOPPER_MAINLOOP", None)
    else:
        os.environ["PADDEDATTN_PREFILL_HOPPER_MAINLOOP"] = str(mainloop)


def run_case(case, mainloops, args, gen):
    dev = torch.device("cuda")
    b, s, hq, hkv, d = case["b"], case["s"], case["hq"], case["hkv"], case["d"]
    mask_mode, left, causal = bp.MODES[case["mode"]]
    dtype = torch.float16 if case.get("dtype") == "f16" else torch.bfloat16
    lens = [s] * b if case["lens"] is None else bp.draw_lens(case["lens"], b, s, gen)
    lens_arg = None if case["lens"] is None else lens
    q = torch.randn(b, s, hq, d, device=dev, dtype=dtype)
    k = torch.randn(b, s, hkv, d, device=dev, dtype=dtype)
    v = torch.randn(b, s, hkv, d, device=dev, dtype=dtype)
    flops = 4.0 * d * hq * bp.visible_pairs(lens, causal)
    rows_real = torch.zeros(b, s, dtype=torch.bool, device=dev)
    for bi, (lo, hi) in enumerate(bp.real_ranges(lens, s, left)):
        rows_real[bi, lo:hi] = True
    pad = ~rows_real

    def call(qq, kk, vv):
        o = torch.full((b, s, hq, d), float("nan"), device=dev, dtype=dtype)
        lse = torch.full((b, s, hq), float("nan"), device=dev, dtype=torch.float32)
        fn = bp.OursCall(qq, kk, vv, o, lse, mask_mode, lens_arg, lens_on_device=False)
        return fn, o, lse

    # reference: the mma.sync kernel
    os.environ["PADDEDATTN_PREFILL_MMA_SYNC"] = "1"
    fn, o_ref, lse_ref = call(q, k, v)
    fn()
    torch.cuda.synchronize()
    os.environ.pop("PADDEDATTN_PREFILL_MMA_SYNC", None)
    real_lse = rows_real[:, :, None].expand_as(lse_ref)

    row = dict(case=case["name"], ml={})
    for ml in mainloops:
        set_env(ml)
        fn, o, lse = call(q, k, v)
        fn()
        torch.cuda.synchronize()
        err = bp.row_rel_err(o, o_ref, rows_real)
        lse_err = (lse[real_lse] - lse_ref[real_lse]).abs().max().item()
        ok = err < 1.6e-2 and lse_err < 1e-2 and bool(torch.isfinite(o[rows_real]).all().item())
        if pad.any():
            ok = ok and bool((o[pad] == 0).all().item()) and bool(torch.isneginf(lse[pad]).all().item())
            qn, kn, vn = q.clone(), k.clone(), v.clone()
            qn[pad] = float("nan")
            kn[pad] = float("inf")
            vn[pad] = float("nan")
            fn2, o2, _ = call(qn, kn, vn)
            fn2()
            torch.cuda.synchronize()
            ok = ok and bool(torch.equal(o2[rows_real], o[rows_real]))
            del qn, kn, vn, o2
        ms = bp.time_cuda(fn, args.warmup, args.runs)
        ms2 = bp.time_cuda(fn, args.warmup, args.runs)  # the same version twice: the spread
        row["ml"][ml] = dict(ms=ms, tflops=flops / ms / 1e9, tflops2=flops / ms2 / 1e9, err=err, lse_err=lse_err,
                             ok=ok)
        del o, lse
    set_env(None)
    if args.cudnn:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
        sd = bp.dense_sdpa(qt, kt, vt, hq // hkv, causal, SDPBackend.CUDNN_ATTENTION)
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
            ms = bp.time_cuda(sd, args.warmup, args.runs)
        dense = 4.0 * d * hq * b * (s * (s + 1) // 2 if causal else s * s)
        row["cudnn"] = dense / ms / 1e9
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="13,14,2,1,11,4")
    ap.add_argument("--mainloops", default="0,1,2,3")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-cudnn", dest="cudnn", action="store_false")
    args = ap.parse_args()
    pa.load_library(None)
    gen = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    mainloops = [int(x) for x in args.mainloops.split(",")]
    rows = [run_case(bp.CASES[int(i)], mainloops, args, gen) for i in args.cases.split(",")]
    head = "| case | " + " | ".join(f"ml{m} TFLOP/s (again)" for m in mainloops) + " | cuDNN dense | checks |"
    print(head)
    print("|" + " --- |" * (len(mainloops) + 3))
    for r in rows:
        cells = [f"{r['ml'][m]['tflops']:.1f} ({r['ml'][m]['tflops2']:.1f})" for m in mainloops]
        checks = " ".join(f"ml{m}:{'ok' if r['ml'][m]['ok'] else 'FAIL'} {r['ml'][m]['err']:.1e}/{r['ml'][m]['lse_err']:.1e}"
                          for m in mainloops)
        print(f"| {r['case']} | " + " | ".join(cells) + f" | {r.get('cudnn', math.nan):.1f} | {checks} |")


if __name__ == "__main__":
    main()
