/*
 * test_decode_paged_cuda.c — the cases of test_decode_paged.c on the GPU
 * (device 0); exits 77 (skipped) when there is no GPU.
 */
#define DECODE_PAGED_TEST_ON_GPU 1
#include "test_decode_paged.c"
