#!/usr/bin/env python3
"""A model (arithmetic, not a measurement) of how the prefill grid's query
tiles spread over the SMs: the idle time at the tail under three ways of
handing tiles to blocks, for the cases of bench_prefill.py.

Tiles, their order and their cost follow the kernels:
- the grid visits rows most work first, and within a (row, KV head) its query
  tiles from the last to the first (prefill_tile.cuh locate_block_tile), GQA
  heads packed into the tile's rows (packed row p = query p / group);
- a tile costs one unit per KV tile it visits (keys up to its last real
  query's visible keys, mask_rules.h tile_key_range without a window), plus
  a fixed cost per tile (prologue: Q and the first K/V in flight; epilogue:
  normalise and store), and tiles none of whose rows sees a key cost a
  fraction of a unit (they only write o = 0).

Schedules:
- "grid": one block per tile; the hardware starts the next block of the
  grid on whichever slot frees first (what the kernels do today);
- "strided": a persistent grid of as many blocks as the slots, block x
  running tiles x, x + G, x + 2G, ... (the short-row tiles'
  PADDEDATTN_PREFILL_HOPPER_PERSISTENT=1);
- "lpt": the same dynamic assignment as "grid" over the tiles sorted by
  cost, most first (a lower bound for any order of one pass).

Prints per case the mean number of KV tiles of a tile that sees keys (how
much work the fixed cost per tile is spread over) and the makespan over the
ideal (total cost / slots) per fixed cost: 1.000 means no slot idles at the
tail. Lengths are drawn with this script's own seed, so they are not
bench_prefill.py's draws (those need torch), only the same distributions.
    python3 bench/python/tile_schedule_model.py [--sms 132] [--fixed 1,2]
"""
import argparse
import heapq
import math
import random


def draw_lens(spec, b, s, rng):
    if spec is None:
        return [s] * b
    if spec[0] == "lognormal":
        _, median, sigma = spec
        return [min(s, max(1, round(math.exp(rng.gauss(math.log(median), sigma))))) for _ in range(b)]
    lo, hi = spec
    return [rng.randint(lo, hi) for _ in range(b)]


# name, batch, padded length, q heads, kv heads, head_dim, causal, lengths,
# tiles: (query rows per tile, keys per KV tile, blocks per SM) of the
# default dispatch on these rows (prefill_dispatch.cu; H100 run of
# 2026-12-07: 128-row warp-specialised tiles for rows of >= 1024 tokens at
# head_dim 128 and 256, 64-row short tiles with 48 keys and three blocks
# per SM below, 64-row tiles with 64 keys and four blocks at head_dim 64).
CASES = [
    ("b1 s16384 causal 32/32", 1, 16384, 32, 32, 128, True, None, (128, 128, 1)),
    ("b1 s16384 bidirectional 32/32", 1, 16384, 32, 32, 128, False, None, (128, 128, 1)),
    ("b4 s8192 causal left", 4, 8192, 32, 8, 128, True, (4096, 8192), (128, 128, 1)),
    ("b8 s4096 causal full", 8, 4096, 32, 8, 128, True, None, (128, 128, 1)),
    ("b16 s2048 causal left", 16, 2048, 32, 8, 128, True, (256, 2048), (128, 128, 1)),
    ("b16 s2048 padded right 32/32", 16, 2048, 32, 32, 128, False, (256, 2048), (128, 128, 1)),
    ("b8 s4096 causal left d256 16/4", 8, 4096, 16, 4, 256, True, (1024, 4096), (128, 64, 1)),
    ("b128 s1024 causal left lognormal", 128, 1024, 32, 8, 128, True, ("lognormal", 180, 0.5), (64, 48, 3)),
    ("b256 s256 padded right 32/8", 256, 256, 32, 8, 128, False, (16, 256), (64, 48, 3)),
    ("b512 s128 padded right d64 12/12 (BERT)", 512, 128, 12, 12, 64, False, (16, 128), (64, 64, 4)),
    ("b64 s512 causal left", 64, 512, 32, 8, 128, True, (64, 512), (64, 48, 3)),
]


def tile_costs(case, fixed, keyless):
    """Costs of the grid's tiles in grid order (block index order), for
    lengths drawn with the script's seed."""
    return tile_costs_of(case, draw_lens(case[7], case[1], case[2], random.Random(20261208)), fixed, keyless)


def tile_costs_of(case, lens, fixed, keyless):
    """The same for the given lengths (query and key lengths equal)."""
    _, b, s, hq, hkv, _, causal, _, (bm, bn, _) = case
    group = hq // hkv
    # Rows most work first (prefill_rows.h row_work: L^2 either way when the
    # query and key lengths are one; stable for equal work).
    work = [l * l for l in lens]
    order = sorted(range(b), key=lambda r: -work[r])
    num_q_tiles = -(-s * group // bm)
    costs = []
    for r in order:
        qv = kv = lens[r]
        for _ in range(hkv):
            for t in range(num_q_tiles - 1, -1, -1):
                p0 = t * bm
                if p0 >= qv * group:
                    costs.append(keyless)
                    continue
                i_last = (min(qv * group, p0 + bm) - 1) // group
                keys = min(kv, i_last + 1 + kv - qv) if causal else kv
                costs.append(-(-keys // bn) + fixed)
    return costs


def dynamic(costs, slots):
    free = [0.0] * slots
    heapq.heapify(free)
    end = 0.0
    for c in costs:
        t = heapq.heappop(free) + c
        end = max(end, t)
        heapq.heappush(free, t)
    return end


def strided(costs, slots):
    total = [0.0] * slots
    for x, c in enumerate(costs):
        total[x % slots] += c
    return max(total)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sms", type=int, default=132, help="SMs (H100 SXM and H200: 132)")
    ap.add_argument("--fixed", default="1,2", help="fixed cost per tile, in KV-tile units, comma-separated")
    ap.add_argument("--keyless", type=float, default=0.25, help="cost of a tile that sees no key")
    args = ap.parse_args()
    fixed_costs = [float(x) for x in args.fixed.split(",")]
    print("| case | tiles | waves | KV tiles per tile seeing keys | " +
          " | ".join("grid / strided / lpt (fixed %g)" % f for f in fixed_costs) + " |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in fixed_costs) + " |")
    for case in CASES:
        slots = args.sms * case[8][2]
        cells = []
        for f in fixed_costs:
            costs = tile_costs(case, f, args.keyless)
            ideal = sum(costs) / slots
            cells.append("%.3f / %.3f / %.3f" % (dynamic(costs, slots) / ideal, strided(costs, slots) / ideal,
                                                 dynamic(sorted(costs, reverse=True), slots) / ideal))
        # Mean KV tiles of the tiles that see a key: with fixed cost 0 and
        # key-less tiles at -1, those are the costs >= 0.
        bare = tile_costs(case, 0.0, -1.0)
        steps = [c for c in bare if c >= 0]
        n = len(bare)
        print("| %s | %d | %.1f | %.1f | %s |" % (case[0], n, n / slots, sum(steps) / len(steps), " | ".join(cells)))


if __name__ == "__main__":
    main()
