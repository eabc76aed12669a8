/*
 * test_merge_states_cuda.c — the cases of test_merge_states.c on the GPU
 * (device 0); exits 77 (skipped) when there is no GPU.
 */
#define MERGE_TEST_ON_GPU 1
#include "test_merge_states.c"
