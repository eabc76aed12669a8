/*
 * test_decode.c — pattn_decode against a float64 reference written here,
 * on the CPU backend (this program) and on the GPU (test_decode_cuda.c).
 *
 * Covers q_len 1/3/5/16, GQA 2/4/5/6, MHA and MQA, head_dim 32/64/80/96/128/256, f16/bf16,
 * left and right padding, kv lengths 0/1/7/odd/full, cache lengths 1, 65,
 * 333, 1000 and 4100 (split-KV really splits), NaN/Inf in the cache padding,
 * lse, NaN-poisoned outputs, host and device lengths, forced num_splits
 * 1/2/7, strided caches (views into a packed KV buffer), clamping of
 * out-of-range device lengths, and (GPU) caches whose padding rows are not
 * allocated at all, so that compute-sanitizer catches any read of them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

typedef struct decode_case {
    pattn_dtype dtype;
    int32_t batch, q_len, cache_len;
    int32_t num_qo_heads, num_kv_heads, head_dim;
    int left_padded;
    const int32_t* kv_lens; /* NULL: full cache */
    int lens_on_device;     /* GPU only */
    int num_splits;
    int with_lse;
    int packed_kv;          /* k and v are views into one [b, cache, 2, hkv, d] buffer */
    float scale;            /* 0: default */
    double padding_value;   /* written into every padding cache row */
    int real_rows_only;     /* GPU: batch 1, right padding: only the real cache rows are allocated */
} decode_case;

/* Float64 reference of decode (docs/semantics.md for q_len real queries, causal,
 * bottom-right): query i sees real key j iff j <= i + kv - q_len. Cache
 * index of real key j: j (right padding) or cache_len - kv + j (left). The
 * inputs are widened to double once (padding rows are never read). */
static void reference_decode(const decode_case* c, const pattn_tensor* q, const pattn_tensor* k,
                             const pattn_tensor* v, double* ref_o, double* ref_lse) {
    const int32_t group = c->num_qo_heads / c->num_kv_heads;
    const int32_t dim = c->head_dim;
    const double scale = c->scale != 0.0f ? (double)c->scale : 1.0 / sqrt((double)dim);
    double* w = (double*)malloc(sizeof(double) * (size_t)(c->cache_len + 1));
    double* qrow = (double*)malloc(sizeof(double) * (size_t)dim);
    double* keys = (double*)malloc(sizeof(double) * ((size_t)c->cache_len * dim + 1));
    double* vals = (double*)malloc(sizeof(double) * ((size_t)c->cache_len * dim + 1));
    int32_t b, i, h, hk, j, d;
    for (b = 0; b < c->batch; ++b) {
        int32_t kv = c->kv_lens ? c->kv_lens[b] : c->cache_len;
        int32_t first;
        if (kv < 0) kv = 0;
        if (kv > c->cache_len) kv = c->cache_len;
        first = c->left_padded ? c->cache_len - kv : 0;
        for (hk = 0; hk < c->num_kv_heads; ++hk) {
            for (j = 0; j < kv; ++j)
                for (d = 0; d < dim; ++d) {
                    keys[(size_t)j * dim + d] =
                        tu_load(k->data, c->dtype, (size_t)tu_tensor_offset(k, b, first + j, hk, d));
                    vals[(size_t)j * dim + d] =
                        tu_load(v->data, c->dtype, (size_t)tu_tensor_offset(v, b, first + j, hk, d));
                }
            for (i = 0; i < c->q_len; ++i) {
                const int32_t seen = i + kv - c->q_len + 1; /* keys [0, seen) */
                const int32_t n = seen < 0 ? 0 : (seen > kv ? kv : seen);
                for (h = hk * group; h < (hk + 1) * group; ++h) {
                    const size_t row = ((size_t)b * c->q_len + i) * c->num_qo_heads + h;
                    double* out = ref_o + row * dim;
                    double m = -INFINITY, sum = 0.0;
                    for (d = 0; d < dim; ++d) {
                        out[d] = 0.0;
                        qrow[d] = tu_load(q->data, c->dtype, (size_t)tu_tensor_offset(q, b, i, h, d));
                    }
                    ref_lse[row] = -INFINITY;
                    if (n == 0) continue;
                    for (j = 0; j < n; ++j) {
                        const double* kr = keys + (size_t)j * dim;
                        double dot = 0.0;
                        for (d = 0; d < dim; ++d) dot += qrow[d] * kr[d];
                        w[j] = scale * dot;
                        if (w[j] > m) m = w[j];
                    }
                    for (j = 0; j < n; ++j) {
                        w[j] = exp(w[j] - m);
                        sum += w[j];
                    }
                    for (j = 0; j < n; ++j) {
                        const double* vr = vals + (size_t)j * dim;
                        const double p = w[j] / sum;
                        for (d = 0; d < dim; ++d) out[d] += p * vr[d];
                    }
                    ref_lse[row] = m + log(sum);
                }
            }
        }
    }
    free(w);
    free(qrow);
    free(keys);
    free(vals);
}

