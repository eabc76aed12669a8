/*
 * test_decode_paged.c — pattn_decode against a paged KV cache (page_table),
 * checked against a float64 reference computed from each row's keys in
 * logical order (never through the page table), on the CPU backend (this
 * program) and on the GPU (test_decode_paged_cuda.c).
 *
 * Covers page sizes 1, 7, 16, 64 and 256; rows sharing the pages of a common
 * prefix; empty rows (and rows of one key, of exactly one page, one page
 * plus one key); pages in shuffled order; NaN in every unused page and in
 * the unused slots of each row's last page, and -1 in the unused entries of
 * the table; q_len 1/3/16, GQA 4 and 5, MHA, MQA; head_dim 32/64/80/96/128; f16/bf16 (and
 * f32 on the CPU); lse; NaN-poisoned outputs; forced num_splits 1/2/7 and
 * automatic; host and device lengths (GPU); no lengths (full rows); the
 * argument checks of the page table; an ABI-1 struct_size. On the CPU every
 * case is also run on the same keys in a contiguous cache and must match bit
 * for bit.
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

typedef struct paged_case {
    pattn_dtype dtype;
    int32_t batch, q_len, num_qo_heads, num_kv_heads, head_dim, page_size;
    int32_t lens[MAX_ROWS];
    int no_lens;          /* pass no kv_valid_lens: every row is max_pages * page_size long */
    int shared_pages;     /* rows >= 1 use row 0's first pages (prefix sharing) */
    int num_splits;
    int lens_on_device;   /* GPU only */
    int with_lse;
} paged_case;

/* Float64 reference: keys[b] / vals[b] hold row b's real keys in order,
 * [kv][num_kv_heads][head_dim]; query i sees key j iff j <= i + kv - q_len. */
static void reference(const paged_case* c, const void* qbuf, void* const* keys, void* const* vals,
                      const int32_t* kv_lens, double* ref_o, double* ref_lse) {
    const int32_t group = c->num_qo_heads / c->num_kv_heads, dim = c->head_dim;
    const double scale = 1.0 / sqrt((double)dim);
    int32_t b, i, h, j, d;
    for (b = 0; b < c->batch; ++b) {
        const int32_t kv = kv_lens[b];
        double* w = (double*)malloc(sizeof(double) * (size_t)(kv + 1));
        for (i = 0; i < c->q_len; ++i)
            for (h = 0; h < c->num_qo_heads; ++h) {
                const int32_t hk = h / group;
                const size_t row = ((size_t)b * c->q_len + i) * c->num_qo_heads + h;
                const int32_t seen = i + kv - c->q_len + 1;
                const int32_t n = seen < 0 ? 0 : (seen > kv ? kv : seen);
                double m = -INFINITY, sum = 0.0;
                double* out = ref_o + row * dim;
                for (d = 0; d < dim; ++d) out[d] = 0.0;
                ref_lse[row] = -INFINITY;
                if (n == 0) continue;
                for (j = 0; j < n; ++j) {
                    double dot = 0.0;
                    for (d = 0; d < dim; ++d)
                        dot += tu_load(qbuf, c->dtype, row * dim + d) *
                               tu_load(keys[b], c->dtype, ((size_t)j * c->num_kv_heads + hk) * dim + d);
                    w[j] = scale * dot;
                    if (w[j] > m) m = w[j];
                }
                for (j = 0; j < n; ++j) {
                    w[j] = exp(w[j] - m);
                    sum += w[j];
                }
                for (j = 0; j < n; ++j)
                    for (d = 0; d < dim; ++d)
                        out[d] += w[j] / sum * tu_load(vals[b], c->dtype, ((size_t)j * c->num_kv_heads + hk) * dim + d);
                ref_lse[row] = m + log(sum);
            }
        free(w);
    }
}

static char g_label[256];

static void label_case(const paged_case* c) {
    snprintf(g_label, sizeof g_label, "%s q_len=%d heads=%d/%d d=%d page=%d shared=%d splits=%d lens=%s%s",
             tu_dtype_name(c->dtype), c->q_len, c->num_qo_heads, c->num_kv_heads, c->head_dim, c->page_size,
             c->shared_pages, c->num_splits, c->no_lens ? "none" : (c->lens_on_device ? "device" : "host"),
             c->with_lse ? " lse" : "");
}

