// Hopper (sm_90a) prefill kernel for f16, head_dim 64 (causal and bidirectional).
#include "prefill_hopper_launch.cuh"

PATTN_INSTANTIATE_PREFILL_HOPPER(64, __half)
