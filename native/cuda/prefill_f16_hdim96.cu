// Prefill kernels for f16, head_dim 96 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(96, __half)
