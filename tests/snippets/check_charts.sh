#!/usr/bin/env bash
# The benchmark chart tool on the sample JSON of both benchmarks: each must
# give a PNG (magic bytes, more than 10 kB) next to its JSON.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$ROOT"/bench/PaddedAttention.Charts/samples/*.json "$work/"
dotnet run --project "$ROOT/bench/PaddedAttention.Charts" -c Release --no-build -- "$work"/*.json
for json in "$work"/*.json; do
    png="${json%.json}.png"
    [ -f "$png" ] || { echo "no $png"; exit 1; }
    size=$(stat -c %s "$png")
    magic=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
    [ "$magic" = "89504e470d0a1a0a" ] || { echo "$png is not a PNG ($magic)"; exit 1; }
    [ "$size" -gt 10000 ] || { echo "$png has only $size bytes"; exit 1; }
    echo "$png: $size bytes"
done
# --peers keeps only the named peers: the summary line lists just them.
cp "$ROOT/bench/PaddedAttention.Charts/samples/bench_prefill.sample.json" "$work/filtered.json"
summary=$(dotnet run --project "$ROOT/bench/PaddedAttention.Charts" -c Release --no-build -- --peers cudnn "$work/filtered.json")
echo "$summary"
[[ "$summary" == *"peers cudnn" ]] || { echo "--peers cudnn kept other peers: $summary"; exit 1; }
[ -s "$work/filtered.png" ] || { echo "no filtered.png"; exit 1; }
