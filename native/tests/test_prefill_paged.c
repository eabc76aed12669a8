/*
 * test_prefill_paged.c — pattn_sequence_prefill against a paged KV cache
 * (page_table): new tokens after a cached prefix, checked against the
 * float64 reference of test_util.h run on each row's keys laid out in
 * logical order (never through the page table), on the CPU backend (this
 * program) and on the GPU (test_prefill_paged_cuda.c).
 *
 * Covers page sizes 1, 16, 64 (and 7, 256); rows sharing the pages of a
 * common prefix; empty rows (no new query; no key at all; a new query and
 * no prefix); q_len < kv_len (a prefix) and q_len == kv_len (no prefix, the
 * whole row new); causal and bidirectional; GQA 4 and 3, MHA, MQA;
 * head_dim 64/128 (and 80 on the CPU); f16/bf16 (f32 on the CPU); a window
 * and a soft cap; lse; NaN in every unused page, in the unused slots of a
 * row's last page, in the padding query rows and in the outputs before the
 * call; -1 in the unused table entries; host and device lengths (GPU);
 * lengths absent; the argument checks; an ABI-2 struct_size that ends
 * before page_table. On the CPU every case is also run on the same tokens in
 * a contiguous cache and must match bit for bit.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "paged_test_util.h"
#include "test_util.h"

#define MAX_ROWS 8

typedef struct paged_prefill_case {
    pattn_dtype dtype;
    pattn_mask_mode mode;  /* PADDED or CAUSAL_PADDED_RIGHT */
    int32_t batch, q_len, num_qo_heads, num_kv_heads, head_dim, page_size;
    int32_t new_q[MAX_ROWS];   /* real queries of the row (the new tokens) */
    int32_t prefix[MAX_ROWS];  /* cached keys before them; the row has prefix + new_q keys */
    int shared_pages;          /* rows >= 1 use row 0's first pages (a shared prompt prefix) */
    int lens_on_device;        /* GPU only */
    int no_lens;               /* no valid lengths: every row is q_len queries, capacity keys */
    int with_lse;
    int window_left;           /* -1: no window */
    float soft_cap;
} paged_prefill_case;

static char g_label[256];

static void label_case(const paged_prefill_case* c) {
    snprintf(g_label, sizeof g_label, "%s %s q_len=%d heads=%d/%d d=%d page=%d shared=%d lens=%s%s window=%d cap=%g",
             tu_dtype_name(c->dtype), c->mode == PATTN_MASK_PADDED ? "bidirectional" : "causal", c->q_len,
             c->num_qo_heads, c->num_kv_heads, c->head_dim, c->page_size, c->shared_pages,
             c->no_lens ? "none" : (c->lens_on_device ? "device" : "host"), c->with_lse ? " lse" : "",
             c->window_left, (double)c->soft_cap);
}

/* CPU: the paged call `paged` (already run, outputs in paged->o / lse) must
 * give bit for bit what the same tokens give in a contiguous cache
 * [batch, cap, kv_heads, d] (the padded path, outputs poisoned first): both
 * run the same per-ISA kernel on the same rows. */
static void same_as_contiguous(const paged_prefill_case* c, const pattn_prefill_params* paged, void* k_logical,
                               void* v_logical, int32_t cap, int64_t q_count, int64_t lse_count) {
    const size_t es = tu_dtype_size(c->dtype);
    void* o2 = malloc((size_t)q_count * es + 16);
    float* lse2 = (float*)malloc((size_t)lse_count * 4 + 16);
    pattn_prefill_params p = *paged;
    CHECK(o2 && lse2);
    if (!o2 || !lse2) return;
    tu_fill_nan(o2, c->dtype, (size_t)q_count);
    tu_fill_nan(lse2, PATTN_DTYPE_F32, (size_t)lse_count);
    p.k = tu_tensor_4d(k_logical, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, cap, c->num_kv_heads, c->head_dim);
    p.v = tu_tensor_4d(v_logical, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, cap, c->num_kv_heads, c->head_dim);
    p.page_table.data = NULL;
    p.o.data = o2;
    if (c->with_lse) p.lse.data = lse2;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK_MSG(memcmp(o2, paged->o.data, (size_t)q_count * es) == 0, "%s: paged o differs from contiguous", g_label);
    if (c->with_lse)
        CHECK_MSG(memcmp(lse2, paged->lse.data, (size_t)lse_count * 4) == 0, "%s: paged lse differs from contiguous",
                  g_label);
    free(o2);
    free(lse2);
}