static char g_label[256];

/* The call of case c on these tensors (host or device). */
static pattn_decode_params decode_params(const decode_case* c, pattn_tensor q, pattn_tensor k, pattn_tensor v,
                                         pattn_tensor o, pattn_tensor lse, pattn_tensor lens) {
    pattn_decode_params p =
        tu_decode_params(c->left_padded ? PATTN_PADDING_LEFT : PATTN_PADDING_RIGHT, q, k, v, o, lse);
    p.kv_valid_lens = lens;
    p.softmax_scale = c->scale;
    p.num_splits = c->num_splits;
    return p;
}

/* Runs one case on the CPU backend, or (on_gpu) on device 0. */
static void run_case(const decode_case* c, int on_gpu, uint64_t seed) {
    const size_t es = tu_dtype_size(c->dtype);
    const int64_t q_count = (int64_t)c->batch * c->q_len * c->num_qo_heads * c->head_dim;
    const int64_t kv_row = (int64_t)c->num_kv_heads * c->head_dim;
    const int64_t cache_count = (int64_t)c->batch * c->cache_len * kv_row * (c->packed_kv ? 2 : 1);
    const int64_t lse_count = (int64_t)c->batch * c->q_len * c->num_qo_heads;
    void* q_host = malloc((size_t)q_count * es + 16);
    void* k_host = malloc((size_t)cache_count * es + 16);
    void* v_host = c->packed_kv ? NULL : malloc((size_t)cache_count * es + 16);
    void* o_host = malloc((size_t)q_count * es + 16);
    float* lse_host = (float*)malloc((size_t)lse_count * 4 + 16);
    double* ref_o = (double*)malloc(sizeof(double) * (size_t)(q_count + 1));
    double* ref_lse = (double*)malloc(sizeof(double) * (size_t)(lse_count + 1));
    pattn_tensor q, k, v, o, lse, lens;
    /* What tu_check_attention needs: the output shape. */
    const tu_ref_problem shape_only = {.dtype = c->dtype, .batch = c->batch, .q_len = c->q_len,
                                       .num_qo_heads = c->num_qo_heads, .head_dim = c->head_dim};
    tu_rng rng = tu_rng_make(seed);
    pattn_decode_params p;

    q = tu_tensor_4d(q_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim);
    if (c->packed_kv) {
        /* [b, cache, 2, hkv, d]: k is slot 0, v slot 1 of every cache row. */
        k = tu_tensor_4d(k_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->cache_len, c->num_kv_heads, c->head_dim);
        k.strides[0] = (int64_t)c->cache_len * 2 * kv_row;
        k.strides[1] = 2 * kv_row;
        v = k;
        v.data = (char*)k_host + (size_t)kv_row * es;
    } else {
        k = tu_tensor_4d(k_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->cache_len, c->num_kv_heads, c->head_dim);
        v = tu_tensor_4d(v_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->cache_len, c->num_kv_heads, c->head_dim);
    }
    o = tu_tensor_4d(o_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->q_len, c->num_qo_heads, c->head_dim);
    lse = tu_tensor_3d(c->with_lse ? lse_host : NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, c->batch, c->q_len,
                       c->num_qo_heads);
    lens = tu_tensor_1d((void*)c->kv_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, c->batch);
    if (!c->kv_lens) lens.data = NULL;

    tu_fill_uniform(q_host, c->dtype, (size_t)q_count, &rng, -2.0f, 2.0f);
    tu_fill_uniform(k_host, c->dtype, (size_t)cache_count, &rng, -2.0f, 2.0f);
    if (v_host) tu_fill_uniform(v_host, c->dtype, (size_t)cache_count, &rng, -1.0f, 1.0f);
    if (c->kv_lens) {
        /* Lengths outside [0, cache_len] only occur for device lengths; the
         * kernels clamp them, so poison the clamped padding. */
        int32_t* clamped = (int32_t*)malloc(sizeof(int32_t) * (size_t)c->batch);
        int32_t b;
        for (b = 0; b < c->batch; ++b) clamped[b] = tu_clamp_i32(c->kv_lens[b], c->cache_len);
        tu_poison_padding(&k, clamped, c->left_padded, c->padding_value);
        tu_poison_padding(&v, clamped, c->left_padded, c->padding_value);
        free(clamped);
    }
    reference_decode(c, &q, &k, &v, ref_o, ref_lse);

    /* CPU backend: host tensors (device lengths make no sense there). */
    if (!on_gpu) {
        int32_t b, ok = 1;
        if (c->kv_lens)
            for (b = 0; b < c->batch; ++b)
                if (c->kv_lens[b] < 0 || c->kv_lens[b] > c->cache_len) ok = 0;
        if (ok) {
            tu_fill_nan(o_host, c->dtype, (size_t)q_count);
            tu_fill_nan(lse_host, PATTN_DTYPE_F32, (size_t)lse_count);
            p = decode_params(c, q, k, v, o, lse, lens);
            snprintf(g_label + strlen(g_label), 16, " cpu");
            CHECK_OK(pattn_decode(&p, NULL));
            tu_check_attention(g_label, &shape_only, &o, c->with_lse ? &lse : NULL, ref_o, ref_lse);
            g_label[strlen(g_label) - 4] = '\0';
        }
    }

    if (on_gpu) {
        void* q_dev = tu_upload(q_host, (size_t)q_count * es, 0);
        /* With real_rows_only the padding rows lie past the end of the
         * allocation: a read of them is an out-of-bounds access that
         * compute-sanitizer reports. */
        const size_t cache_bytes = c->real_rows_only ? (size_t)c->kv_lens[0] * kv_row * es : (size_t)cache_count * es;
        void* k_dev = tu_upload(k_host, cache_bytes, 0);
        void* v_dev = v_host ? tu_upload(v_host, cache_bytes, 0) : NULL;
        void* o_dev;
        void* lse_dev;
        void* lens_dev = NULL;
        tu_fill_nan(o_host, c->dtype, (size_t)q_count);
        tu_fill_nan(lse_host, PATTN_DTYPE_F32, (size_t)lse_count);
        o_dev = tu_upload(o_host, (size_t)q_count * es, 0);
        lse_dev = tu_upload(lse_host, (size_t)lse_count * 4, 0);
        if (c->kv_lens && c->lens_on_device) lens_dev = tu_upload(c->kv_lens, (size_t)c->batch * 4, 0);
        CHECK(q_dev && k_dev && o_dev && lse_dev && (v_dev || !v_host));
        if (q_dev && k_dev && o_dev && lse_dev && (v_dev || !v_host)) {
            pattn_tensor qd = q, kd = k, vd = v, od = o, lsed = lse, lensd = lens;
            qd.data = q_dev;
            kd.data = k_dev;
            vd.data = c->packed_kv ? (char*)k_dev + (size_t)kv_row * es : v_dev;
            od.data = o_dev;
            lsed.data = c->with_lse ? lse_dev : NULL;
            qd.device_type = kd.device_type = vd.device_type = od.device_type = lsed.device_type = PATTN_DEVICE_CUDA;
            if (lens_dev) {
                lensd.data = lens_dev;
                lensd.device_type = PATTN_DEVICE_CUDA;
            }
            p = decode_params(c, qd, kd, vd, od, lsed, lensd);
            snprintf(g_label + strlen(g_label), 16, " gpu");
            CHECK_OK(pattn_decode(&p, NULL));
            CHECK_OK(pattn_device_synchronize(0));
            CHECK_OK(tu_download(o_host, o_dev, (size_t)q_count * es));
            CHECK_OK(tu_download(lse_host, lse_dev, (size_t)lse_count * 4));
            tu_check_attention(g_label, &shape_only, &o, c->with_lse ? &lse : NULL, ref_o, ref_lse);
            g_label[strlen(g_label) - 4] = '\0';
        }
        pattn_device_free(q_dev);
        pattn_device_free(k_dev);
        pattn_device_free(v_dev);
        pattn_device_free(o_dev);
        pattn_device_free(lse_dev);
        pattn_device_free(lens_dev);
    }

    free(q_host);
    free(k_host);
    free(v_host);
    free(o_host);
    free(lse_host);
    free(ref_o);
    free(ref_lse);
}

