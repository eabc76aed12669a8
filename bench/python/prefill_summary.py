#!/usr/bin/env python3
"""One line per case of a bench_prefill.py --json file: TFLOP/s of `ours`
and of the named peers (stored as ours-<peer> for the library under a
tuning switch, under their own name otherwise), and the names of any output
check that failed.
    python3 bench/python/prefill_summary.py RESULTS.json peer,peer,...
"""
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    peers = [p for p in sys.argv[2].split(",") if p] if len(sys.argv) > 2 else []
    stored = set(n for r in data["results"] for n in r["peers"])
    names = ["ours"] + ["ours-" + p if "ours-" + p in stored else p for p in peers]
    print("%-48s " % "case (TFLOP/s)" + " ".join("%11s" % n.replace("ours-", "") for n in names))
    for r in data["results"]:
        p = r["peers"]
        bad = [k for k, v in r.get("checks", {}).items() if v is False]
        cells = ["%.1f" % p[n]["tflops"] if "tflops" in p.get(n, {}) else "-" for n in names]
        print("%-48s " % r["case"][:48] + " ".join("%11s" % c for c in cells) + ("  FAIL " + ",".join(bad) if bad else ""))


if __name__ == "__main__":
    main()
