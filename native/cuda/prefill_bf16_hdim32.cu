// Prefill kernels for bf16, head_dim 32 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(32, __nv_bfloat16)
