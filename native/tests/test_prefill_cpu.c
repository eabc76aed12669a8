/* CPU backend numerics: a randomized matrix of mask mode x dtype x head_dim x
 * GQA ratio x odd lengths x lengths 0/1/full x q_len != kv_len, layouts with
 * packed-QKV views and strided outputs, NaN/Inf in padding, poisoned outputs,
 * lse; each case checked against the float64 reference of test_util.h. */
#include "test_util.h"

static int g_cases = 0;

static void run(tu_prefill_case* c, const char* what) {
    char label[256];
    snprintf(label, sizeof label,
             "%s: mode=%d lens=%d/%d%s %s b=%d q=%d kv=%d hq=%d hkv=%d d=%d layout=%d lse=%d poison=%d scale=%g",
             what, (int)c->mode, c->use_lens, c->separate_kv, c->kv_lens_only ? " kv-only" : "",
             tu_dtype_name(c->dtype), c->batch, c->q_len, c->kv_len, c->num_qo_heads, c->num_kv_heads,
             c->head_dim, c->layout, c->with_lse, c->pad_poison, (double)c->scale);
    g_cases++;
    if (tu_run_prefill_case(c, label) != 0) fprintf(stderr, "FAILED %s\n", label);
}

int main(void) {
    static const pattn_dtype dtypes[3] = {PATTN_DTYPE_F32, PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t dims[3] = {64, 128, 256};
    static const int32_t lens[5] = {1, 7, 63, 65, 127};
    /* mode, use_lens */
    static const int modes[6][2] = {{PATTN_MASK_PADDED, 1},
                                    {PATTN_MASK_CAUSAL_PADDED_LEFT, 1},
                                    {PATTN_MASK_CAUSAL_PADDED_RIGHT, 1},
                                    {PATTN_MASK_PADDED_LEFT, 1},
                                    {PATTN_MASK_PADDED, 0},
                                    {PATTN_MASK_CAUSAL_PADDED_RIGHT, 0}};
    int mi, ti, di, index = 0;
    tu_rng rng = tu_rng_make(20260611);

    for (mi = 0; mi < 6; ++mi)
        for (ti = 0; ti < 3; ++ti)
            for (di = 0; di < 3; ++di, ++index) {
                tu_prefill_case c;
                memset(&c, 0, sizeof c);
                c.mode = (pattn_mask_mode)modes[mi][0];
                c.use_lens = modes[mi][1];
                c.dtype = dtypes[ti];
                c.head_dim = dims[di];
                c.batch = 4;
                switch (index % 3) {
                    case 0: c.num_kv_heads = 2; c.num_qo_heads = 2; break;  /* MHA */
                    case 1: c.num_kv_heads = 2; c.num_qo_heads = 8; break;  /* GQA 4 */
                    default: c.num_kv_heads = 1; c.num_qo_heads = 3; break; /* MQA */
                }
                c.q_len = lens[tu_rng_int(&rng, 0, 4)];
                c.kv_len = c.q_len;
                c.layout = index % 4 == 3 ? TU_LAYOUT_CONTIGUOUS : index % 4;
                /* Separate kv lengths, and often a different kv_len, except
                   for packed QKV (one sequence length for all three). */
                if (c.use_lens && index % 2 == 1) {
                    c.separate_kv = 1;
                    if (c.layout != TU_LAYOUT_PACKED_QKV) c.kv_len = lens[tu_rng_int(&rng, 0, 4)];
                }
                if (!c.use_lens && index % 2 == 1 && c.layout != TU_LAYOUT_PACKED_QKV)
                    c.kv_len = lens[tu_rng_int(&rng, 0, 4)];
                c.with_lse = index % 5 != 4;
                c.pad_poison = 1 + index % 3;
                c.scale = index % 7 == 3 ? 0.37f : 0.0f;
                c.seed = 1000 + (uint64_t)index;
                run(&c, "matrix");
            }

    /* Odd and extreme head dims (CPU only). */
    {
        static const int32_t odd_dims[4] = {40, 8, 1, 512};
        static const pattn_dtype odd_types[4] = {PATTN_DTYPE_F32, PATTN_DTYPE_F16, PATTN_DTYPE_BF16,
                                                 PATTN_DTYPE_F32};
        int i;
        for (i = 0; i < 4; ++i) {
            tu_prefill_case c;
            memset(&c, 0, sizeof c);
            c.mode = (pattn_mask_mode)(i % 4);
            c.use_lens = 1;
            c.separate_kv = i % 2;
            c.dtype = odd_types[i];
            c.head_dim = odd_dims[i];
            c.batch = 4;
            c.num_qo_heads = 4;
            c.num_kv_heads = 2;
            c.q_len = 65;
            c.kv_len = i == 3 ? 33 : 65;
            c.with_lse = 1;
            c.pad_poison = 1;
            c.seed = 500 + (uint64_t)i;
            run(&c, "odd head_dim");
        }
    }

    /* Long rows (333) with a packed QKV view and GQA. */
    {
        tu_prefill_case c;
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.use_lens = 1;
        c.dtype = PATTN_DTYPE_BF16;
        c.head_dim = 128;
        c.batch = 3;
        c.num_qo_heads = 4;
        c.num_kv_heads = 1;
        c.q_len = c.kv_len = 333;
        c.layout = TU_LAYOUT_PACKED_QKV;
        c.with_lse = 1;
        c.pad_poison = 1;
        c.seed = 601;
        run(&c, "long packed");

        c.mode = PATTN_MASK_PADDED;
        c.dtype = PATTN_DTYPE_F32;
        c.head_dim = 64;
        c.layout = TU_LAYOUT_STRIDED_OUT;
        c.pad_poison = 2;
        c.seed = 602;
        run(&c, "long strided f32");
    }

    /* A chunk of new queries after a cached prefix (q_len < kv_len), and more
       queries than keys (some rows see nothing), with separate kv lengths. */
    {
        tu_prefill_case c;
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT;
        c.use_lens = 1;
        c.separate_kv = 1;
        c.dtype = PATTN_DTYPE_F16;
        c.head_dim = 64;
        c.batch = 5;
        c.num_qo_heads = 8;
        c.num_kv_heads = 2;
        c.q_len = 7;
        c.kv_len = 333;
        c.with_lse = 1;
        c.pad_poison = 1;
        c.seed = 701;
        run(&c, "chunk after prefix");

        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.q_len = 65;
        c.kv_len = 63;
        c.dtype = PATTN_DTYPE_F32;
        c.seed = 702;
        run(&c, "more queries than keys");

        /* Only kv lengths: every query row real (decode-like). */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.kv_lens_only = 1;
        c.dtype = PATTN_DTYPE_F32;
        c.head_dim = 128;
        c.batch = 4;
        c.num_qo_heads = 8;
        c.num_kv_heads = 8;
        c.q_len = 16;
        c.kv_len = 127;
        c.with_lse = 1;
        c.pad_poison = 1;
        c.seed = 703;
        run(&c, "kv lengths only");

        /* No keys at all: kv_len = 0. */
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
        c.seed = 704;
        run(&c, "kv_len 0");

        /* No lengths, causal, q_len != kv_len both ways (bottom-right). */
        memset(&c, 0, sizeof c);
        c.mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        c.dtype = PATTN_DTYPE_BF16;
        c.head_dim = 64;
        c.batch = 2;
        c.num_qo_heads = 4;
        c.num_kv_heads = 1;
        c.q_len = 127;
        c.kv_len = 63;
        c.with_lse = 1;
        c.seed = 705;
        run(&c, "no lengths, q_len > kv_len");
        c.q_len = 63;
        c.kv_len = 127;
        c.seed = 706;
        run(&c, "no lengths, q_len < kv_len");

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
        c.seed = 707;
        run(&c, "one token");
    }

    printf("test_prefill_cpu: %d cases\n", g_cases);
    return tu_finish("test_prefill_cpu");
}
