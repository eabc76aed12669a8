// Decode kernels for f16, head_dim 32 (row packs of 1, 4, 6 and 8, and the tensor-core pack of 16).
#include "decode_launch.cuh"

PATTN_DECODE_INSTANTIATE(__half, 32)
PATTN_DECODE_INSTANTIATE_MMA(__half, 32)
