// Decode kernels for bf16, head_dim 128 (row packs of 1, 4 and 8).
#include "decode_launch.cuh"

PATTN_DECODE_INSTANTIATE(__nv_bfloat16, 128)
