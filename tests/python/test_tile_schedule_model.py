#!/usr/bin/env python3
"""Checks bench/python/tile_schedule_model.py, whose numbers docs/performance.md
quotes ("Tile scheduling: what a persistent grid could gain"): the cost of
every tile against a brute-force count over the tile's packed rows, the
grid order (rows most work first, a row's query tiles from the last one
down), and the three schedules on inputs whose makespan is known.

Last line: "N passed, N failed, N skipped" (./build.sh test runs it).
"""

import os
import random
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench", "python"))

import tile_schedule_model as tsm  # noqa: E402
from suite import report, summary  # noqa: E402  (tests/python/suite.py)


def brute_costs(b, s, hq, hkv, causal, lens, bm, bn, fixed, keyless):
    """Per (row by work, KV head, tile from the last): the KV tiles that the
    tile's packed rows see, counted row by row (a causal query i of a row
    with qv queries and kv keys sees keys j <= i + kv - qv)."""
    group = hq // hkv
    work = [l * l for l in lens]  # qv == kv: causal or not, the order is by length
    order = sorted(range(b), key=lambda r: (-work[r], r))
    tiles = -(-s * group // bm)
    out = []
    for r in order:
        qv = kv = lens[r]
        for _ in range(hkv):
            for t in reversed(range(tiles)):
                seen = 0
                real = False
                for p in range(t * bm, t * bm + bm):
                    i = p // group
                    if i >= qv or p >= s * group:
                        continue
                    real = True
                    visible = sum(1 for j in range(kv) if not causal or j <= i + kv - qv)
                    seen = max(seen, visible)
                out.append(-(-seen // bn) + fixed if real and seen > 0 else keyless)
    return out


def test_costs():
    problems = []
    rng = random.Random(7)
    for trial in range(60):
        b = rng.randint(1, 5)
        s = rng.choice([1, 7, 64, 100, 129, 300])
        hkv = rng.choice([1, 2])
        hq = hkv * rng.choice([1, 3, 4])
        causal = rng.random() < 0.5
        bm, bn = rng.choice([(64, 48), (128, 128), (64, 64), (128, 64)])
        lens = [rng.randint(0, s) for _ in range(b)]
        if trial % 5 == 0:
            lens[0] = s  # a full row
        case = ("t%d" % trial, b, s, hq, hkv, 128, causal, None, (bm, bn, 1))
        got = tsm.tile_costs_of(case, lens, 1.5, 0.25)  # these lengths, not the model's own draw
        want = brute_costs(b, s, hq, hkv, causal, lens, bm, bn, 1.5, 0.25)
        if got != want:
            problems.append("%s lens %s: %s, brute force %s" % (case[:7], lens, got[:12], want[:12]))
    report("tile costs and grid order against a row-by-row count", problems)


def test_schedules():
    problems = []
    slots = 8
    # 8 * 5 + 3 equal tiles: 6 rounds whatever the order.
    equal = [1.0] * (slots * 5 + 3)
    for name, got in (("grid", tsm.dynamic(equal, slots)), ("strided", tsm.strided(equal, slots)),
                      ("lpt", tsm.dynamic(sorted(equal, reverse=True), slots))):
        if got != 6.0:
            problems.append("equal tiles, %s: makespan %s, expected 6" % (name, got))
    # One heavy tile last: the dynamic grid ends after it, sorting puts it first.
    costs = [1.0] * (slots * 4) + [10.0]
    if tsm.dynamic(costs, slots) != 14.0 or tsm.dynamic(sorted(costs, reverse=True), slots) != 10.0:
        problems.append("heavy last tile: %s / %s" % (tsm.dynamic(costs, slots),
                                                       tsm.dynamic(sorted(costs, reverse=True), slots)))
    # Strided: block x gets x, x + G, ...; costs 2, 1 alternating over G = 2 give 2 + 2 + 2 against 1 + 1 + 1.
    if tsm.strided([2.0, 1.0] * 3, 2) != 6.0 or tsm.dynamic([2.0, 1.0] * 3, 2) != 5.0:
        problems.append("alternating costs: strided %s, dynamic %s" % (tsm.strided([2.0, 1.0] * 3, 2),
                                                                       tsm.dynamic([2.0, 1.0] * 3, 2)))
    report("schedules on known inputs", problems)


def test_lengths():
    problems = []
    rng = random.Random(3)
    for spec, b, s in ((None, 3, 50), ((4, 9), 200, 16), (("lognormal", 180, 0.5), 500, 1024)):
        lens = tsm.draw_lens(spec, b, s, rng)
        if len(lens) != b or not all(1 <= l <= s for l in lens):
            problems.append("%s: %s" % (spec, lens[:8]))
    if tsm.draw_lens(None, 2, 5, rng) != [5, 5]:
        problems.append("full rows")
    report("length draws", problems)


def main():
    test_costs()
    test_schedules()
    test_lengths()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