static void label_case(const decode_case* c) {
    snprintf(g_label, sizeof g_label, "%s q_len=%d heads=%d/%d d=%d cache=%d %s lens=%s splits=%d%s%s",
             tu_dtype_name(c->dtype), c->q_len, c->num_qo_heads, c->num_kv_heads, c->head_dim, c->cache_len,
             c->left_padded ? "left" : "right", c->kv_lens ? (c->lens_on_device ? "device" : "host") : "none",
             c->num_splits, c->with_lse ? " lse" : "", c->packed_kv ? " packed" : "");
}

/* The main sweep: every dtype x head_dim x q_len x head layout, with cache
 * lengths, padding sides, length sources and split counts cycled; case
 * numbers (seeds, and the cycles) start at n0. */
static void sweep_dims(int on_gpu, const int32_t* dims, int num_dims, int n0) {
    static const pattn_dtype dtypes[2] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t q_lens[3] = {1, 3, 16};
    static const int32_t heads[3][2] = {{8, 2}, {4, 4}, {8, 1}};
    static const int32_t caches[4] = {1, 65, 333, 1000};
    static const int splits[4] = {0, 1, 2, 7};
    int n = n0, a, bdim, c3, h;
    for (a = 0; a < 2; ++a)
        for (bdim = 0; bdim < num_dims; ++bdim)
            for (c3 = 0; c3 < 3; ++c3)
                for (h = 0; h < 3; ++h, ++n) {
                    decode_case c;
                    int32_t lens[5];
                    tu_rng rng = tu_rng_make(1000 + (uint64_t)n);
                    memset(&c, 0, sizeof c);
                    c.dtype = dtypes[a];
                    c.head_dim = dims[bdim];
                    c.q_len = q_lens[c3];
                    c.num_qo_heads = heads[h][0];
                    c.num_kv_heads = heads[h][1];
                    c.cache_len = caches[n % 4];
                    c.left_padded = (n / 2) % 2;
                    c.batch = 5;
                    /* 0, 1, 7, full and a random odd length, clamped to the cache. */
                    lens[0] = 0;
                    lens[1] = 1;
                    lens[2] = 7;
                    lens[3] = c.cache_len;
                    lens[4] = tu_rng_int(&rng, 0, c.cache_len) | 1;
                    {
                        int i;
                        for (i = 0; i < 5; ++i) lens[i] = tu_clamp_i32(lens[i], c.cache_len);
                    }
                    c.kv_lens = (n % 7 == 6) ? NULL : lens;
                    c.lens_on_device = (n % 3) == 1;
                    c.num_splits = splits[(n / 3) % 4];
                    c.with_lse = (n % 5) != 4;
                    c.packed_kv = (n % 4) == 3;
                    c.scale = (n % 6) == 5 ? 0.3f : 0.0f;
                    c.padding_value = (n % 2) ? NAN : INFINITY;
                    label_case(&c);
                    run_case(&c, on_gpu, 77 + (uint64_t)n);
                }
}

