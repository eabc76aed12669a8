#!/usr/bin/env python3
"""Checks the case construction of the paged-prefill benchmark
(bench/python/bench_prefill_paged.py) without torch or a GPU: the page
layouts of every case (its --self-test: each row reads its own keys back
through its table, shared prefix pages shared, spare pages untouched), that
the layout check rejects broken tables, the causal bottom-right pair count
against a brute-force count, the length draws and the shape checks. The GPU
run of the benchmark relies on these; a wrong table there would show only as
a mismatch against the contiguous cache.

Last line: "N passed, N failed, N skipped" (./build.sh test runs it).
"""

import contextlib
import io
import os
import random
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench", "python"))

import bench_prefill_paged as bp  # noqa: E402  (pure Python at import: torch is imported where cases run)
from suite import report, summary  # noqa: E402  (tests/python/suite.py)


def test_self_test():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = bp.self_test()
    report("every case's page layouts (page sizes 1, 7, 16, 64, 256)",
           [] if rc == 0 else out.getvalue().splitlines(), shown=10)


def test_broken_layouts_rejected():
    problems = []
    kv = [37, 70, 5]

    def fresh(shared=0, kv_=kv):
        return bp.PageLayout(kv_, 16, shared, random.Random(3))

    lay = fresh()
    if bp.validate_layout(lay, 0):
        problems.append("a valid layout rejected: %s" % bp.validate_layout(lay, 0))
    lay = fresh()
    lay.table[1][1] = lay.table[1][0]
    if not any("repeated" in p for p in bp.validate_layout(lay, 0)):
        problems.append("a page repeated within a row not caught")
    lay = fresh()
    lay.table[0][0] = lay.table[1][0]
    if not any("used by" in p for p in bp.validate_layout(lay, 0)):
        problems.append("a page of two rows (not shared) not caught")
    lay = fresh()
    lay.table[2][0] = lay.spare_pages[0]
    if not any("spare" in p for p in bp.validate_layout(lay, 0)):
        problems.append("a spare page in a row not caught")
    lay = fresh()
    lay.table[2][-1] = 0
    if not any("not -1" in p for p in bp.validate_layout(lay, 0)):
        problems.append("an entry past the row's pages not caught")
    lay = fresh()
    lay.table[0][0] = lay.num_pages
    if not any("outside" in p for p in bp.validate_layout(lay, 0)):
        problems.append("a page outside the pool not caught")
    lay = fresh(shared=32, kv_=[40, 50, 33])
    if bp.validate_layout(lay, 32):
        problems.append("a valid shared layout rejected: %s" % bp.validate_layout(lay, 32))
    lay.table[1][0], lay.table[1][1] = lay.table[1][1], lay.table[1][0]
    if not any("shared page" in p for p in bp.validate_layout(lay, 32)):
        problems.append("shared pages differing between rows not caught")
    # Pages in ascending order everywhere (a contiguous pool) is not what the benchmark wants.
    lay = fresh()
    nxt = 0
    for b, need in enumerate(lay.need):
        lay.table[b][:need] = list(range(nxt, nxt + need))
        nxt += need
    lay.spare_pages = list(range(nxt, lay.num_pages))
    if not any("scattered" in p for p in bp.validate_layout(lay, 0)):
        problems.append("a layout without scattered pages not caught")
    report("broken page tables rejected", problems, shown=10)


def test_visible_pairs():
    problems = []
    rng = random.Random(11)
    for _ in range(300):
        rows = [(rng.randint(0, 50), rng.randint(0, 80)) for _ in range(rng.randint(1, 4))]
        brute = sum(1 for qv, kv in rows for i in range(qv) for j in range(kv) if j <= i + kv - qv)
        got = bp.visible_pairs([r[0] for r in rows], [r[1] for r in rows])
        if got != brute:
            problems.append("%s: %d, brute force %d" % (rows, got, brute))
    # b8 prefix 4096 + 512: 8 * (512 * 4096 + 512 * 513 / 2)
    if bp.visible_pairs([512] * 8, [4608] * 8) != 8 * (512 * 4096 + 512 * 513 // 2):
        problems.append("b8 prefix 4096 + 512")
    report("causal bottom-right visible pairs", problems, shown=10)


def test_draws_and_shapes():
    problems = []
    for case in bp.CASES + bp.SMOKE_CASES:
        prefix, new = bp.draw_rows(case, 1234)
        again = bp.draw_rows(case, 1234)
        if (prefix, new) != again:
            problems.append("%s: draws not deterministic" % case["name"])
        for spec, vals in ((case["prefix"], prefix), (case["new"], new)):
            if isinstance(spec, tuple):
                lo, hi = spec
                if not all(lo <= v <= hi for v in vals) or (len(vals) >= 2 and (vals[0], vals[1]) != (lo, hi)):
                    problems.append("%s: draws %s outside %s or without its extremes" % (case["name"], vals[:4],
                                                                                        spec))
            elif vals != [spec] * case["b"]:
                problems.append("%s: fixed lengths differ" % case["name"])
        kv = [p + n for p, n in zip(prefix, new)]
        lay = bp.PageLayout(kv, 64, case.get("shared", 0), random.Random(1))
        shapes, bad = bp.case_shapes(case, prefix, new, lay)
        if bad:
            problems.append("%s: %s" % (case["name"], bad))
        if shapes["q"] != [case["b"], max(new), case["hq"], case["d"]] or \
                shapes["page_table"] != [case["b"], lay.max_pages] or shapes["k_pages"][1] != 64:
            problems.append("%s: shapes %s" % (case["name"], shapes))
    bad_case = dict(bp.SMOKE_CASES[0], hq=5)
    prefix, new = bp.draw_rows(bad_case, 1)
    lay = bp.PageLayout([p + n for p, n in zip(prefix, new)], 16, 0, random.Random(1))
    if not bp.case_shapes(bad_case, prefix, new, lay)[1]:
        problems.append("num_qo_heads not a multiple of num_kv_heads not caught")
    try:
        bp.draw_rows(dict(bp.SMOKE_CASES[0], shared=1000), 1)
        problems.append("a shared prefix longer than a row's prefix not refused")
    except ValueError:
        pass
    if bp.cu_seqlens([3, 0, 5]) != [0, 3, 3, 8]:
        problems.append("cu_seqlens")
    args = bp.parse_args(["--cases", "0,mixed", "--page-sizes", "16,64", "--peers", "paged,fa2"])
    picked = [c["name"] for c in bp.pick_cases(args.cases, bp.CASES)]
    if picked[0] != bp.CASES[0]["name"] or not all("mixed" in n for n in picked[1:]) or len(picked) < 3:
        problems.append("--cases 0,mixed picked %s" % picked)
    if args.page_sizes != [16, 64] or args.peers != {"paged", "fa2"}:
        problems.append("arguments parsed as %s / %s" % (args.page_sizes, args.peers))
    report("length draws, shapes, arguments", problems, shown=10)


def main():
    test_self_test()
    test_broken_layouts_rejected()
    test_visible_pairs()
    test_draws_and_shapes()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