/* CPU: the paged call `paged` (already run, outputs in paged->o / lse) must
 * give bit for bit what the same keys give in a contiguous cache
 * [batch, cap, kv_heads, d] with NaN after each row's keys (the padded path,
 * outputs poisoned first): both run the same per-ISA kernel on the same rows. */
static void same_as_contiguous(const paged_case* c, const pattn_decode_params* paged, void* const* keys,
                               void* const* vals, const int32_t* kv, int32_t cap, int64_t q_count, int64_t lse_count) {
    const size_t es = tu_dtype_size(c->dtype), row_bytes = (size_t)c->num_kv_heads * c->head_dim * es;
    const size_t cache_elems = (size_t)c->batch * cap * c->num_kv_heads * c->head_dim;
    void* kc = malloc(cache_elems * es + 16);
    void* vc = malloc(cache_elems * es + 16);
    void* o2 = malloc((size_t)q_count * es + 16);
    float* lse2 = (float*)malloc((size_t)lse_count * 4 + 16);
    pattn_decode_params p = *paged;
    int32_t b;
    CHECK(kc && vc && o2 && lse2);
    if (kc && vc && o2 && lse2) {
        tu_fill_nan(kc, c->dtype, cache_elems);
        tu_fill_nan(vc, c->dtype, cache_elems);
        for (b = 0; b < c->batch; ++b) {
            memcpy((char*)kc + (size_t)b * cap * row_bytes, keys[b], (size_t)kv[b] * row_bytes);
            memcpy((char*)vc + (size_t)b * cap * row_bytes, vals[b], (size_t)kv[b] * row_bytes);
        }
        tu_fill_nan(o2, c->dtype, (size_t)q_count);
        tu_fill_nan(lse2, PATTN_DTYPE_F32, (size_t)lse_count);
        p.k_cache = tu_tensor_4d(kc, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, cap, c->num_kv_heads, c->head_dim);
        p.v_cache = tu_tensor_4d(vc, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, cap, c->num_kv_heads, c->head_dim);
        p.page_table.data = NULL;
        p.o.data = o2;
        if (c->with_lse) p.lse.data = lse2;
        CHECK_OK(pattn_decode(&p, NULL));
        CHECK_MSG(memcmp(o2, paged->o.data, (size_t)q_count * es) == 0, "%s: paged o differs from contiguous",
                  g_label);
        if (c->with_lse)
            CHECK_MSG(memcmp(lse2, paged->lse.data, (size_t)lse_count * 4) == 0,
                      "%s: paged lse differs from contiguous", g_label);
    }
    free(kc);
    free(vc);
    free(o2);
    free(lse2);
}