static void sweep(int on_gpu) {
    static const int32_t dims[3] = {64, 128, 256};
    sweep_dims(on_gpu, dims, 3, 0);
}

/* The small models' head_dims (the GPU's 80 and 96 have idle lanes in each
 * key group, 32 has four lanes per key): the same sweep, continuing its case
 * numbers. */
static void sweep_small_head_dims(int on_gpu) {
    static const int32_t dims[3] = {32, 80, 96};
    sweep_dims(on_gpu, dims, 3, 54);
}

/* Long caches: automatic splitting and forced split counts. */
static void split_cases(int on_gpu) {
    static const int splits[4] = {0, 1, 2, 7};
    int n = 0, s, q, side;
    for (s = 0; s < 4; ++s)
        for (q = 0; q < 2; ++q)
            for (side = 0; side < 2; ++side, ++n) {
                int32_t lens[3] = {4100, 4099, 2051};
                const decode_case c = {.dtype = (n % 2) ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16, .batch = 3,
                                       .q_len = q ? 16 : 1, .cache_len = 4100, .num_qo_heads = 8,
                                       .num_kv_heads = 2, .head_dim = 128, .left_padded = side, .kv_lens = lens,
                                       .lens_on_device = (n % 3) == 0, .num_splits = splits[s], .with_lse = 1,
                                       .padding_value = NAN};
                label_case(&c);
                run_case(&c, on_gpu, 5000 + (uint64_t)n);
            }
}

