// Prefill kernels for f16, head_dim 64 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(64, __half)
