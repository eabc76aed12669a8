#!/usr/bin/env python3
"""Forced KV split counts and pipeline depths on named serving shapes
(bench_decode.VARLEN_CASES: right padding, device lengths uniform in
[cache/2, cache], bf16), timed like bench_decode.py (CUDA-graph replays,
median): for tuning decode_heuristics.cpp. Each forced variant's output is
checked against the automatic one's (max abs diff printed).

Usage: PYTHONPATH=bindings/python:bench/python python3 bench/python/sweep_decode_splits.py --lib LIB \
           b1_64k=16,32,48,64,99 b16_8k=2,4,8 [--stages 3,6]
"""
import argparse
import os

import bench_decode as bd

paddedattn, torch = bd.paddedattn, bd.torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default=None)
    ap.add_argument("--stages", default="3,6", help="depths to time at the automatic split count")
    ap.add_argument("--paged", type=int, default=0, help="also time a paged copy (this page size) at the automatic "
                    "split count, and at each --stages depth")
    ap.add_argument("cases", nargs="+", help="NAME=split,split,...")
    args = ap.parse_args()
    paddedattn.load_library(args.lib)
    shapes = dict(bd.VARLEN_CASES)
    right = int(paddedattn.PaddingSide.RIGHT)
    for spec in args.cases:
        name, _, splits = spec.partition("=")
        q, k, v, lens, gen = bd.varlen_case_tensors(shapes[name])
        o_auto, o = torch.empty_like(q), torch.empty_like(q)
        auto = bd.OursDecode(q, k, v, o_auto, lens, padding=right)
        res = ["auto %.1f" % bd.time_graph(auto, 20, 15)[0]]
        for st in [x for x in args.stages.split(",") if x]:
            os.environ["PADDEDATTN_DECODE_STAGES"] = st
            res.append("auto/st%s %.1f" % (st, bd.time_graph(bd.OursDecode(q, k, v, o, lens, padding=right), 20, 15)[0]))
            os.environ.pop("PADDEDATTN_DECODE_STAGES", None)
        diff = 0.0
        for n in [int(x) for x in splits.split(",") if x]:
            fn = bd.OursDecode(q, k, v, o, lens, num_splits=n, padding=right)
            res.append("%d %.1f" % (n, bd.time_graph(fn, 20, 15)[0]))
            diff = max(diff, float((o.float() - o_auto.float()).abs().max().item()))
        if args.paged:
            kp, vp, table = bd.paged_copy(k, v, args.paged, gen)
            paged = bd.OursDecode(q, kp, vp, o, lens, page_table=table, padding=right)
            res.append("paged%d %.1f" % (args.paged, bd.time_graph(paged, 20, 15)[0]))
            diff = max(diff, float((o.float() - o_auto.float()).abs().max().item()))
            for st in [x for x in args.stages.split(",") if x]:
                os.environ["PADDEDATTN_DECODE_STAGES"] = st
                res.append("paged%d/st%s %.1f" % (args.paged, st, bd.time_graph(paged, 20, 15)[0]))
                os.environ.pop("PADDEDATTN_DECODE_STAGES", None)
            del kp, vp, table
        print("sweep %s: %s (max diff %.1e)" % (name, ", ".join(res), diff), flush=True)
        del q, k, v, o, o_auto
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
