// Internal: a validated call reduced to what the backends need (raw pointers
// and element strides), in the spirit of FlashAttention's flash.h params.
// Produced by validate.cpp; consumed by cpu/ and cuda/. Not part of the ABI.
#pragma once

#include <cstdint>

#include "paddedattn.h"
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
    int32_t cpu_max_threads;      // CPU backend: most threads a call uses, 0 = all
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
