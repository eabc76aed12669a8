#!/usr/bin/env python3
"""One line per case of a bench_prefill.py --json file: TFLOP/s of `ours`
and of the named peers (ours-<peer> for the switched ones), and the names
of any output check that failed.
    python3 bench/python/prefill_summary.py RESULTS.json peer,peer,...
"""
import json
import sys

UNSWITCHED = ("fa2", "cudnn-dense", "cudnn", "efficient", "flex", "flash-dense")


def main():
    data = json.load(open(sys.argv[1]))
    peers = [p for p in sys.argv[2].split(",") if p] if len(sys.argv) > 2 else []
    names = ["ours"] + [p if p in UNSWITCHED else "ours-" + p for p in peers]
    print("%-48s " % "case (TFLOP/s)" + " ".join("%11s" % n.replace("ours-", "") for n in names))
    for r in data["results"]:
        p = r["peers"]
        bad = [k for k, v in r.get("checks", {}).items() if v is False]
        cells = ["%.1f" % p[n]["tflops"] if "tflops" in p.get(n, {}) else "-" for n in names]
        print("%-48s " % r["case"][:48] + " ".join("%11s" % c for c in cells) + ("  FAIL " + ",".join(bad) if bad else ""))


if __name__ == "__main__":
    main()
