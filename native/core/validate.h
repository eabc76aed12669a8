// Internal: all argument checking of the C ABI, in one place. Each function
// turns a public params struct into the backend arguments, or returns a
// status with a message that names the argument and the value.
#pragma once

#include <cstdint>

#include "attention_args.h"
#include "paddedattn.h"

namespace pattn {

// Where a validated call runs.
struct Placement {
    bool on_cuda;       // false: host memory, CPU backend
    int32_t device_id;  // CUDA device ordinal when on_cuda
};

// On success *no_op tells whether the call has nothing to do (batch, q_len or
// heads is 0); then *args is not filled.
pattn_status validate_prefill(const pattn_prefill_params* params, AttentionArgs* args,
                              Placement* where, bool* no_op);

// Decode maps to causal attention with every query row real (q_lens = null).
pattn_status validate_decode(const pattn_decode_params* params, AttentionArgs* args,
                             Placement* where, bool* no_op);

pattn_status validate_merge(const pattn_merge_params* params, MergeArgs* args,
                            Placement* where, bool* no_op);

// Head dims the backends handle (also used in messages).
bool cuda_supports_head_dim(int64_t head_dim);
constexpr int64_t kCpuMaxHeadDim = 512;

// Limits (docs/native-api.md, "Limits"); past them validation refuses the
// call with INVALID_ARGUMENT, so the backends may index in 32 bits below them.
// The longest sequence (q_len, kv_len, cache_len), every dtype: the longest
// row whose accuracy is documented (docs/semantics.md) and far inside the
// 32-bit tile arithmetic of the backends (j0 + tile, i + kv - qv).
constexpr int64_t kMaxSequenceLength = int64_t(1) << 26;
// batch * q_len * num_qo_heads: query rows of all heads (one CUDA block per
// tile of them, one decode-combine block per row, packed GQA rows in int32).
constexpr int64_t kMaxQueryRows = int64_t(1) << 30;
// Rows of one CUDA decode call (grid.y).
constexpr int64_t kMaxCudaDecodeBatch = 65535;
// page_size of a paged prefill call (pattn_prefill_params.page_table).
constexpr int64_t kMaxPrefillPageSize = 256;
// New queries per row of a decode call.
constexpr int64_t kMaxDecodeQueries = 16;
// States of one merge call (all dimensions but head_dim; one warp each in a
// 32-bit grid).
constexpr int64_t kMaxMergeStates = INT32_MAX;

}  // namespace pattn
