// Internal: what the decode kernels receive (decode_kernel.cuh), their
// block shape and shared-memory sizes, shared by the kernels, their launch
// code (decode_launch.cuh) and the dispatch (decode_dispatch.cu).
#pragma once

#include <cstdint>

#include "common/ptx.cuh"
#include "qkv_layout.h"

namespace pattn {
namespace cuda {
namespace decode_detail {

// Host lengths of up to this many rows travel in the kernel parameters (no
// copy, no workspace); the struct stays below CUDA 11.x's 4 KB limit.
constexpr int kDecodeParamRows = 512;

// The QkvLayout base holds q/k/v, o (the final output, written when
// num_splits == 1), lse (final, natural log, or null) and their strides.
struct DecodeParams : QkvLayout {
    float* part_o;           // [splits, batch, q_len, num_qo_heads, head_dim] f32, normalized
    float* part_lse;         // [splits, batch, q_len, num_qo_heads], log2 domain
    const int32_t* kv_lens;  // device memory, or null: every row has cache_len keys

    int32_t batch, q_len, cache_len;
    int32_t num_qo_heads, num_kv_heads, group;
    int32_t rows_per_kv_head;  // group * q_len
    int32_t row_chunks;        // ceil(rows_per_kv_head / ROWS)
    int32_t num_splits;
    int32_t cluster_merge;     // 1: the num_splits blocks of a row are one thread-block
                               // cluster (sm_90) and split 0 merges them; no partials
    int32_t left_padded;
    int32_t stages;            // cp.async pipeline depth, 2..kMaxStages (tiles in flight: stages - 1)
    float scale_log2;          // softmax scale * log2(e): scores live in base 2

    // 1: kv_lens is null and row b has param_lens[b] real keys (host
    // lengths, already range-checked).
    int32_t lens_in_params;
    int32_t param_lens[kDecodeParamRows];
};
static_assert(sizeof(DecodeParams) <= 4000, "kernel parameters are limited to 4 KB (CUDA 11.x)");

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kDefaultStages = 4;
constexpr int kMaxStages = 8;
static_assert(kMaxStages - 2 <= kMaxCpAsyncWaitCount, "cp_async_wait_dyn covers the pipeline depths");
constexpr int kStepsPerTile = 4;  // 16-byte K and V loads per thread per tile

template <int HEAD_DIM>
struct DecodeShape {
    static constexpr int kLanesPerKey = HEAD_DIM / 8;
    static constexpr int kKeysPerWarp = 32 / kLanesPerKey;
    static constexpr int kKeysPerStep = kWarps * kKeysPerWarp;
    static constexpr int kTileKeys = kStepsPerTile * kKeysPerStep;
    static constexpr int kStates = kThreads / kLanesPerKey;  // key groups per block
    static_assert(kLanesPerKey >= 8 && kLanesPerKey <= 32, "head_dim 64..256");
};

// Pipeline buffers: [stage][K or V][step][thread] 16-byte slots.
constexpr int kStageBytes = 2 * kStepsPerTile * kThreads * 16;

template <int ROWS>
constexpr int merge_bytes() {
    // m and l per (state, row) plus acc per (state, row, head_dim): the
    // product states * head_dim is always kThreads * 8.
    return ROWS * kThreads * 8 * 4 + 2 * ROWS * kThreads * 4;
}

// Cluster merge (sm_90): the splits of one row run as one thread-block
// cluster of up to kMaxClusterSplits blocks. Each block leaves its
// normalized state (o in f32, lse in base 2) in its own shared memory, after
// the key-group merge area; block 0 of the cluster reads the others' through
// distributed shared memory, merges and writes o and lse. One launch, no
// workspace, no partials through L2.
constexpr int kMaxClusterSplits = 16;

template <int ROWS, int HEAD_DIM>
constexpr int cluster_bytes() {
    // o [ROWS][HEAD_DIM], lse [ROWS], weights [ROWS][kMaxClusterSplits], final lse [ROWS]
    return (ROWS * HEAD_DIM + ROWS + ROWS * kMaxClusterSplits + ROWS) * 4;
}

// Dynamic shared memory of a block: the pipeline buffers, reused after the
// key loop by the key-group merge area and the cluster merge area behind it.
template <int ROWS, int HEAD_DIM>
constexpr int decode_smem_bytes(int stages) {
    return stages * kStageBytes > merge_bytes<ROWS>() + cluster_bytes<ROWS, HEAD_DIM>()
               ? stages * kStageBytes
               : merge_bytes<ROWS>() + cluster_bytes<ROWS, HEAD_DIM>();
}

// The combine kernel writes o and lse of the QkvLayout base (q/k/v unused).
struct CombineParams : QkvLayout {
    const float* part_o;    // [splits, rows, head_dim], rows = batch * q_len * num_qo_heads
    const float* part_lse;  // [splits, rows], log2 domain
    int64_t rows;
    int32_t splits, q_len, num_qo_heads, head_dim;
};

constexpr int kCombineThreads = 128;
// Upper bound on KV splits (forced counts above it are clamped; the result
// is the same, only the grid is smaller).
constexpr int kMaxSplits = 1024;

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn
