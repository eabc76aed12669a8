/* CUDA prefill numerics: the matrix of test_prefill_cpu.c on device memory
 * (f16/bf16, head_dim 64/128/256), with valid lengths in host memory and in
 * device memory (including out-of-range device lengths, which the library
 * clamps), on the default stream and on a created stream; every output is
 * NaN-poisoned before the call and checked against the float64 reference.
 * Exits 77 (skipped) without a GPU. */
#include "test_util.h"

static int g_cases = 0;

static void run(tu_prefill_case* c, const char* what) {
    char label[256];
    snprintf(label, sizeof label,
             "%s: mode=%d lens=%d/%d%s dev_lens=%d oor=%d %s b=%d q=%d kv=%d hq=%d hkv=%d d=%d layout=%d lse=%d poison=%d",
             what, (int)c->mode, c->use_lens, c->separate_kv, c->kv_lens_only ? " kv-only" : "",
             c->lens_on_device, c->out_of_range_lens, tu_dtype_name(c->dtype), c->batch, c->q_len,
             c->kv_len, c->num_qo_heads, c->num_kv_heads, c->head_dim, c->layout, c->with_lse,
             c->pad_poison);
    g_cases++;
    c->on_cuda = 1;
    if (tu_run_prefill_case(c, label) != 0) fprintf(stderr, "FAILED %s\n", label);
}

int main(void) {
    static const pattn_dtype dtypes[2] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t dims[3] = {64, 128, 256};
    static const int32_t lens[6] = {1, 7, 63, 65, 127, 333};
    static const int modes[6][2] = {{PATTN_MASK_PADDED, 1},
                                    {PATTN_MASK_CAUSAL_PADDED_LEFT, 1},
                                    {PATTN_MASK_CAUSAL_PADDED_RIGHT, 1},
                                    {PATTN_MASK_PADDED_LEFT, 1},
                                    {PATTN_MASK_PADDED, 0},
                                    {PATTN_MASK_CAUSAL_PADDED_RIGHT, 0}};
    int mi, ti, di, index = 0;
    void* stream = NULL;
    tu_rng rng = tu_rng_make(777);

    if (!tu_have_gpu()) {
        printf("test_prefill_gpu: no CUDA device, skipped\n");
        return TEST_SKIP;
    }
    CHECK_OK(pattn_stream_create(0, &stream));

    for (mi = 0; mi < 6; ++mi)
        for (ti = 0; ti < 2; ++ti)
            for (di = 0; di < 3; ++di, ++index) {
                tu_prefill_case c;
                memset(&c, 0, sizeof c);
                c.mode = (pattn_mask_mode)modes[mi][0];
                c.use_lens = modes[mi][1];
                c.dtype = dtypes[ti];
                c.head_dim = dims[di];
                c.batch = 4;
                switch (index % 3) {
                    case 0: c.num_kv_heads = 2; c.num_qo_heads = 2; break;
                    case 1: c.num_kv_heads = 2; c.num_qo_heads = 8; break;
                    default: c.num_kv_heads = 1; c.num_qo_heads = 3; break;
                }
                c.q_len = lens[tu_rng_int(&rng, 0, 5)];
                c.kv_len = c.q_len;
                c.layout = index % 4 == 3 ? TU_LAYOUT_CONTIGUOUS : index % 4;
                if (c.use_lens && index % 2 == 1) {
                    c.separate_kv = 1;
                    if (c.layout != TU_LAYOUT_PACKED_QKV) c.kv_len = lens[tu_rng_int(&rng, 0, 5)];
                }
                if (!c.use_lens && index % 2 == 1 && c.layout != TU_LAYOUT_PACKED_QKV)
                    c.kv_len = lens[tu_rng_int(&rng, 0, 5)];
                c.with_lse = index % 5 != 4;
                c.pad_poison = 1 + index % 3;
                c.scale = index % 7 == 3 ? 0.37f : 0.0f;
                c.seed = 3000 + (uint64_t)index;
                c.stream = index % 2 ? stream : NULL;
                /* Lengths in host memory, then in device memory (out of
                   range half of the time: clamped). */
                run(&c, "matrix, host lengths");
                if (c.use_lens) {
                    c.lens_on_device = 1;
                    c.out_of_range_lens = index % 2;
                    c.seed += 100;
                    run(&c, "matrix, device lengths");
                }
            }

    {
        tu_prefill_case c;
        /* A chunk of new queries after a cached prefix, and more queries than
           keys, with separate kv lengths in device memory. */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT;
        c.use_lens = 1;
        c.separate_kv = 1;
        c.lens_on_device = 1;
        c.dtype = PATTN_DTYPE_F16;
        c.head_dim = 128;
        c.batch = 5;
        c.num_qo_heads = 8;
        c.num_kv_heads = 2;
        c.q_len = 7;
        c.kv_len = 333;
        c.with_lse = 1;
        c.pad_poison = 1;
        c.seed = 801;
        run(&c, "chunk after prefix");
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.q_len = 65;
        c.kv_len = 63;
        c.dtype = PATTN_DTYPE_BF16;
        c.seed = 802;
        run(&c, "more queries than keys");

        /* Only kv lengths (decode-like), host and device. */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.kv_lens_only = 1;
        c.dtype = PATTN_DTYPE_BF16;
        c.head_dim = 64;
        c.batch = 4;
        c.num_qo_heads = 8;
        c.num_kv_heads = 1;
        c.q_len = 16;
        c.kv_len = 127;
        c.with_lse = 1;
        c.pad_poison = 2;
        c.seed = 803;
        run(&c, "kv lengths only");
        c.lens_on_device = 1;
        c.out_of_range_lens = 1;
        c.seed = 804;
        run(&c, "kv lengths only, device, out of range");

        /* kv_len = 0: every row sees nothing. */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_PADDED;
        c.use_lens = 1;
        c.separate_kv = 1;
        c.dtype = PATTN_DTYPE_F16;
        c.head_dim = 64;
        c.batch = 3;
        c.num_qo_heads = 2;
        c.num_kv_heads = 1;
        c.q_len = 7;
        c.kv_len = 0;
        c.with_lse = 1;
        c.seed = 805;
        run(&c, "kv_len 0");

        /* Long causal-left rows, packed QKV, on a created stream. */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.use_lens = 1;
        c.lens_on_device = 1;
        c.dtype = PATTN_DTYPE_BF16;
        c.head_dim = 256;
        c.batch = 3;
        c.num_qo_heads = 4;
        c.num_kv_heads = 1;
        c.q_len = c.kv_len = 333;
        c.layout = TU_LAYOUT_PACKED_QKV;
        c.with_lse = 1;
        c.pad_poison = 1;
        c.stream = stream;
        c.seed = 806;
        run(&c, "long packed");

        /* One token. */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.use_lens = 1;
        c.dtype = PATTN_DTYPE_F16;
        c.head_dim = 128;
        c.batch = 1;
        c.num_qo_heads = 2;
        c.num_kv_heads = 2;
        c.q_len = c.kv_len = 1;
        c.with_lse = 1;
        c.seed = 807;
        run(&c, "one token");
    }

    CHECK_OK(pattn_stream_destroy(stream));
    printf("test_prefill_gpu: %d cases\n", g_cases);
    return tu_finish("test_prefill_gpu");
}