static void run_case(const paged_case* c, int on_gpu, uint64_t seed) {
    const size_t es = tu_dtype_size(c->dtype);
    const int32_t ps = c->page_size, row_elems = c->num_kv_heads * c->head_dim;
    const size_t page_elems = (size_t)ps * row_elems;
    const int64_t q_count = (int64_t)c->batch * c->q_len * c->num_qo_heads * c->head_dim;
    const int64_t lse_count = (int64_t)c->batch * c->q_len * c->num_qo_heads;
    int32_t kv[MAX_ROWS], used[MAX_ROWS], max_pages = 1, num_pages = 0, share, b, e, j;
    void* keys[MAX_ROWS];
    void* vals[MAX_ROWS];
    int32_t* table;
    void *q_host, *o_host, *k_pages, *v_pages;
    float* lse_host;
    double *ref_o, *ref_lse;
    tu_rng rng = tu_rng_make(seed);
    const tu_ref_problem shape_only = {.dtype = c->dtype, .batch = c->batch, .q_len = c->q_len,
                                       .num_qo_heads = c->num_qo_heads, .head_dim = c->head_dim};
    pattn_decode_params p;

    /* Lengths; without kv_valid_lens every row is max_pages * page_size long. */
    for (b = 0; b < c->batch; ++b) {
        used[b] = (c->lens[b] + ps - 1) / ps;
        if (used[b] + 1 > max_pages) max_pages = used[b] + 1; /* one spare column of -1 */
    }
    for (b = 0; b < c->batch; ++b) {
        kv[b] = c->no_lens ? max_pages * ps : c->lens[b];
        used[b] = (kv[b] + ps - 1) / ps;
        if (c->no_lens) used[b] = max_pages;
    }

    /* The table: row 0's pages first, rows >= 1 reuse its first full pages
     * (at most shared_pages), the rest are fresh; two more pages stay unused.
     * Physical page numbers are a shuffled permutation. */
    share = c->shared_pages < kv[0] / ps ? c->shared_pages : kv[0] / ps;
    table = (int32_t*)malloc(sizeof(int32_t) * (size_t)c->batch * max_pages);
    for (e = 0; e < c->batch * max_pages; ++e) table[e] = -1;
    for (b = 0; b < c->batch; ++b)
        for (e = 0; e < used[b]; ++e) {
            if (b > 0 && e < share)
                table[b * max_pages + e] = table[e];
            else
                table[b * max_pages + e] = num_pages++;
        }
    num_pages += 2;
    tu_shuffle_pages(table, c->batch * max_pages, num_pages, &rng);

    /* Logical keys per row; a shared prefix has row 0's values. */
    q_host = malloc((size_t)q_count * es + 16);
    o_host = malloc((size_t)q_count * es + 16);
    lse_host = (float*)malloc((size_t)lse_count * 4 + 16);
    ref_o = (double*)malloc(sizeof(double) * (size_t)(q_count + 1));
    ref_lse = (double*)malloc(sizeof(double) * (size_t)(lse_count + 1));
    tu_fill_uniform(q_host, c->dtype, (size_t)q_count, &rng, -2.0f, 2.0f);
    for (b = 0; b < c->batch; ++b) {
        const size_t n = (size_t)kv[b] * row_elems;
        keys[b] = malloc(n * es + 16);
        vals[b] = malloc(n * es + 16);
        tu_fill_uniform(keys[b], c->dtype, n, &rng, -2.0f, 2.0f);
        tu_fill_uniform(vals[b], c->dtype, n, &rng, -1.0f, 1.0f);
        if (b > 0) {
            int32_t keys_shared = share * ps;
            if (keys_shared > kv[b]) keys_shared = kv[b];
            memcpy(keys[b], keys[0], (size_t)keys_shared * row_elems * es);
            memcpy(vals[b], vals[0], (size_t)keys_shared * row_elems * es);
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
            memcpy((char*)k_pages + dst, (char*)keys[b] + (size_t)j * row_elems * es, (size_t)row_elems * es);
            memcpy((char*)v_pages + dst, (char*)vals[b] + (size_t)j * row_elems * es, (size_t)row_elems * es);
        }
    reference(c, q_host, keys, vals, kv, ref_o, ref_lse);

    {
        const pattn_device_type dev = on_gpu ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
        const size_t pages_bytes = (size_t)num_pages * page_elems * es;
        void* qd = on_gpu ? tu_upload(q_host, (size_t)q_count * es, 0) : q_host;
        void* kd = on_gpu ? tu_upload(k_pages, pages_bytes, 0) : k_pages;
        void* vd = on_gpu ? tu_upload(v_pages, pages_bytes, 0) : v_pages;
        void* td = on_gpu ? tu_upload(table, sizeof(int32_t) * (size_t)c->batch * max_pages, 0) : table;
        void* ld = (on_gpu && c->lens_on_device) ? tu_upload(kv, sizeof(int32_t) * (size_t)c->batch, 0) : kv;
        void *od, *lsed;
        tu_fill_nan(o_host, c->dtype, (size_t)q_count);
        tu_fill_nan(lse_host, PATTN_DTYPE_F32, (size_t)lse_count);
        od = on_gpu ? tu_upload(o_host, (size_t)q_count * es, 0) : o_host;
        lsed = on_gpu ? tu_upload(lse_host, (size_t)lse_count * 4, 0) : lse_host;
        CHECK(qd && kd && vd && td && ld && od && lsed);
        if (qd && kd && vd && td && ld && od && lsed) {
            p = tu_decode_params(
                PATTN_PADDING_RIGHT, tu_tensor_4d(qd, c->dtype, dev, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim),
                tu_tensor_4d(kd, c->dtype, dev, 0, num_pages, ps, c->num_kv_heads, c->head_dim),
                tu_tensor_4d(vd, c->dtype, dev, 0, num_pages, ps, c->num_kv_heads, c->head_dim),
                tu_tensor_4d(od, c->dtype, dev, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim),
                tu_tensor_3d(c->with_lse ? lsed : NULL, PATTN_DTYPE_F32, dev, 0, c->batch, c->q_len, c->num_qo_heads));
            p.page_table = tu_tensor_nd(td, PATTN_DTYPE_I32, dev, 0, 2, (int64_t[]){c->batch, max_pages});
            if (!c->no_lens)
                p.kv_valid_lens = tu_tensor_1d(ld, PATTN_DTYPE_I32,
                                               (on_gpu && c->lens_on_device) ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU, 0,
                                               c->batch);
            p.num_splits = c->num_splits;
            CHECK_OK(pattn_decode(&p, NULL));
            if (on_gpu) {
                CHECK_OK(pattn_device_synchronize(0));
                CHECK_OK(tu_download(o_host, od, (size_t)q_count * es));
                CHECK_OK(tu_download(lse_host, lsed, (size_t)lse_count * 4));
            }
            p.o.data = o_host;
            p.lse.data = c->with_lse ? lse_host : NULL;
            tu_check_attention(g_label, &shape_only, &p.o, c->with_lse ? &p.lse : NULL, ref_o, ref_lse);
            if (!on_gpu) same_as_contiguous(c, &p, keys, vals, kv, max_pages * ps, q_count, lse_count);
        }
        if (on_gpu) {
            pattn_device_free(qd);
            pattn_device_free(kd);
            pattn_device_free(vd);
            pattn_device_free(td);
            if (c->lens_on_device) pattn_device_free(ld);
            pattn_device_free(od);
            pattn_device_free(lsed);
        }
    }

    for (b = 0; b < c->batch; ++b) {
        free(keys[b]);
        free(vals[b]);
    }
    free(table);
    free(q_host);
    free(o_host);
    free(lse_host);
    free(ref_o);
    free(ref_lse);
    free(k_pages);
    free(v_pages);
}

/* Every page size x dtype x head layout, with lengths, sharing and splits
 * cycled, and head_dim cycled through dims, the next one every dim_step
 * cases; case numbers (seeds) start at n0. */
static void sweep_dims(int on_gpu, const int32_t* dims, int num_dims, int dim_step, int n0) {
    static const int32_t page_sizes[5] = {1, 7, 16, 64, 256};
    static const int32_t q_lens[3] = {1, 3, 16};
    static const int32_t heads[3][2] = {{8, 2}, {4, 4}, {8, 1}};
    static const int splits[4] = {0, 1, 2, 7};
    const int n_dtypes = on_gpu ? 2 : 3;
    static const pattn_dtype dtypes[3] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16, PATTN_DTYPE_F32};
    int n = n0, a, ps, hl;
    for (ps = 0; ps < 5; ++ps)
        for (a = 0; a < n_dtypes; ++a)
            for (hl = 0; hl < 3; ++hl, ++n) {
                paged_case c;
                tu_rng rng = tu_rng_make(300 + (uint64_t)n);
                const int32_t page = page_sizes[ps];
                memset(&c, 0, sizeof c);
                c.dtype = dtypes[a];
                c.batch = 6;
                c.q_len = q_lens[n % 3];
                c.num_qo_heads = heads[hl][0];
                c.num_kv_heads = heads[hl][1];
                c.head_dim = dims[(n / dim_step) % num_dims];
                c.page_size = page;
                /* Row 0 long (the shared prefix), an empty row, one key, exactly
                 * one page, one page plus one key, and a random odd length. */
                c.lens[0] = page * 3 + tu_rng_int(&rng, 1, page + 40);
                c.lens[1] = 0;
                c.lens[2] = 1;
                c.lens[3] = page;
                c.lens[4] = page + 1;
                c.lens[5] = tu_rng_int(&rng, 1, 700) | 1;
                c.shared_pages = (n % 3 == 2) ? 0 : 2;
                c.num_splits = splits[n % 4];
                c.lens_on_device = (n % 2) == 1;
                c.with_lse = (n % 5) != 4;
                c.no_lens = 0;
                label_case(&c);
                run_case(&c, on_gpu, 900 + (uint64_t)n);
            }
}

