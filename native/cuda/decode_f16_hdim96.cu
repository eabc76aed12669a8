// Decode kernels for f16, head_dim 96 (row packs of 1, 4, 6 and 8, and the tensor-core pack of 16);
// 16 lanes per key, 12 of them loading (DecodeShape in decode_params.h).
#include "decode_launch.cuh"

PATTN_DECODE_INSTANTIATE(__half, 96)
PATTN_DECODE_INSTANTIATE_MMA(__half, 96)
