/*
 * test_decode_cuda.c — the cases of test_decode.c on the GPU (device 0);
 * exits 77 (skipped) when there is no GPU.
 */
#define DECODE_TEST_ON_GPU 1
#include "test_decode.c"