static void sweep(int on_gpu) {
    static const int32_t dims[2] = {64, 128};
    sweep_dims(on_gpu, dims, 2, 1, 0);
}

/* The same sweep at head_dim 32, 80 and 96 (on the GPU: 4 lanes per key;
 * 16 lanes per key, the idle ones reading no page). One head_dim per three
 * cases (a q_len x head layout triple); starting at case 99 (a multiple of
 * 3), on the GPU every head_dim meets both dtypes and most page sizes (on
 * the CPU each one gets one dtype; the managed CPU suite has the rest). */
static void sweep_small_head_dims(int on_gpu) {
    static const int32_t dims[3] = {32, 80, 96};
    sweep_dims(on_gpu, dims, 3, 3, 99);
}

/* Long rows: automatic splitting really splits, forced counts, no lengths. */
static void long_rows(int on_gpu) {
    static const int splits[4] = {0, 1, 2, 7};
    int n;
    for (n = 0; n < 4; ++n) {
        paged_case c;
        memset(&c, 0, sizeof c);
        c.dtype = (n % 2) ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16;
        c.batch = 3;
        c.q_len = n == 3 ? 16 : 1;
        c.num_qo_heads = n == 2 ? 10 : 8; /* n == 2: GQA 5, the GPU's 6-row blocks */
        c.num_kv_heads = 2;
        c.head_dim = 128;
        c.page_size = n == 2 ? 64 : 16;
        c.lens[0] = 4100;
        c.lens[1] = 4099;
        c.lens[2] = 2051;
        c.shared_pages = 100;
        c.num_splits = splits[n];
        c.lens_on_device = n == 1;
        c.with_lse = 1;
        label_case(&c);
        run_case(&c, on_gpu, 4000 + (uint64_t)n);
    }
    {
        paged_case c;
        memset(&c, 0, sizeof c);
        c.dtype = PATTN_DTYPE_BF16;
        c.batch = 2;
        c.q_len = 2;
        c.num_qo_heads = 4;
        c.num_kv_heads = 1;
        c.head_dim = 64;
        c.page_size = 16;
        c.lens[0] = 40;
        c.lens[1] = 3;
        c.no_lens = 1;
        c.with_lse = 1;
        label_case(&c);
        run_case(&c, on_gpu, 4100);
    }
}

