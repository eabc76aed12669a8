// Hopper (sm_90a) prefill kernel for bf16, head_dim 128 (causal and bidirectional).
#include "prefill_hopper_launch.cuh"

PATTN_INSTANTIATE_PREFILL_HOPPER(128, __nv_bfloat16)
