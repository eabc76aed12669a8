// test_decode_heuristics — the decode split choice (native/cuda/
// decode_heuristics.cpp, host-only) on an H200's shape: 132 SMs; d128 blocks
// of 4 packed rows, 32-key tiles, 3 resident per SM at 4 stages (396 slots)
// or 4 at 3 stages (528); blocks of 8 rows 2 per SM (264). Checks the counts
// the measured sweeps picked (docs/performance.md, Decode), the wave trim of
// the long-cache cases, and bounds over a sweep of shapes. Runs without a GPU.
#include <cstdint>
#include <cstdio>
#include <initializer_list>

#include "decode_heuristics.h"

using pattn::cuda::decode_detail::choose_num_splits;
using pattn::cuda::decode_detail::split_wave_cost;
using pattn::cuda::decode_detail::SplitInputs;
using pattn::cuda::decode_detail::throughput_bound;

static int g_failures = 0;

#define EXPECT_EQ(actual, expected, what)                                                              \
    do {                                                                                               \
        const long long a_ = (long long)(actual), e_ = (long long)(expected);                          \
        if (a_ != e_) {                                                                                \
            std::printf("FAIL %s:%d %s: got %lld, expected %lld\n", __FILE__, __LINE__, what, a_, e_); \
            ++g_failures;                                                                              \
        }                                                                                              \
    } while (0)

static SplitInputs h200(int64_t batch, int32_t kv_heads, int32_t cache, int32_t slots_per_sm) {
    return SplitInputs{batch * kv_heads, cache, 32, 132, 132 * slots_per_sm};
}

int main() {
    // throughput_bound: at least one block per two SMs before splitting.
    EXPECT_EQ(throughput_bound(66, 132), 1, "66 blocks on 132 SMs");
    EXPECT_EQ(throughput_bound(65, 132), 0, "65 blocks on 132 SMs");

    // The measured cases keep the counts their sweeps chose.
    EXPECT_EQ(choose_num_splits(h200(1, 8, 1024, 3)), 16, "1 x 1k");
    EXPECT_EQ(choose_num_splits(h200(1, 8, 8192, 3)), 16, "1 x 8k (16, not 17: no more blocks than SMs)");
    EXPECT_EQ(choose_num_splits(h200(1, 8, 32768, 3)), 32, "1 x 32k");
    EXPECT_EQ(choose_num_splits(h200(16, 8, 1024, 4)), 4, "16 x 1k (one full wave at 4 per SM)");
    EXPECT_EQ(choose_num_splits(h200(64, 8, 1024, 4)), 1, "64 x 1k (one wave, one kernel)");
    EXPECT_EQ(choose_num_splits(h200(16, 8, 8192, 4)), 8, "16 x 8k (two waves, not 9 splits = 2.2 waves)");
    EXPECT_EQ(choose_num_splits(h200(64, 8, 8192, 4)), 4, "64 x 8k (4 waves, not 5 splits = 4.85)");

    // The wave trim: long caches of small batches end in full waves.
    EXPECT_EQ(choose_num_splits(h200(2, 8, 65536, 3)), 49, "2 x 64k: 784 blocks, 2 waves (64 was 2.6)");
    EXPECT_EQ(choose_num_splits(h200(1, 8, 65536, 3)), 49,
              "1 x 64k: 392 blocks, one wave (two waves would be splits of 662 keys)");
    EXPECT_EQ(choose_num_splits(h200(1, 8, 131072, 3)), 99, "1 x 128k: 2 waves (128 was 2.6)");
    EXPECT_EQ(choose_num_splits(h200(4, 8, 32768, 3)), 24, "4 x 32k: 768 blocks, 2 waves");
    {
        const SplitInputs in = h200(2, 8, 65536, 3);
        EXPECT_EQ(split_wave_cost(in, 64), 3 * (1024 + 64), "cost of 64 splits: 3 waves of 1024 keys");
        EXPECT_EQ(split_wave_cost(in, 49), 2 * (1344 + 64), "cost of 49 splits: 2 waves of 1344 keys");
    }

    // Degenerate inputs.
    EXPECT_EQ(choose_num_splits(h200(1, 8, 0, 3)), 1, "no keys");
    EXPECT_EQ(choose_num_splits(SplitInputs{0, 1000, 32, 132, 396}), 1, "no blocks");
    EXPECT_EQ(choose_num_splits(SplitInputs{1, 1000, 32, 0, 0}), choose_num_splits(SplitInputs{1, 1000, 32, 1, 1}),
              "zero SMs and slots count as one");

    // Bounds over a sweep: 1..128 splits, >= 64 keys per split (or 1), and
    // a grid of more than two splits has at most four waves.
    for (int64_t batch : {1, 2, 3, 4, 8, 16, 32, 64, 128, 256})
        for (int32_t cache : {1, 17, 64, 1000, 1024, 4096, 8192, 16384, 32768, 65536, 131072})
            for (int32_t per_sm : {1, 2, 3, 4})
                for (int32_t kv_heads : {1, 4, 8}) {
                    const SplitInputs in = h200(batch, kv_heads, cache, per_sm);
                    const int s = choose_num_splits(in);
                    char what[128];
                    std::snprintf(what, sizeof what, "bounds b%lld h%d cache %d per_sm %d", (long long)batch,
                                  kv_heads, cache, per_sm);
                    EXPECT_EQ(s >= 1 && s <= 128, 1, what);
                    EXPECT_EQ(s == 1 || (cache + s - 1) / s >= 64 || s <= (cache + 63) / 64, 1, what);
                    const int64_t waves = (in.base_blocks * s + in.slots - 1) / in.slots;
                    // (The four-wave cap rounds up: a batch of 2 to 4 waves unsplit may take 2.)
                    EXPECT_EQ(s <= 2 || waves <= 4, 1, what);
                }

    if (g_failures) {
        std::printf("test_decode_heuristics: %d check(s) FAILED\n", g_failures);
        return 1;
    }
    std::printf("test_decode_heuristics: all checks passed\n");
    return 0;
}
