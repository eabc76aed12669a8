// Prefill kernels for f16, head_dim 128 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(128, __half)
