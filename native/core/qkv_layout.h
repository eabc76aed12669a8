// Internal: the pointers and element strides of q, k, v, o and lse, the one
// layout record every parameter struct carries (FlashAttention's Qkv_params
// idea). AttentionArgs, the prefill and the decode kernel parameters derive
// from it, so the strides are filled once (validate.cpp) and handed on as
// one value (`static_cast<QkvLayout&>(params) = args;`), not field by field.
#pragma once

#include <cstdint>

namespace pattn {

struct QkvLayout {
    const void* q;                // [batch, q_len, num_qo_heads, head_dim]
    const void* k;                // [batch, kv_len, num_kv_heads, head_dim]
    const void* v;                // [batch, kv_len, num_kv_heads, head_dim]
    void* o;                      // [batch, q_len, num_qo_heads, head_dim]
    float* lse;                   // [batch, q_len, num_qo_heads] or null

    // Element strides of the batch, sequence and head dimensions (the last
    // dimension is contiguous).
    int64_t q_stride_b, q_stride_s, q_stride_h;
    int64_t k_stride_b, k_stride_s, k_stride_h;
    int64_t v_stride_b, v_stride_s, v_stride_h;
    int64_t o_stride_b, o_stride_s, o_stride_h;
    int64_t lse_stride_b, lse_stride_s, lse_stride_h;
};

}  // namespace pattn
