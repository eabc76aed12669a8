// Internal: a validated call reduced to what the backends need (raw pointers
// and element strides), in the spirit of FlashAttention's flash.h params.
// Produced by validate.cpp; consumed by cpu/ and cuda/. Not part of the ABI.
#pragma once

#include <cstdint>

#include "paddedattn.h"
#include "mask_rules.h"
#include "qkv_layout.h"

namespace pattn {

// Prefill and decode share this: decode is causal attention of q_len real
// queries per row against kv_lens[b] real keys of a padded cache. The
// pointers and strides of q/k/v/o/lse are the QkvLayout base.
struct AttentionArgs : QkvLayout {
    pattn_dtype dtype;
    int32_t device_id;            // CUDA device ordinal (unused on the CPU backend)
    int32_t batch, q_len, kv_len;
    int32_t num_qo_heads, num_kv_heads, head_dim;
    float scale;                  // resolved softmax scale, never 0
    bool causal;                  // from the mask mode (always true for decode)
    bool left_padded;             // real rows at the end of each sequence

    // Valid lengths, [batch] int32. q_lens == null: every row has q_len real
    // queries; kv_lens == null: every row has kv_len real keys (validate.cpp
    // already made kv_lens point at q_lens when only q lengths were given).
    // Both live in the same place: host memory (already range-checked) or
    // device memory (lens_on_device; kernels clamp them with clamp_len).
    const int32_t* q_lens;
    const int32_t* kv_lens;
    bool lens_on_device;

    int32_t num_splits;           // decode: KV splits per row, 0 = choose

    // Decode against a paged KV cache (page_table != null): k and v are
    // [num_pages, page_size, num_kv_heads, head_dim] (k_stride_b / v_stride_b
    // step pages, k_stride_s / v_stride_s slots of a page), real key j of
    // row b is slot j % page_size of page
    // page_table[b * page_table_stride + j / page_size], and kv_len is the
    // capacity of a row, max_pages_per_row * page_size (0 without pages).
    // The table lives where the tensors live; host tables are checked,
    // device entries are clamped into [0, num_pages).
    const int32_t* page_table;
    int64_t page_table_stride;
    int32_t page_size, num_pages, max_pages_per_row;
    int32_t cpu_max_threads;      // CPU backend: most threads a call uses, 0 = all

    // Attention variants (mask_rules.h MaskSpec): window sides -1 when
    // unlimited (both -1 without a window); soft_cap 0 when off.
    int32_t window_left = -1, window_right = -1;
    float soft_cap = 0.0f;

    // Packed layout (cu_seqlens): q_len / kv_len are the total token counts,
    // the tensors are seen as [1, total, heads, head_dim] (batch strides 0),
    // sequence b's extent is mask_rules.h packed_row_extent; longest_q
    // (below) bounds every sequence's query count (the CUDA grid). q_lens /
    // kv_lens are null.
    bool packed = false;
    bool cu_on_device = false;
    const int32_t* cu_q = nullptr;   // [batch + 1]
    const int32_t* cu_kv = nullptr;  // [batch + 1] (= cu_q when absent)

    // The most real queries / keys of one row, from validate.cpp's single
    // pass over host lengths or host offsets (checked); where those are not
    // on the host (absent, on the device), the padded q_len / kv_len, and
    // with device offsets max_q_seqlen / the key total. The CUDA dispatch
    // plans with these instead of reading the lengths again.
    int32_t longest_q = 0, longest_kv = 0;

    MaskSpec mask() const { return mask_spec(causal, window_left, window_right); }
};

// Merge of two attention states; rank-3 tensors are seen as rank 4 with
// d0 = 1. Strides are in elements for [d0, d1, heads] (last dim contiguous).
struct MergeArgs {
    pattn_dtype dtype;            // of the o tensors
    int32_t device_id;
    int64_t d0, d1;
    int32_t num_heads, head_dim;
    const void* o_a;
    const void* o_b;
    void* o_out;
    const float* lse_a;
    const float* lse_b;
    float* lse_out;
    int64_t o_a_stride[3], o_b_stride[3], o_out_stride[3];
    int64_t lse_a_stride[3], lse_b_stride[3], lse_out_stride[3];
};

}  // namespace pattn
