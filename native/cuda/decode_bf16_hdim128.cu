// Decode kernels for bf16, head_dim 128 (row packs of 1, 4, 6 and 8, and the tensor-core pack of 16).
#include "decode_launch.cuh"

PATTN_DECODE_INSTANTIATE(__nv_bfloat16, 128)
PATTN_DECODE_INSTANTIATE_MMA(__nv_bfloat16, 128)
