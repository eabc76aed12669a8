/*
 * prefill_matrix.h — the randomized prefill case matrix shared by
 * test_prefill_cpu.c and test_prefill_gpu.c (include after test_util.h).
 *
 * Mask mode (with and without lengths) x dtype x head_dim; from the case
 * index: MHA / GQA 4 / MQA, the layout, separate kv lengths or a different
 * kv_len, lse, the padding poison and the scale. q_len and kv_len are drawn
 * from `lens` by an rng seeded with `rng_seed`; case i gets the seed
 * `first_seed + i`. What differs between the backends (dtypes, lengths,
 * seeds, and what a case is run with) is in the arguments.
 */
#ifndef PADDEDATTN_PREFILL_MATRIX_H
#define PADDEDATTN_PREFILL_MATRIX_H

#include "test_util.h"

typedef struct prefill_matrix {
    const pattn_dtype* dtypes;
    int num_dtypes;
    const int32_t* lens;
    int num_lens;
    uint64_t rng_seed;
    uint64_t first_seed;
    /* head_dims of the matrix; NULL: 64, 128, 256. */
    const int32_t* head_dims;
    int num_head_dims;
} prefill_matrix;

/* Calls visit(case, index, ctx) for every case, in a fixed order. */
static TU_UNUSED void prefill_matrix_run(const prefill_matrix* m,
                                         void (*visit)(tu_prefill_case* c, int index, void* ctx), void* ctx) {
    static const int32_t default_dims[3] = {64, 128, 256};
    const int32_t* dims = m->head_dims ? m->head_dims : default_dims;
    const int num_dims = m->head_dims ? m->num_head_dims : 3;
    /* mode, use_lens */
    static const int modes[6][2] = {{PATTN_MASK_PADDED, 1},
                                    {PATTN_MASK_CAUSAL_PADDED_LEFT, 1},
                                    {PATTN_MASK_CAUSAL_PADDED_RIGHT, 1},
                                    {PATTN_MASK_PADDED_LEFT, 1},
                                    {PATTN_MASK_PADDED, 0},
                                    {PATTN_MASK_CAUSAL_PADDED_RIGHT, 0}};
    const int32_t last_len = m->num_lens - 1;
    int mi, ti, di, index = 0;
    tu_rng rng = tu_rng_make(m->rng_seed);

    for (mi = 0; mi < 6; ++mi)
        for (ti = 0; ti < m->num_dtypes; ++ti)
            for (di = 0; di < num_dims; ++di, ++index) {
                tu_prefill_case c;
                memset(&c, 0, sizeof c);
                c.mode = (pattn_mask_mode)modes[mi][0];
                c.use_lens = modes[mi][1];
                c.dtype = m->dtypes[ti];
                c.head_dim = dims[di];
                c.batch = 4;
                switch (index % 3) {
                    case 0: c.num_kv_heads = 2; c.num_qo_heads = 2; break;  /* MHA */
                    case 1: c.num_kv_heads = 2; c.num_qo_heads = 8; break;  /* GQA 4 */
                    default: c.num_kv_heads = 1; c.num_qo_heads = 3; break; /* MQA */
                }
                c.q_len = m->lens[tu_rng_int(&rng, 0, last_len)];
                c.kv_len = c.q_len;
                c.layout = index % 4 == 3 ? TU_LAYOUT_CONTIGUOUS : index % 4;
                /* Separate kv lengths, and often a different kv_len, except
                   for packed QKV (one sequence length for all three). */
                if (c.use_lens && index % 2 == 1) {
                    c.separate_kv = 1;
                    if (c.layout != TU_LAYOUT_PACKED_QKV) c.kv_len = m->lens[tu_rng_int(&rng, 0, last_len)];
                }
                if (!c.use_lens && index % 2 == 1 && c.layout != TU_LAYOUT_PACKED_QKV)
                    c.kv_len = m->lens[tu_rng_int(&rng, 0, last_len)];
                c.with_lse = index % 5 != 4;
                c.pad_poison = 1 + index % 3;
                c.scale = index % 7 == 3 ? 0.37f : 0.0f;
                c.seed = m->first_seed + (uint64_t)index;
                visit(&c, index, ctx);
            }
}

static int prefill_cases = 0;

/* Runs one case under a label that names its parameters (the device-length
   fields on CUDA, the scale on the CPU) and counts it. */
static TU_UNUSED void prefill_run_case(tu_prefill_case* c, const char* what) {
    char label[256];
    int n = snprintf(label, sizeof label, "%s: mode=%d lens=%d/%d%s", what, (int)c->mode, c->use_lens,
                     c->separate_kv, c->kv_lens_only ? " kv-only" : "");
    if (c->on_cuda && n > 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, " dev_lens=%d oor=%d", c->lens_on_device,
                      c->out_of_range_lens);
    if (n > 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n,
                      " %s b=%d q=%d kv=%d hq=%d hkv=%d d=%d layout=%d lse=%d poison=%d", tu_dtype_name(c->dtype),
                      c->batch, c->q_len, c->kv_len, c->num_qo_heads, c->num_kv_heads, c->head_dim, c->layout,
                      c->with_lse, c->pad_poison);
    if (!c->on_cuda && n > 0 && (size_t)n < sizeof label)
        snprintf(label + n, sizeof label - (size_t)n, " scale=%g", (double)c->scale);
    prefill_cases++;
    if (tu_run_prefill_case(c, label) != 0) fprintf(stderr, "FAILED %s\n", label);
}

/* A hand-picked case and the label it runs under. */
typedef struct prefill_named_case {
    const char* what;
    tu_prefill_case c;
} prefill_named_case;

/* Runs each case on a copy (run may change the case it is given). */
static TU_UNUSED void prefill_run_named(const prefill_named_case* cases, int count,
                                        void (*run)(tu_prefill_case* c, const char* what)) {
    int i;
    for (i = 0; i < count; ++i) {
        tu_prefill_case c = cases[i].c;
        run(&c, cases[i].what);
    }
}

#endif /* PADDEDATTN_PREFILL_MATRIX_H */
