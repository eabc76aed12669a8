// Decode kernels for f16, head_dim 128 (row packs of 1, 4, 6 and 8, and the tensor-core pack of 16).
#include "decode_launch.cuh"

PATTN_DECODE_INSTANTIATE(__half, 128)
PATTN_DECODE_INSTANTIATE_MMA(__half, 128)