static pattn_status call_decode(const void* params) {
    return pattn_decode((const pattn_decode_params*)params, NULL);
}

/* Argument checks of the page table (host tensors). */
static void argument_checks(void) {
    enum { B = 2, PS = 4, PAGES = 3, MAXP = 2, H = 2, D = 64 };
    uint16_t q[B * H * D], o[B * H * D], k[PAGES * PS * H * D];
    int32_t table[B * MAXP] = {0, 1, 2, -1};
    int32_t lens[B] = {5, 3};
    pattn_decode_params base, p;
    memset(q, 0, sizeof q);
    memset(k, 0, sizeof k);
    base = tu_decode_params(PATTN_PADDING_RIGHT, tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 1, H, D),
                            tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, PAGES, PS, H, D),
                            tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, PAGES, PS, H, D),
                            tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 1, H, D),
                            tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, 1, H));
    base.page_table = tu_tensor_nd(table, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 2, (int64_t[]){B, MAXP});
    base.kv_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    CHECK_OK(pattn_decode(&base, NULL));

    /* Row 1 has 3 keys: one page; its second entry (-1) is never read. A
     * fourth key would read it. */
    lens[1] = 5;
    CHECK_STATUS(pattn_decode(&base, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_table[1][1] = -1");
    lens[1] = 3;
    table[1] = PAGES;
    CHECK_STATUS(pattn_decode(&base, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("num_pages = 3");
    table[1] = 1;
    lens[0] = MAXP * PS + 1;
    CHECK_STATUS(pattn_decode(&base, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("max_pages_per_row * page_size");
    lens[0] = 5;

    p = base;
    p.padding_side = PATTN_PADDING_LEFT;
    CHECK_STATUS(pattn_decode(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("padding_side");
    p = base;
    tu_check_page_table_rules(call_decode, &p, &p.page_table);
    p = base;
    p.struct_size = (uint32_t)offsetof(pattn_decode_params, page_table) + 8;
    CHECK_STATUS(pattn_decode(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("struct_size");
}

/* A caller of ABI 1 (struct_size ends before page_table) gets the contiguous
 * cache, whatever lies in the memory where page_table would be. */
static void abi1_struct_size(void) {
    enum { S = 5, H = 1, D = 64 };
    uint16_t q[H * D], o[H * D], k[S * H * D], v[S * H * D];
    double ref = 0.0, w = 0.0;
    int j;
    tu_rng rng = tu_rng_make(17);
    pattn_decode_params p;
    tu_fill_uniform(q, PATTN_DTYPE_F16, H * D, &rng, -1.0f, 1.0f);
    tu_fill_uniform(k, PATTN_DTYPE_F16, S * H * D, &rng, -1.0f, 1.0f);
    tu_fill_uniform(v, PATTN_DTYPE_F16, S * H * D, &rng, -1.0f, 1.0f);
    tu_fill_nan(o, PATTN_DTYPE_F16, H * D);
    p = tu_decode_params(PATTN_PADDING_RIGHT, tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 1, 1, H, D),
                         tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 1, S, H, D),
                         tu_tensor_4d(v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 1, S, H, D),
                         tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 1, 1, H, D),
                         tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, 1, H));
    p.struct_size = (uint32_t)offsetof(pattn_decode_params, page_table);
    memset(&p.page_table, 0x5a, sizeof p.page_table);
    CHECK_OK(pattn_decode(&p, NULL));
    /* Element 0 of the output against a float64 softmax over the 5 keys. */
    {
        double s[S], m = -INFINITY;
        int d;
        for (j = 0; j < S; ++j) {
            double dot = 0.0;
            for (d = 0; d < D; ++d) dot += tu_load(q, PATTN_DTYPE_F16, d) * tu_load(k, PATTN_DTYPE_F16, (size_t)j * D + d);
            s[j] = dot / 8.0;
            if (s[j] > m) m = s[j];
        }
        for (j = 0; j < S; ++j) {
            const double e = exp(s[j] - m);
            w += e;
            ref += e * tu_load(v, PATTN_DTYPE_F16, (size_t)j * D);
        }
        ref /= w;
    }
    CHECK_MSG(fabs(tu_load(o, PATTN_DTYPE_F16, 0) - ref) < 2e-3, "ABI-1 call: o[0] = %g, reference %g",
              tu_load(o, PATTN_DTYPE_F16, 0), ref);
}

/* Built twice: as test_decode_paged (the CPU backend) and, through
 * test_decode_paged_cuda.c, with DECODE_PAGED_TEST_ON_GPU = 1. */
#ifndef DECODE_PAGED_TEST_ON_GPU
#define DECODE_PAGED_TEST_ON_GPU 0
#endif

int main(void) {
    const int on_gpu = DECODE_PAGED_TEST_ON_GPU;
    if (on_gpu && !tu_have_gpu()) {
        printf("test_decode_paged_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    sweep(on_gpu);
    sweep_small_head_dims(on_gpu);
    long_rows(on_gpu);
    if (!on_gpu) {
        argument_checks();
        abi1_struct_size();
    }
    return tu_finish(on_gpu ? "test_decode_paged_cuda" : "test_decode_paged");
}
