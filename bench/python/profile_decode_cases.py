#!/usr/bin/env python3
"""One call of pattn_decode per variant on named serving shapes, for a
profiler (ncu -k regex:decode_ ...): each case of bench_decode.VARLEN_CASES
(right padding, device lengths uniform in [cache/2, cache], bf16) runs once
with the default dispatch and once with PADDEDATTN_DECODE_MMA=0 (the
CUDA-core kernels), in that order.

Usage: PYTHONPATH=bindings/python python3 bench/python/profile_decode_cases.py --lib LIB b32_16k b1_64k
"""
import argparse
import os

import bench_decode as bd

paddedattn, torch = bd.paddedattn, bd.torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default=None)
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    paddedattn.load_library(args.lib)
    shapes = dict(bd.VARLEN_CASES)
    for name in args.cases:
        q, k, v, lens, _ = bd.varlen_case_tensors(shapes[name])
        kv_heads, dim = k.shape[2], k.shape[3]
        real = int(lens.sum().item())
        o = torch.empty_like(q)
        ours = bd.OursDecode(q, k, v, o, lens, padding=int(paddedattn.PaddingSide.RIGHT))
        for mma in (None, "0"):
            if mma is None:
                os.environ.pop("PADDEDATTN_DECODE_MMA", None)
            else:
                os.environ["PADDEDATTN_DECODE_MMA"] = mma
            ours()
            torch.cuda.synchronize()
        os.environ.pop("PADDEDATTN_DECODE_MMA", None)
        print("case %s: real K/V bytes %d" % (name, real * kv_heads * dim * 4), flush=True)
        del q, k, v, o
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