/* Five or six packed rows per KV head (GQA 40/8 and 6/1, q_len 3 x group 2,
 * q_len 5 MHA): the GPU's 6-row blocks, with splits. */
static void six_row_packs(int on_gpu) {
    static const int32_t shapes[4][3] = {{1, 40, 8}, {1, 6, 1}, {3, 8, 4}, {5, 2, 2}}; /* q_len, qo, kv heads */
    int n;
    for (n = 0; n < 8; ++n) {
        int32_t lens[3] = {333, 0, 171};
        const int32_t* sh = shapes[n % 4];
        const decode_case c = {.dtype = (n % 2) ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16, .batch = 3, .q_len = sh[0],
                               .cache_len = 333, .num_qo_heads = sh[1], .num_kv_heads = sh[2],
                               .head_dim = (n / 4) ? 64 : 128, .left_padded = n % 3 == 0, .kv_lens = lens,
                               .lens_on_device = n % 2, .num_splits = (n / 2) % 2 ? 3 : 0, .with_lse = 1,
                               .padding_value = NAN};
        label_case(&c);
        run_case(&c, on_gpu, 7000 + (uint64_t)n);
    }
}

/* The GPU's tensor-core row packs of up to 16 rows (decode_mma_kernel):
 * 14 rows (q_len 2 x GQA 7, 28/4), 16 (q_len 4 x GQA 4 at d64; GQA 16),
 * 18 (two chunks, the second of 2 rows), every head_dim of the kernel, with
 * cache lengths that end inside a tile, splits that leave empty blocks, and
 * both padding sides. */
static void wide_row_packs(int on_gpu) {
    static const int32_t shapes[5][3] = {{2, 28, 4}, {4, 32, 8}, {1, 16, 1}, {3, 12, 2}, {16, 8, 8}};
    static const int32_t dims[5] = {128, 64, 32, 80, 96};
    int n;
    for (n = 0; n < 10; ++n) {
        int32_t lens[4] = {1000, 0, 517, 2};
        const int32_t* sh = shapes[n % 5];
        const decode_case c = {.dtype = (n % 2) ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16, .batch = 4, .q_len = sh[0],
                               .cache_len = 1000, .num_qo_heads = sh[1], .num_kv_heads = sh[2],
                               .head_dim = dims[(n + n / 5) % 5], .left_padded = (n / 3) % 2, .kv_lens = lens,
                               .lens_on_device = n % 3 == 1, .num_splits = n % 4 == 3 ? 64 : (n % 4) * 2,
                               .with_lse = n != 4, .padding_value = (n % 2) ? NAN : INFINITY};
        label_case(&c);
        run_case(&c, on_gpu, 9100 + (uint64_t)n);
    }
}

/* Long caches at head_dim 32/80/96: automatic and forced splits (the GPU's
 * combine kernel has idle threads at 80 and 96), q_len 1 and 16, GQA 4, 5
 * (6-row blocks), 6 and MHA, an empty row, full, odd lengths. */
static void small_head_dim_splits(int on_gpu) {
    static const int32_t dims[3] = {32, 80, 96};
    static const int splits[4] = {0, 1, 2, 7};
    static const int32_t heads[4][2] = {{8, 2}, {10, 2}, {6, 1}, {4, 4}};
    int n;
    for (n = 0; n < 12; ++n) {
        int32_t lens[4] = {4100, 0, 4099, 2051};
        const decode_case c = {.dtype = (n % 2) ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16, .batch = 4,
                               .q_len = (n / 2) % 2 ? 16 : 1, .cache_len = 4100, .num_qo_heads = heads[n % 4][0],
                               .num_kv_heads = heads[n % 4][1], .head_dim = dims[n % 3],
                               .left_padded = (n / 3) % 2, .kv_lens = lens, .lens_on_device = (n % 3) == 1,
                               .num_splits = splits[n / 3], .with_lse = 1, .padding_value = NAN};
        label_case(&c);
        run_case(&c, on_gpu, 5500 + (uint64_t)n);
    }
}

