// Split-KV choice of the decode kernel (see decode_heuristics.h). Host-only.
#include "decode_heuristics.h"

#include <algorithm>

namespace pattn {
namespace cuda {
namespace decode_detail {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Fixed cost of a block (query loads, pipeline fill, key-group merge,
// output write) in key-times, about two tiles of d128: 1 x 1k at one split
// took 25.5 us for 1024 keys and 9.1 at 16 splits of 64 keys plus the
// combine (docs/performance.md, Decode), about 0.02 us per key per block
// and several us of fixed cost per call, of which the part that grows with
// the number of waves is the block's own.
constexpr int64_t kBlockOverheadKeys = 64;

}  // namespace

bool throughput_bound(int64_t base_blocks, int sms) { return 2 * base_blocks >= sms; }

int64_t split_wave_cost(const SplitInputs& in, int splits) {
    const int64_t s = std::max(1, splits);
    const int64_t tile = std::max(1, in.tile_keys);
    const int64_t keys = ceil_div(ceil_div(std::max(0, in.max_kv), s), tile) * tile;
    const int64_t waves = ceil_div(in.base_blocks * s, std::max(1, in.slots));
    return waves * (keys + kBlockOverheadKeys);
}

// Splits per row, from sweeps of forced split counts on an H200 (batch 1,
// 16, 64 x cache 1k to 32k, 8 KV heads; docs/performance.md, Decode):
//  - every SM gets a block: small batches are latency bound (batch 1 was
//    fastest with about 16 splits at 1k and 8k keys, 32 at 32k), but with
//    many splits per row not more blocks than SMs;
//  - no split longer than kMaxKeysPerSplit keys;
//  - a grid of between one and two waves of resident blocks, whose second
//    wave would run mostly empty, is raised to two full waves when the
//    splits keep at least kMinKeysForWaves keys (batch 64 x 1k: 87 -> 78 us),
//    on a latency-bound grid (small batches) at least
//    kMinKeysForWavesLatency: the tensor-core kernel's blocks of 1 x 64k at
//    99 splits (two waves of 662 keys, with the device lengths of the
//    suite about 363 real ones) took 58.1 us, 48 splits (one wave) 46.9
//    and 32 splits 45.8, while 1 x 128k (1324 keys) stays fastest at two
//    waves (99 splits 99.2 us; 64, 128, 198: 108-115);
//  - on a throughput-bound batch, a grid of less than one wave is raised
//    to one full wave when the splits keep at least kMinKeysForOneWave
//    keys (16 x 1k with 4 blocks per SM: 2 -> 4 splits, 24.7 -> 23.7 us);
//  - at most kWaves waves of blocks, at least kMinKeysPerSplit keys per
//    split, at most kMaxAutoSplits splits;
//  - last, a grid of more than one wave is trimmed to the count in
//    [2/3 of it, it] with the fewest waves times split length
//    (split_wave_cost): the steps above count waves with a ceiling, so a
//    grid could end in a last wave of a few blocks, each as long as a full
//    one (2 x 64k: 64 splits = 1024 blocks on 396 slots is 3 waves of 1024
//    keys; 49 splits is 2 waves of 1344).
int choose_num_splits(const SplitInputs& in) {
    constexpr int kMaxKeysPerSplit = 1024;
    constexpr int kMinKeysForWaves = 256;
    constexpr int kMinKeysForWavesLatency = 1024;
    constexpr int kMinKeysForOneWave = 128;
    constexpr int kMinKeysPerSplit = 64;
    constexpr int kWaves = 4;
    constexpr int kMaxAutoSplits = 128;
    const int64_t base_blocks = in.base_blocks, slots = std::max(1, in.slots);
    const int max_kv = in.max_kv, sms = std::max(1, in.sms);
    if (max_kv <= 0 || base_blocks <= 0) return 1;
    // Splits that give every SM a block; with more than 8 of them, rounded
    // down so the grid is not a few blocks more than the SMs (1 x 8k: 17
    // splits = 136 blocks on 132 SMs took 17.3 us, 16 splits 14.0 us).
    int64_t fill = ceil_div(sms, base_blocks);
    if (fill > 8 && fill * base_blocks > sms) fill = sms / base_blocks;
    int64_t splits = std::max(fill, ceil_div(max_kv, kMaxKeysPerSplit));
    const int64_t blocks = base_blocks * splits;
    if (blocks > slots && blocks < 2 * slots) {
        const int64_t two_waves = ceil_div(2 * slots, base_blocks);
        const int min_keys = throughput_bound(base_blocks, sms) ? kMinKeysForWaves : kMinKeysForWavesLatency;
        if (max_kv / two_waves >= min_keys) splits = two_waves;
    }
    if (throughput_bound(base_blocks, sms) && base_blocks * splits < slots) {
        const int64_t one_wave = slots / base_blocks;
        if (one_wave > splits && max_kv / one_wave >= kMinKeysForOneWave) splits = one_wave;
    }
    splits = std::min(splits, ceil_div(static_cast<int64_t>(kWaves) * slots, base_blocks));
    splits = std::min(splits, ceil_div(max_kv, kMinKeysPerSplit));
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, kMaxAutoSplits));
    int chosen = static_cast<int>(splits);
    if (base_blocks * chosen > slots) {
        const int lowest = std::max(1, static_cast<int>(ceil_div(2 * chosen, 3)));
        int64_t best_cost = split_wave_cost(in, chosen);
        for (int s = chosen - 1; s >= lowest; --s) {
            const int64_t cost = split_wave_cost(in, s);
            if (cost < best_cost) {
                chosen = s;
                best_cost = cost;
            }
        }
    }
    return chosen;
}

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn
