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
    float* part_state;       // [2][splits, batch, q_len, num_qo_heads]: each split's running
                             // max (log2 domain), then its sum of 2^(score - max)
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
    // Attention variants: the left window (-1 = unlimited; a right window
    // cannot narrow a causal row) and the soft cap in base 2 (cap * log2(e);
    // 0 = off): a base-2 score s becomes soft_cap_log2 * tanh(s / soft_cap_log2).
    int32_t window_left;
    int32_t window_span;       // mask_rules.h causal_window_span(window_left)
    float soft_cap_log2;
    float soft_cap_inv_log2;   // 1 / soft_cap_log2 (0 when off)

    // Paged cache (page_table != null, right padding): k/v are
    // [num_pages, page_size, heads, head_dim], k_stride_b / v_stride_b step
    // pages and k_stride_s / v_stride_s slots; real key j of row b is slot
    // j % page_size of page page_table[b * page_table_stride + j / page_size]
    // (clamped into [0, num_pages)). cache_len is the capacity of a row.
    const int32_t* page_table;
    int64_t page_table_stride;
    int32_t page_size, num_pages;
    int32_t page_shift;        // log2(page_size) when it is a power of two, else -1

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
    // 16-byte vectors of a K/V row: one per lane of the key's lane group.
    static constexpr int kVecs = HEAD_DIM / 8;
    // Lanes of a key group: kVecs rounded up to a power of two, so that the
    // group's partial dot products add up in a butterfly of xor shuffles.
    // head_dim 80 and 96 (10 and 12 vectors) leave 6 and 4 of 16 lanes idle:
    // they load nothing and hold zeros (decode is memory-bound; the idle
    // lanes cost shared-memory and instruction slots, not bandwidth).
    static constexpr int kLanesPerKey = kVecs <= 4 ? 4 : kVecs <= 8 ? 8 : kVecs <= 16 ? 16 : 32;
    static constexpr bool kIdleLanes = kLanesPerKey != kVecs;
    static constexpr int kKeysPerWarp = 32 / kLanesPerKey;
    static constexpr int kKeysPerStep = kWarps * kKeysPerWarp;
    static constexpr int kTileKeys = kStepsPerTile * kKeysPerStep;
    static constexpr int kStates = kThreads / kLanesPerKey;  // key groups per block
    static_assert(HEAD_DIM % 8 == 0 && kVecs >= 4 && kVecs <= 32, "head_dim 32..256, a multiple of 8");
};

// Pipeline buffers: [stage][K or V][step][thread] 16-byte slots.
constexpr int kStageBytes = 2 * kStepsPerTile * kThreads * 16;

template <int ROWS>
constexpr int merge_bytes() {
    // m and l per (state, row) plus acc per (state, row, head_dim): the
    // product states * head_dim is at most kThreads * 8 (equal without idle
    // lanes, DecodeShape).
    return ROWS * kThreads * 8 * 4 + 2 * ROWS * kThreads * 4;
}

// Cluster merge (sm_90): the splits of one row run as one thread-block
// cluster of up to kMaxClusterSplits blocks. Each block leaves its
// normalized state (o in f32, max in base 2 and sum) in its own shared memory, after
// the key-group merge area; block 0 of the cluster reads the others' through
// distributed shared memory, merges and writes o and lse. One launch, no
// workspace, no partials through L2.
constexpr int kMaxClusterSplits = 16;

template <int ROWS, int HEAD_DIM>
constexpr int cluster_bytes() {
    // o [ROWS][HEAD_DIM], max and sum [ROWS] each, weights [ROWS][kMaxClusterSplits], final lse [ROWS]
    return (ROWS * HEAD_DIM + 2 * ROWS + ROWS * kMaxClusterSplits + ROWS) * 4;
}

// The tensor-core variant (decode_mma_kernel, decode_kernel.cuh): a block's
// rows are the M = 16 rows of mma.sync m16n8k16, each warp owns the keys its
// lanes copied and keeps one softmax state per row, so the key-group merge
// has kWarps states. Row packs of 2 to 16 rows (GQA groups, speculative
// q_len) of head_dim <= 128 take it (decode_dispatch.cu); head_dim 256 has
// fewer than 8 keys per warp and tile (DecodeShape) and keeps the CUDA-core
// kernel.
constexpr int kMmaRows = 16;
constexpr int kMmaMinRows = 2;  // the dispatch's default (PADDEDATTN_DECODE_MMA overrides it)
template <int HEAD_DIM>
constexpr bool mma_decode_supported() {
    return DecodeShape<HEAD_DIM>::kLanesPerKey <= 16;
}

// The key-group merge area of a block: the CUDA-core kernel's (merge_bytes)
// or the tensor-core kernel's (m, l and acc per warp and row).
template <int ROWS, int HEAD_DIM>
constexpr int merge_area_bytes() {
    return ROWS == kMmaRows ? kWarps * ROWS * (HEAD_DIM + 2) * 4 : merge_bytes<ROWS>();
}

// Dynamic shared memory of a block: the pipeline buffers, reused after the
// key loop by the key-group merge area and the cluster merge area behind it.
template <int ROWS, int HEAD_DIM>
constexpr int decode_smem_bytes(int stages) {
    return stages * kStageBytes > merge_area_bytes<ROWS, HEAD_DIM>() + cluster_bytes<ROWS, HEAD_DIM>()
               ? stages * kStageBytes
               : merge_area_bytes<ROWS, HEAD_DIM>() + cluster_bytes<ROWS, HEAD_DIM>();
}

// The combine kernel's parameters. Its o/lse pointers and strides are those
// of the QkvLayout (set_output copies them) but keep their own places: this
// field order is what the kernel was measured with, and moving the fields
// changes its sm_90 code.
struct CombineParams {
    const float* part_o;    // [splits, rows, head_dim], rows = batch * q_len * num_qo_heads
    const float* part_state;  // [2][splits, rows]: max (log2 domain), then sum (DecodeParams)
    void* o;
    float* lse;
    int64_t rows;
    int32_t splits, q_len, num_qo_heads, head_dim;
    int64_t o_stride_b, o_stride_s, o_stride_h;
    int64_t lse_stride_b, lse_stride_s, lse_stride_h;

    void set_output(const QkvLayout& layout) {
        o = layout.o;
        lse = layout.lse;
        o_stride_b = layout.o_stride_b;
        o_stride_s = layout.o_stride_s;
        o_stride_h = layout.o_stride_h;
        lse_stride_b = layout.lse_stride_b;
        lse_stride_s = layout.lse_stride_s;
        lse_stride_h = layout.lse_stride_h;
    }
};

constexpr int kCombineThreads = 128;
// Upper bound on KV splits (forced counts above it are clamped; the result
// is the same, only the grid is smaller).
constexpr int kMaxSplits = 1024;

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn
