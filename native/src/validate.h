// Internal: all argument checking of the C ABI, in one place. Each function
// turns a public params struct into the backend arguments, or returns a
// status with a message that names the argument and the value.
#pragma once

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
bool cuda_supports_head_dim(int64_t head_dim, bool decode);
constexpr int64_t kCpuMaxHeadDim = 512;

}  // namespace pattn
