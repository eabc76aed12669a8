// Host-only: how the decode kernel is spread over the GPU (pipeline depth
// class and KV splits per row), from the grid's shape and the device's
// resident-block count. No CUDA types, so that ctest checks the rules on a
// machine without a GPU (native/tests/heuristics/test_decode_heuristics.cpp).
// The measurements behind the constants are in docs/performance.md (Decode).
#pragma once

#include <cstdint>

namespace pattn {
namespace cuda {
namespace decode_detail {

// What the split choice sees of one call.
struct SplitInputs {
    int64_t base_blocks;  // blocks before splitting: batch * num_kv_heads * row chunks
    int32_t max_kv;       // longest row the choice must cover (host lengths) or cache_len
    int32_t tile_keys;    // keys per pipeline tile of the kernel (whole tiles per split)
    int32_t sms;          // multiprocessors
    int32_t slots;        // resident blocks of the kernel on the whole GPU (sms * per SM)
};

// A grid of at least one block per two SMs before splitting: throughput
// bound (3-stage pipelines where that buys a resident block; see dispatch).
bool throughput_bound(int64_t base_blocks, int sms);

// KV splits per row (>= 1).
int choose_num_splits(const SplitInputs& in);

// The wave cost the last step of choose_num_splits minimizes, in key-times
// of one block: ceil(blocks / slots) waves, each as long as one split's
// keys (whole tiles) plus a fixed per-block cost. Exposed for the tests.
int64_t split_wave_cost(const SplitInputs& in, int splits);

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn
