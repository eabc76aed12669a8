/*
 * test_prefill_variants_gpu.c — the cases of test_prefill_variants.c on the
 * GPU (device 0); exits 77 (skipped) when there is no GPU.
 */
#define VARIANTS_ON_GPU 1
#include "test_prefill_variants.c"
