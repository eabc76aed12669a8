/*
 * test_prefill_paged_cuda.c — the cases of test_prefill_paged.c on the GPU
 * (device 0, the mma.sync prefill kernel); exits 77 (skipped) when there is
 * no GPU.
 */
#define PREFILL_PAGED_TEST_ON_GPU 1
#include "test_prefill_paged.c"