static void run_case(const paged_prefill_case* c, int on_gpu, uint64_t seed) {
    const size_t es = tu_dtype_size(c->dtype);
    const int32_t ps = c->page_size, row_elems = c->num_kv_heads * c->head_dim;
    const size_t page_elems = (size_t)ps * row_elems;
    const int64_t q_count = (int64_t)c->batch * c->q_len * c->num_qo_heads * c->head_dim;
    const int64_t lse_count = (int64_t)c->batch * c->q_len * c->num_qo_heads;
    int32_t qv[MAX_ROWS], kv[MAX_ROWS], used[MAX_ROWS], max_pages = 1, num_pages = 0, share, b, e, j, cap;
    int32_t* table;
    void *q_host, *o_host, *k_pages, *v_pages, *k_logical, *v_logical;
    float* lse_host;
    double *ref_o, *ref_lse;
    tu_rng rng = tu_rng_make(seed);
    tu_ref_problem ref;
    pattn_prefill_params p;
    int causal, left;

    for (b = 0; b < c->batch; ++b) {
        used[b] = (c->prefix[b] + c->new_q[b] + ps - 1) / ps;
        if (used[b] + 1 > max_pages) max_pages = used[b] + 1; /* one spare column of -1 */
    }
    cap = max_pages * ps;
    for (b = 0; b < c->batch; ++b) {
        qv[b] = c->no_lens ? c->q_len : c->new_q[b];
        kv[b] = c->no_lens ? cap : c->prefix[b] + c->new_q[b];
        used[b] = (kv[b] + ps - 1) / ps;
    }

    /* The table: row 0's pages first; rows >= 1 reuse its first full pages
     * (at most shared_pages, and only pages inside their own prefix); the
     * rest are fresh; two more pages stay unused. Physical page numbers are
     * a shuffled permutation. */
    table = (int32_t*)malloc(sizeof(int32_t) * (size_t)c->batch * max_pages);
    for (e = 0; e < c->batch * max_pages; ++e) table[e] = -1;
    for (b = 0; b < c->batch; ++b)
        for (e = 0; e < used[b]; ++e) {
            const int shareable = b > 0 && e < c->shared_pages && (e + 1) * ps <= kv[0] && (e + 1) * ps <= kv[b] &&
                                  (c->no_lens || ((e + 1) * ps <= c->prefix[0] && (e + 1) * ps <= c->prefix[b]));
            table[b * max_pages + e] = shareable ? table[e] : num_pages++;
        }
    num_pages += 2;
    tu_shuffle_pages(table, c->batch * max_pages, num_pages, &rng);

    /* Logical keys [batch, cap, kv_heads, d]: random in each row's real
     * keys, NaN after them; keys on a shared page are row 0's. */
    k_logical = malloc((size_t)c->batch * cap * row_elems * es + 16);
    v_logical = malloc((size_t)c->batch * cap * row_elems * es + 16);
    tu_fill_nan(k_logical, c->dtype, (size_t)c->batch * cap * row_elems);
    tu_fill_nan(v_logical, c->dtype, (size_t)c->batch * cap * row_elems);
    for (b = 0; b < c->batch; ++b) {
        const size_t row0 = (size_t)b * cap * row_elems * es;
        tu_fill_uniform((char*)k_logical + row0, c->dtype, (size_t)kv[b] * row_elems, &rng, -2.0f, 2.0f);
        tu_fill_uniform((char*)v_logical + row0, c->dtype, (size_t)kv[b] * row_elems, &rng, -1.0f, 1.0f);
        for (j = 0; j < kv[b]; ++j)
            if (b > 0 && table[b * max_pages + j / ps] == table[j / ps]) {
                memcpy((char*)k_logical + row0 + (size_t)j * row_elems * es,
                       (char*)k_logical + (size_t)j * row_elems * es, (size_t)row_elems * es);
                memcpy((char*)v_logical + row0 + (size_t)j * row_elems * es,
                       (char*)v_logical + (size_t)j * row_elems * es, (size_t)row_elems * es);
            }
    }
    /* Pages: NaN everywhere, then every row's keys written to their slots. */
    k_pages = malloc((size_t)num_pages * page_elems * es + 16);
    v_pages = malloc((size_t)num_pages * page_elems * es + 16);
    tu_fill_nan(k_pages, c->dtype, (size_t)num_pages * page_elems);
    tu_fill_nan(v_pages, c->dtype, (size_t)num_pages * page_elems);
    for (b = 0; b < c->batch; ++b)
        for (j = 0; j < kv[b]; ++j) {
            const size_t dst = ((size_t)table[b * max_pages + j / ps] * ps + j % ps) * row_elems * es;
            const size_t src = ((size_t)b * cap + j) * row_elems * es;
            memcpy((char*)k_pages + dst, (char*)k_logical + src, (size_t)row_elems * es);
            memcpy((char*)v_pages + dst, (char*)v_logical + src, (size_t)row_elems * es);
        }

    /* Queries: random in the real rows, NaN in the padding rows. */
    q_host = malloc((size_t)q_count * es + 16);
    o_host = malloc((size_t)q_count * es + 16);
    lse_host = (float*)malloc((size_t)lse_count * 4 + 16);
    ref_o = (double*)malloc(sizeof(double) * (size_t)(q_count + 1));
    ref_lse = (double*)malloc(sizeof(double) * (size_t)(lse_count + 1));
    tu_fill_nan(q_host, c->dtype, (size_t)q_count);
    for (b = 0; b < c->batch; ++b) {
        const size_t per_row = (size_t)c->num_qo_heads * c->head_dim;
        tu_fill_uniform((char*)q_host + (size_t)b * c->q_len * per_row * es, c->dtype, (size_t)qv[b] * per_row, &rng,
                        -2.0f, 2.0f);
    }

    tu_mask_mode_flags(c->mode, &causal, &left);
    memset(&ref, 0, sizeof ref);
    ref.dtype = c->dtype;
    ref.batch = c->batch;
    ref.q_len = c->q_len;
    ref.kv_len = cap;
    ref.num_qo_heads = c->num_qo_heads;
    ref.num_kv_heads = c->num_kv_heads;
    ref.head_dim = c->head_dim;
    ref.q = tu_tensor_4d(q_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim);
    ref.k = tu_tensor_4d(k_logical, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, cap, c->num_kv_heads, c->head_dim);
    ref.v = tu_tensor_4d(v_logical, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, cap, c->num_kv_heads, c->head_dim);
    ref.q_lens = qv;
    ref.kv_lens = kv;
    ref.causal = causal;
    ref.has_window = c->window_left >= 0;
    ref.window_left = c->window_left;
    ref.window_right = -1;
    ref.soft_cap = c->soft_cap;
    tu_reference_attention(&ref, ref_o, ref_lse);

    {
        const pattn_device_type dev = on_gpu ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
        const pattn_device_type lens_dev = (on_gpu && c->lens_on_device) ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
        const size_t pages_bytes = (size_t)num_pages * page_elems * es;
        void* qd = on_gpu ? tu_upload(q_host, (size_t)q_count * es, 0) : q_host;
        void* kd = on_gpu ? tu_upload(k_pages, pages_bytes, 0) : k_pages;
        void* vd = on_gpu ? tu_upload(v_pages, pages_bytes, 0) : v_pages;
        void* td = on_gpu ? tu_upload(table, sizeof(int32_t) * (size_t)c->batch * max_pages, 0) : table;
        void* qld = lens_dev == PATTN_DEVICE_CUDA ? tu_upload(qv, sizeof(int32_t) * (size_t)c->batch, 0) : qv;
        void* kld = lens_dev == PATTN_DEVICE_CUDA ? tu_upload(kv, sizeof(int32_t) * (size_t)c->batch, 0) : kv;
        void *od, *lsed;
        tu_fill_nan(o_host, c->dtype, (size_t)q_count);
        tu_fill_nan(lse_host, PATTN_DTYPE_F32, (size_t)lse_count);
        od = on_gpu ? tu_upload(o_host, (size_t)q_count * es, 0) : o_host;
        lsed = on_gpu ? tu_upload(lse_host, (size_t)lse_count * 4, 0) : lse_host;
        CHECK(qd && kd && vd && td && qld && kld && od && lsed);
        if (qd && kd && vd && td && qld && kld && od && lsed) {
            const tu_ref_problem shape_only = {.dtype = c->dtype, .batch = c->batch, .q_len = c->q_len,
                                               .num_qo_heads = c->num_qo_heads, .head_dim = c->head_dim};
            p = tu_prefill_params(
                c->mode, tu_tensor_4d(qd, c->dtype, dev, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim),
                tu_tensor_4d(kd, c->dtype, dev, 0, num_pages, ps, c->num_kv_heads, c->head_dim),
                tu_tensor_4d(vd, c->dtype, dev, 0, num_pages, ps, c->num_kv_heads, c->head_dim),
                tu_tensor_4d(od, c->dtype, dev, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim),
                tu_tensor_3d(c->with_lse ? lsed : NULL, PATTN_DTYPE_F32, dev, 0, c->batch, c->q_len, c->num_qo_heads));
            p.page_table = tu_tensor_nd(td, PATTN_DTYPE_I32, dev, 0, 2, (int64_t[]){c->batch, max_pages});
            if (!c->no_lens) {
                p.q_valid_lens = tu_tensor_1d(qld, PATTN_DTYPE_I32, lens_dev, 0, c->batch);
                p.kv_valid_lens = tu_tensor_1d(kld, PATTN_DTYPE_I32, lens_dev, 0, c->batch);
            }
            if (c->window_left >= 0) {
                p.window_enabled = 1;
                p.window_left = c->window_left;
                p.window_right = -1;
            }
            p.logits_soft_cap = c->soft_cap;
            CHECK_OK(pattn_sequence_prefill(&p, NULL));
            if (on_gpu) {
                CHECK_OK(pattn_device_synchronize(0));
                CHECK_OK(tu_download(o_host, od, (size_t)q_count * es));
                CHECK_OK(tu_download(lse_host, lsed, (size_t)lse_count * 4));
            }
            p.o.data = o_host;
            p.o.device_type = PATTN_DEVICE_CPU;
            p.lse.data = c->with_lse ? lse_host : NULL;
            p.lse.device_type = PATTN_DEVICE_CPU;
            tu_check_attention(g_label, &shape_only, &p.o, c->with_lse ? &p.lse : NULL, ref_o, ref_lse);
            if (!on_gpu) same_as_contiguous(c, &p, k_logical, v_logical, cap, q_count, lse_count);
        }
        if (on_gpu) {
            pattn_device_free(qd);
            pattn_device_free(kd);
            pattn_device_free(vd);
            pattn_device_free(td);
            if (lens_dev == PATTN_DEVICE_CUDA) {
                pattn_device_free(qld);
                pattn_device_free(kld);
            }
            pattn_device_free(od);
            pattn_device_free(lsed);
        }
    }

    free(table);
    free(q_host);
    free(o_host);
    free(lse_host);
    free(ref_o);
    free(ref_lse);
    free(k_pages);
    free(v_pages);
    free(k_logical);
    free(v_logical);
}

