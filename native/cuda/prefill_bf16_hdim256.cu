// Prefill kernels for bf16, head_dim 256 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(256, __nv_bfloat16)
