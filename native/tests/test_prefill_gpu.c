/* CUDA prefill numerics: the matrix of test_prefill_cpu.c on device memory
 * (f16/bf16, head_dim 32/64/80/96/128/256), with valid lengths in host memory and in
 * device memory (including out-of-range device lengths, which the library
 * clamps), on the default stream and on a created stream; every output is
 * NaN-poisoned before the call and checked against the float64 reference.
 * Exits 77 (skipped) without a GPU. */
#include "test_util.h"
#include "prefill_matrix.h"

/* pattn_memcpy is complete when it returns: work on a non-blocking stream
   right after it must not race with the copy. cudaMemcpy from pageable
   memory returns once the data is staged, before it has landed; the test
   harness uploads its NaN-poisoned outputs that way, and a kernel on a
   created stream that finished first had its lse overwritten by the tail of
   the copy (the prefill matrix with the Hopper kernel forced: lse of padding
   rows "unwritten"). Here a memset on the created stream follows each
   upload at once; every byte must be the memset's. */
static void upload_complete_before_other_streams(void* stream) {
    const size_t bytes = (size_t)64 << 20;
    unsigned char* host = (unsigned char*)malloc(bytes);
    unsigned char* dev = NULL;
    int round;
    if (host == NULL) return;
    memset(host, 0x7F, bytes);
    dev = (unsigned char*)tu_upload(NULL, bytes, 0);
    CHECK(dev != NULL);
    for (round = 0; round < 4 && dev != NULL; ++round) {
        size_t i, stale = 0;
        memset(host, 0x7F, bytes);
        CHECK_OK(pattn_memcpy(dev, host, bytes));
        CHECK_OK(pattn_memset_async(dev, 0, bytes, stream));
        CHECK_OK(pattn_stream_synchronize(stream));
        CHECK_OK(tu_download(host, dev, bytes));
        for (i = 0; i < bytes; ++i) stale += host[i] != 0;
        CHECK_MSG(stale == 0, "round %d: %zu bytes of the upload landed after the memset on the created stream",
                  round, stale);
    }
    pattn_device_free(dev);
    free(host);
}

static void run(tu_prefill_case* c, const char* what) {
    c->on_cuda = 1;
    prefill_run_case(c, what);
}

/* Each matrix case with lengths in host memory, then (with lengths) in
   device memory, out of range half of the time (clamped); odd cases on a
   created stream. */
static void run_matrix_case(tu_prefill_case* c, int index, void* stream) {
    c->stream = index % 2 ? stream : NULL;
    run(c, "matrix, host lengths");
    if (c->use_lens) {
        c->lens_on_device = 1;
        c->out_of_range_lens = index % 2;
        c->seed += 100;
        run(c, "matrix, device lengths");
    }
}

int main(void) {
    static const pattn_dtype dtypes[2] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t lens[6] = {1, 7, 63, 65, 127, 333};
    static const int32_t head_dims[6] = {64, 128, 256, 32, 80, 96};
    static const prefill_matrix matrix = {.dtypes = dtypes, .num_dtypes = 2, .lens = lens, .num_lens = 6,
                                          .rng_seed = 777, .first_seed = 3000,
                                          .head_dims = head_dims, .num_head_dims = 6};
    void* stream = NULL;

    if (!tu_have_gpu()) {
        printf("test_prefill_gpu: no CUDA device, skipped\n");
        return TEST_SKIP;
    }
    CHECK_OK(pattn_stream_create(0, &stream));

    upload_complete_before_other_streams(stream);
    prefill_matrix_run(&matrix, run_matrix_case, stream);

    {
        const prefill_named_case cases[] = {
            /* A chunk of new queries after a cached prefix, and more queries
               than keys, with separate kv lengths in device memory. */
            {"chunk after prefix",
             {.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT, .use_lens = 1, .separate_kv = 1, .lens_on_device = 1,
              .dtype = PATTN_DTYPE_F16, .batch = 5, .q_len = 7, .kv_len = 333, .num_qo_heads = 8,
              .num_kv_heads = 2, .head_dim = 128, .with_lse = 1, .pad_poison = 1, .seed = 801}},
            {"more queries than keys",
             {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .separate_kv = 1, .lens_on_device = 1,
              .dtype = PATTN_DTYPE_BF16, .batch = 5, .q_len = 65, .kv_len = 63, .num_qo_heads = 8,
              .num_kv_heads = 2, .head_dim = 128, .with_lse = 1, .pad_poison = 1, .seed = 802}},
            /* Only kv lengths (decode-like), host and device. */
            {"kv lengths only",
             {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .kv_lens_only = 1, .dtype = PATTN_DTYPE_BF16, .batch = 4,
              .q_len = 16, .kv_len = 127, .num_qo_heads = 8, .num_kv_heads = 1, .head_dim = 64, .with_lse = 1,
              .pad_poison = 2, .seed = 803}},
            {"kv lengths only, device, out of range",
             {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .kv_lens_only = 1, .lens_on_device = 1,
              .out_of_range_lens = 1, .dtype = PATTN_DTYPE_BF16, .batch = 4, .q_len = 16, .kv_len = 127,
              .num_qo_heads = 8, .num_kv_heads = 1, .head_dim = 64, .with_lse = 1, .pad_poison = 2,
              .seed = 804}},
            /* kv_len = 0: every row sees nothing. */
            {"kv_len 0",
             {.mode = PATTN_MASK_PADDED, .use_lens = 1, .separate_kv = 1, .dtype = PATTN_DTYPE_F16, .batch = 3,
              .q_len = 7, .kv_len = 0, .num_qo_heads = 2, .num_kv_heads = 1, .head_dim = 64, .with_lse = 1,
              .seed = 805}},
            /* Long causal-left rows, packed QKV, on a created stream. */
            {"long packed",
             {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .lens_on_device = 1,
              .dtype = PATTN_DTYPE_BF16, .batch = 3, .q_len = 333, .kv_len = 333, .num_qo_heads = 4,
              .num_kv_heads = 1, .head_dim = 256, .layout = TU_LAYOUT_PACKED_QKV, .with_lse = 1,
              .pad_poison = 1, .stream = stream, .seed = 806}},
            /* The case where lse of padding rows came back as the NaN
               poison (matrix index 37, seed 3037): left padding,
               bidirectional, packed QKV, +Inf padding, GQA 4, on the
               created stream; see upload_complete_before_other_streams. */
            {"left padded packed QKV on a created stream",
             {.mode = PATTN_MASK_PADDED_LEFT, .use_lens = 1, .separate_kv = 1, .dtype = PATTN_DTYPE_F16,
              .batch = 4, .q_len = 333, .kv_len = 333, .num_qo_heads = 8, .num_kv_heads = 2, .head_dim = 128,
              .layout = TU_LAYOUT_PACKED_QKV, .with_lse = 1, .pad_poison = 2, .stream = stream, .seed = 3037}},
            {"one token",
             {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .dtype = PATTN_DTYPE_F16, .batch = 1,
              .q_len = 1, .kv_len = 1, .num_qo_heads = 2, .num_kv_heads = 2, .head_dim = 128, .with_lse = 1,
              .seed = 807}},
        };
        prefill_run_named(cases, (int)(sizeof cases / sizeof cases[0]), run);
    }

    CHECK_OK(pattn_stream_destroy(stream));
    printf("test_prefill_gpu: %d cases\n", prefill_cases);
    return tu_finish("test_prefill_gpu");
}
