// Prefill kernels for bf16, head_dim 128 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(128, __nv_bfloat16)