/* Page sizes x dtypes x head layouts x masks, lengths and sharing cycled. */
static void sweep(int on_gpu) {
    static const int32_t page_sizes[5] = {1, 16, 64, 7, 256};
    static const int32_t heads[4][2] = {{8, 2}, {4, 4}, {6, 1}, {6, 2}};
    static const pattn_dtype dtypes[3] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16, PATTN_DTYPE_F32};
    const int n_dtypes = on_gpu ? 2 : 3;
    int n = 0, ps, a, hl;
    for (ps = 0; ps < 5; ++ps)
        for (a = 0; a < n_dtypes; ++a)
            for (hl = 0; hl < 4; ++hl, ++n) {
                paged_prefill_case c;
                tu_rng rng = tu_rng_make(500 + (uint64_t)n);
                const int32_t page = page_sizes[ps];
                memset(&c, 0, sizeof c);
                c.dtype = dtypes[a];
                c.mode = (n % 3 == 1) ? PATTN_MASK_PADDED : PATTN_MASK_CAUSAL_PADDED_RIGHT;
                c.batch = 7;
                c.q_len = 21 + (n % 4) * 22; /* odd, and up to several query tiles of GQA rows */
                c.num_qo_heads = heads[hl][0];
                c.num_kv_heads = heads[hl][1];
                c.head_dim = (n % 2) ? 128 : 64;
                if (!on_gpu && n % 7 == 3) c.head_dim = 80;
                c.page_size = page;
                /* Row 0: the long shared prefix and a full set of new tokens;
                 * then no new query after a prefix; no key at all; the whole
                 * row new (q_len == kv_len); one new token after a prefix of
                 * exactly one page; an odd prefix and odd new count; a
                 * prefix of one page plus one key. */
                c.prefix[0] = page * 2 + tu_rng_int(&rng, 1, page + 40);
                c.new_q[0] = c.q_len;
                c.prefix[1] = tu_rng_int(&rng, 1, 90);
                c.new_q[1] = 0;
                c.prefix[2] = 0;
                c.new_q[2] = 0;
                c.prefix[3] = 0;
                c.new_q[3] = c.q_len;
                c.prefix[4] = page;
                c.new_q[4] = 1;
                c.prefix[5] = tu_rng_int(&rng, 1, 300) | 1;
                c.new_q[5] = tu_rng_int(&rng, 1, c.q_len) | 1;
                if (c.new_q[5] > c.q_len) c.new_q[5] = c.q_len;
                c.prefix[6] = page + 1;
                c.new_q[6] = c.q_len / 2;
                c.shared_pages = (n % 3 == 2) ? 0 : 2;
                c.lens_on_device = (n % 2) == 1;
                c.with_lse = (n % 5) != 4;
                c.window_left = -1;
                label_case(&c);
                run_case(&c, on_gpu, 7000 + (uint64_t)n);
            }
}