/* Device lengths outside [0, cache_len] are clamped (GPU only). */
static void clamped_lengths(void) {
    int32_t lens[4] = {-3, 70, 1000, 9};
    const decode_case c = {.dtype = PATTN_DTYPE_BF16, .batch = 4, .q_len = 3, .cache_len = 65, .num_qo_heads = 8,
                           .num_kv_heads = 2, .head_dim = 128, .left_padded = 1, .kv_lens = lens,
                           .lens_on_device = 1, .with_lse = 1, .padding_value = NAN};
    label_case(&c);
    run_case(&c, 1, 9001);
}

/* Right padding where the padding rows are not even allocated (GPU only). */
static void unallocated_padding(void) {
    static const int splits[3] = {0, 1, 7};
    int n;
    for (n = 0; n < 3; ++n) {
        int32_t lens[1] = {37};
        const decode_case c = {.dtype = PATTN_DTYPE_F16, .batch = 1, .q_len = n == 1 ? 16 : 3, .cache_len = 4100,
                               .num_qo_heads = 8, .num_kv_heads = 2, .head_dim = 128, .kv_lens = lens,
                               .num_splits = splits[n], .with_lse = 1, .padding_value = NAN,
                               .real_rows_only = 1};
        label_case(&c);
        run_case(&c, 1, 9100 + (uint64_t)n);
    }
    /* The same at head_dim 32, 80 and 96: the idle lanes of 80 and 96 load
     * nothing either. */
    for (n = 0; n < 3; ++n) {
        static const int32_t dims[3] = {32, 80, 96};
        int32_t lens[1] = {37};
        const decode_case c = {.dtype = n == 1 ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16, .batch = 1,
                               .q_len = n == 1 ? 16 : 3, .cache_len = 4100, .num_qo_heads = 8, .num_kv_heads = 2,
                               .head_dim = dims[n], .kv_lens = lens, .num_splits = splits[n], .with_lse = 1,
                               .padding_value = NAN, .real_rows_only = 1};
        label_case(&c);
        run_case(&c, 1, 9110 + (uint64_t)n);
    }
}

/* An unsupported head_dim on the GPU is refused, naming the value. */
static void unsupported_head_dim(void) {
    const int32_t b = 1, s = 4, h = 2, d = 48;
    const size_t bytes = (size_t)b * s * h * d * 2;
    void* buf = tu_upload(NULL, bytes, 0);
    void* out = tu_upload(NULL, (size_t)b * h * d * 2, 0);
    pattn_decode_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.q = tu_tensor_4d(out, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, b, 1, h, d);
    p.k_cache = tu_tensor_4d(buf, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, b, s, h, d);
    p.v_cache = p.k_cache;
    p.o = p.q;
    CHECK_STATUS(pattn_decode(&p, NULL), PATTN_STATUS_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("48");
    pattn_device_free(buf);
    pattn_device_free(out);
}

/* This file is built twice: as test_decode (the CPU backend) and, through
 * test_decode_cuda.c, with DECODE_TEST_ON_GPU = 1 (skipped without a GPU). */
#ifndef DECODE_TEST_ON_GPU
#define DECODE_TEST_ON_GPU 0
#endif

int main(void) {
    const int on_gpu = DECODE_TEST_ON_GPU;
    if (on_gpu && !tu_have_gpu()) {
        printf("test_decode_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    sweep(on_gpu);
    sweep_small_head_dims(on_gpu);
    split_cases(on_gpu);
    small_head_dim_splits(on_gpu);
    six_row_packs(on_gpu);
    wide_row_packs(on_gpu);
    if (on_gpu) {
        clamped_lengths();
        unallocated_padding();
        unsupported_head_dim();
    }
    return tu_finish(on_gpu ? "test_decode_cuda" : "test_decode");
}
