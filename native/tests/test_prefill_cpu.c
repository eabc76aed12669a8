/* CPU backend numerics: a randomized matrix of mask mode x dtype x head_dim x
 * GQA ratio x odd lengths x lengths 0/1/full x q_len != kv_len, layouts with
 * packed-QKV views and strided outputs, NaN/Inf in padding, poisoned outputs,
 * lse; each case checked against the float64 reference of test_util.h. */
#include "test_util.h"
#include "prefill_matrix.h"

static void run_matrix_case(tu_prefill_case* c, int index, void* ctx) {
    (void)index;
    (void)ctx;
    prefill_run_case(c, "matrix");
}

int main(void) {
    static const pattn_dtype dtypes[3] = {PATTN_DTYPE_F32, PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t lens[5] = {1, 7, 63, 65, 127};
    /* The CUDA kernels' head_dims, the CPU taking the same ones. */
    static const int32_t head_dims[6] = {64, 128, 256, 32, 80, 96};
    static const prefill_matrix matrix = {.dtypes = dtypes, .num_dtypes = 3, .lens = lens, .num_lens = 5,
                                          .rng_seed = 20260611, .first_seed = 1000,
                                          .head_dims = head_dims, .num_head_dims = 6};
    static const prefill_named_case cases[] = {
        /* Long rows (333) with a packed QKV view and GQA. */
        {"long packed",
         {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .dtype = PATTN_DTYPE_BF16, .batch = 3,
          .q_len = 333, .kv_len = 333, .num_qo_heads = 4, .num_kv_heads = 1, .head_dim = 128,
          .layout = TU_LAYOUT_PACKED_QKV, .with_lse = 1, .pad_poison = 1, .seed = 601}},
        {"long strided f32",
         {.mode = PATTN_MASK_PADDED, .use_lens = 1, .dtype = PATTN_DTYPE_F32, .batch = 3, .q_len = 333,
          .kv_len = 333, .num_qo_heads = 4, .num_kv_heads = 1, .head_dim = 64, .layout = TU_LAYOUT_STRIDED_OUT,
          .with_lse = 1, .pad_poison = 2, .seed = 602}},
        /* A chunk of new queries after a cached prefix (q_len < kv_len), and
           more queries than keys (some rows see nothing), with separate kv
           lengths. */
        {"chunk after prefix",
         {.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT, .use_lens = 1, .separate_kv = 1, .dtype = PATTN_DTYPE_F16,
          .batch = 5, .q_len = 7, .kv_len = 333, .num_qo_heads = 8, .num_kv_heads = 2, .head_dim = 64,
          .with_lse = 1, .pad_poison = 1, .seed = 701}},
        {"more queries than keys",
         {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .separate_kv = 1, .dtype = PATTN_DTYPE_F32,
          .batch = 5, .q_len = 65, .kv_len = 63, .num_qo_heads = 8, .num_kv_heads = 2, .head_dim = 64,
          .with_lse = 1, .pad_poison = 1, .seed = 702}},
        /* Only kv lengths: every query row real (decode-like). */
        {"kv lengths only",
         {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .kv_lens_only = 1, .dtype = PATTN_DTYPE_F32, .batch = 4,
          .q_len = 16, .kv_len = 127, .num_qo_heads = 8, .num_kv_heads = 8, .head_dim = 128, .with_lse = 1,
          .pad_poison = 1, .seed = 703}},
        /* No keys at all: kv_len = 0. */
        {"kv_len 0",
         {.mode = PATTN_MASK_PADDED, .use_lens = 1, .separate_kv = 1, .dtype = PATTN_DTYPE_F16, .batch = 3,
          .q_len = 7, .kv_len = 0, .num_qo_heads = 2, .num_kv_heads = 1, .head_dim = 64, .with_lse = 1,
          .seed = 704}},
        /* No lengths, causal, q_len != kv_len both ways (bottom-right). */
        {"no lengths, q_len > kv_len",
         {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .dtype = PATTN_DTYPE_BF16, .batch = 2, .q_len = 127,
          .kv_len = 63, .num_qo_heads = 4, .num_kv_heads = 1, .head_dim = 64, .with_lse = 1, .seed = 705}},
        {"no lengths, q_len < kv_len",
         {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .dtype = PATTN_DTYPE_BF16, .batch = 2, .q_len = 63,
          .kv_len = 127, .num_qo_heads = 4, .num_kv_heads = 1, .head_dim = 64, .with_lse = 1, .seed = 706}},
        {"one token",
         {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .dtype = PATTN_DTYPE_F16, .batch = 1,
          .q_len = 1, .kv_len = 1, .num_qo_heads = 2, .num_kv_heads = 2, .head_dim = 128, .with_lse = 1,
          .seed = 707}},
    };

    prefill_matrix_run(&matrix, run_matrix_case, NULL);

    /* Odd and extreme head dims (CPU only). */
    {
        static const int32_t odd_dims[4] = {40, 8, 1, 512};
        static const pattn_dtype odd_types[4] = {PATTN_DTYPE_F32, PATTN_DTYPE_F16, PATTN_DTYPE_BF16,
                                                 PATTN_DTYPE_F32};
        int i;
        for (i = 0; i < 4; ++i) {
            tu_prefill_case c = {.mode = (pattn_mask_mode)(i % 4), .use_lens = 1, .separate_kv = i % 2,
                                 .dtype = odd_types[i], .batch = 4, .q_len = 65, .kv_len = i == 3 ? 33 : 65,
                                 .num_qo_heads = 4, .num_kv_heads = 2, .head_dim = odd_dims[i], .with_lse = 1,
                                 .pad_poison = 1, .seed = 500 + (uint64_t)i};
            prefill_run_case(&c, "odd head_dim");
        }
    }

    prefill_run_named(cases, (int)(sizeof cases / sizeof cases[0]), prefill_run_case);

    printf("test_prefill_cpu: %d cases\n", prefill_cases);
    return tu_finish("test_prefill_cpu");
}