/* A window and a soft cap through the page table; rows without lengths. */
static void variants(int on_gpu) {
    int n;
    for (n = 0; n < 4; ++n) {
        paged_prefill_case c;
        memset(&c, 0, sizeof c);
        c.dtype = (n % 2) ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16;
        c.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT;
        c.batch = 3;
        c.q_len = 100;
        c.num_qo_heads = 8;
        c.num_kv_heads = 2;
        c.head_dim = 128;
        c.page_size = 16;
        c.prefix[0] = 400;
        c.new_q[0] = 100;
        c.prefix[1] = 31;
        c.new_q[1] = 99;
        c.prefix[2] = 333;
        c.new_q[2] = 1;
        c.shared_pages = 1;
        c.with_lse = 1;
        c.window_left = n < 2 ? 70 + 27 * n : -1;
        c.soft_cap = n >= 1 ? 30.0f : 0.0f;
        c.lens_on_device = n == 3;
        c.no_lens = n == 2; /* every row q_len queries against the capacity */
        label_case(&c);
        run_case(&c, on_gpu, 8000 + (uint64_t)n);
    }
}

static pattn_status call_prefill(const void* params) {
    return pattn_sequence_prefill((const pattn_prefill_params*)params, NULL);
}

/* Argument checks of paged prefill (host tensors). */
static void argument_checks(void) {
    enum { B = 2, QL = 3, PS = 4, PAGES = 3, MAXP = 2, H = 2, D = 64 };
    static uint16_t q[B * QL * H * D], o[B * QL * H * D], k[PAGES * PS * H * D], big[PAGES * 257 * H * D];
    int32_t table[B * MAXP] = {0, 1, 2, -1};
    int32_t q_lens[B] = {3, 2}, kv_lens[B] = {5, 3};
    int32_t cu[B + 1] = {0, 3, 5};
    pattn_prefill_params base, p;
    memset(q, 0, sizeof q);
    memset(k, 0, sizeof k);
    base = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_RIGHT,
                             tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, QL, H, D),
                             tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, PAGES, PS, H, D),
                             tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, PAGES, PS, H, D),
                             tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, QL, H, D),
                             tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, QL, H));
    base.page_table = tu_tensor_nd(table, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 2, (int64_t[]){B, MAXP});
    base.q_valid_lens = tu_tensor_1d(q_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    base.kv_valid_lens = tu_tensor_1d(kv_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    CHECK_OK(pattn_sequence_prefill(&base, NULL));
    p = base;
    p.mask_mode = PATTN_MASK_PADDED;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));

    /* Row 1 has 3 keys: one page; its second entry (-1) is never read. A
     * fifth key would read it. */
    kv_lens[1] = 5;
    CHECK_STATUS(pattn_sequence_prefill(&base, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_table[1][1] = -1");
    kv_lens[1] = 3;
    table[1] = PAGES;
    CHECK_STATUS(pattn_sequence_prefill(&base, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("num_pages = 3");
    table[1] = 1;
    kv_lens[0] = MAXP * PS + 1;
    CHECK_STATUS(pattn_sequence_prefill(&base, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("max_pages_per_row * page_size");
    kv_lens[0] = 5;
    /* kv_valid_lens absent: kv = qv, and q_len must be the capacity. */
    p = base;
    p.kv_valid_lens = tu_tensor_1d(NULL, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("kv_valid_lens");

    p = base;
    p.mask_mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("mask_mode = 1");
    CHECK(strcmp(pattn_last_error_argument(), "mask_mode") == 0);
    p = base;
    p.mask_mode = PATTN_MASK_PADDED_LEFT;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("left padding");
    /* Packed layout and a page table: refused as unsupported. */
    p = base;
    p.q = tu_tensor_3d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 5, H, D);
    p.o = tu_tensor_3d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 5, H, D);
    p.q_valid_lens.data = NULL;
    p.kv_valid_lens.data = NULL;
    p.cu_seqlens_q = tu_tensor_1d(cu, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B + 1);
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("cu_seqlens_q");
    CHECK(strcmp(pattn_last_error_argument(), "page_table") == 0);
    /* Page sizes outside 1..256. */
    p = base;
    p.k = tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, PAGES, 0, H, D);
    p.v = p.k;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_size) = 0");
    p = base;
    p.k = tu_tensor_4d(big, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, PAGES, 257, H, D);
    p.v = p.k;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_size) = 257 is outside [1, 256]");
    p = base;
    tu_check_page_table_rules(call_prefill, &p, &p.page_table);
    p = base;
    p.struct_size = (uint32_t)offsetof(pattn_prefill_params, page_table) + 8;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("ABI version 2 before page_table");
}

/* A caller whose struct ends before page_table gets the padded layout,
 * whatever lies in the memory where page_table would be: the same result
 * as the full struct with no page table. */
static void unpaged_struct_size(void) {
    enum { B = 2, L = 9, H = 2, D = 64 };
    uint16_t q[B * L * H * D], k[B * L * H * D], v[B * L * H * D], o1[B * L * H * D], o2[B * L * H * D];
    int32_t lens[B] = {9, 4};
    tu_rng rng = tu_rng_make(23);
    pattn_prefill_params p;
    tu_fill_uniform(q, PATTN_DTYPE_F16, B * L * H * D, &rng, -1.0f, 1.0f);
    tu_fill_uniform(k, PATTN_DTYPE_F16, B * L * H * D, &rng, -1.0f, 1.0f);
    tu_fill_uniform(v, PATTN_DTYPE_F16, B * L * H * D, &rng, -1.0f, 1.0f);
    tu_fill_nan(o1, PATTN_DTYPE_F16, B * L * H * D);
    tu_fill_nan(o2, PATTN_DTYPE_F16, B * L * H * D);
    p = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_RIGHT, tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, L, H, D),
                          tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, L, H, D),
                          tu_tensor_4d(v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, L, H, D),
                          tu_tensor_4d(o1, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, L, H, D),
                          tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, L, H));
    p.q_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    p.o.data = o2;
    p.struct_size = (uint32_t)offsetof(pattn_prefill_params, page_table);
    memset(&p.page_table, 0x5a, sizeof p.page_table);
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK_MSG(memcmp(o1, o2, sizeof o1) == 0, "struct_size before page_table: result differs from the full struct");
}

/* Built twice: as test_prefill_paged (the CPU backend) and, through
 * test_prefill_paged_cuda.c, with PREFILL_PAGED_TEST_ON_GPU = 1. */
#ifndef PREFILL_PAGED_TEST_ON_GPU
#define PREFILL_PAGED_TEST_ON_GPU 0
#endif

int main(void) {
    const int on_gpu = PREFILL_PAGED_TEST_ON_GPU;
    if (on_gpu && !tu_have_gpu()) {
        printf("test_prefill_paged_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    sweep(on_gpu);
    variants(on_gpu);
    if (!on_gpu) {
        argument_checks();
        unpaged_struct_size();
    }
    return tu_finish(on_gpu ? "test_prefill_paged_cuda" : "test_prefill_paged");
}
