// Prefill kernels for f16, head_dim 80 (causal and bidirectional).
#include "prefill_launch.cuh"

PATTN_INSTANTIATE_PREFILL(80, __half)
