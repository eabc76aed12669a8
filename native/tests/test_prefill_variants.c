/*
 * test_prefill_variants.c — sliding window, logit soft-capping and the packed
 * (cu_seqlens) layout, against the float64 reference of test_util.h:
 *   - every mask mode x window 0 / 1 / larger than the row / left-only /
 *     right-only / asymmetric, with lengths, GQA, odd lengths and NaN padding;
 *   - soft-capping with large logits (scale 1, |q| up to 30), alone and with a
 *     window;
 *   - decode with a window and a soft cap (causal against a padded cache);
 *   - packed batches with empty and one-token sequences, separate kv offsets,
 *     NaN in every token outside the sequences and between strided rows,
 *     and output rows outside every sequence left untouched;
 *   - validation of the new fields and the ABI-1 struct_size;
 *   - on the GPU, rows of more than 1024 tokens (padded and packed) with
 *     narrow windows and a soft cap: the Hopper kernel's default range.
 * Built twice: on the CPU backend (this file) and on device 0
 * (test_prefill_variants_gpu.c, VARIANTS_ON_GPU; exits 77 without a GPU).
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

#ifndef VARIANTS_ON_GPU
#define VARIANTS_ON_GPU 0
#endif

static int g_cases = 0;

/* The device copies of a call's q, k, v, o and lse (GPU build): uploaded
 * together, pointed to by the tensors' descriptors, read back, freed. */
typedef struct device_io {
    void* ptr[5];
    size_t bytes[5];
} device_io;

static int device_io_upload(device_io* io, void* const host[5], const size_t bytes[5], pattn_tensor* const t[5],
                            const char* label) {
    int i, ok = 1;
    for (i = 0; i < 5; ++i) {
        io->bytes[i] = bytes[i];
        io->ptr[i] = tu_upload(host[i], bytes[i], 0);
        ok = ok && io->ptr[i] != NULL;
    }
    CHECK_MSG(ok, "[%s] device allocation failed: %s", label, pattn_last_error_message());
    for (i = 0; ok && i < 5; ++i) {
        t[i]->data = io->ptr[i];
        t[i]->device_type = PATTN_DEVICE_CUDA;
    }
    return ok;
}

/* Synchronizes and copies o and lse back. */
static void device_io_download(const device_io* io, void* o_host, void* lse_host) {
    CHECK_OK(pattn_stream_synchronize(NULL));
    CHECK_OK(tu_download(o_host, io->ptr[3], io->bytes[3]));
    CHECK_OK(tu_download(lse_host, io->ptr[4], io->bytes[4]));
}

static void device_io_free(device_io* io) {
    int i;
    for (i = 0; i < 5; ++i) pattn_device_free(io->ptr[i]);
}

/* ------------------------------------------------------------ padded --- */

static void run_padded(tu_prefill_case c, const char* what) {
    char label[256];
    c.on_cuda = VARIANTS_ON_GPU;
    snprintf(label, sizeof label,
             "%s: mode=%d window=%d(%d,%d) cap=%g %s q=%d kv=%d hq=%d hkv=%d d=%d lens=%d/%d dev_lens=%d", what,
             (int)c.mode, c.window, c.window_left, c.window_right, (double)c.soft_cap, tu_dtype_name(c.dtype),
             c.q_len, c.kv_len, c.num_qo_heads, c.num_kv_heads, c.head_dim, c.use_lens, c.separate_kv,
             c.lens_on_device);
    g_cases++;
    if (tu_run_prefill_case(&c, label) != 0) fprintf(stderr, "FAILED %s\n", label);
}

static void window_matrix(void) {
    /* (left, right); -1 = unlimited. 1000 is larger than every row here. */
    static const int32_t windows[7][2] = {{0, 0}, {1, 1}, {1000, 1000}, {37, -1}, {-1, 37}, {5, 2}, {130, 0}};
    static const int32_t lens[3] = {65, 127, 333};
#if VARIANTS_ON_GPU
    static const pattn_dtype dtypes[2] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t dims[3] = {64, 128, 256};
#else
    static const pattn_dtype dtypes[2] = {PATTN_DTYPE_F32, PATTN_DTYPE_BF16};
    static const int32_t dims[3] = {64, 40, 128};
#endif
    int mode, w, n = 0;
    for (mode = 0; mode < 4; ++mode)
        for (w = 0; w < 7; ++w, ++n) {
            tu_prefill_case c;
            memset(&c, 0, sizeof c);
            c.mode = (pattn_mask_mode)mode;
            c.use_lens = 1;
            c.separate_kv = n % 3 == 1;
            c.dtype = dtypes[n % 2];
            c.head_dim = dims[n % 3];
            c.batch = 4;
            c.q_len = lens[n % 3];
            c.kv_len = c.separate_kv ? lens[(n + 1) % 3] : c.q_len;
            c.num_kv_heads = n % 2 ? 2 : 1;
            c.num_qo_heads = c.num_kv_heads * (n % 4 == 0 ? 1 : 4);
            c.with_lse = 1;
            c.pad_poison = 1;
            c.window = 1;
            c.window_left = windows[w][0];
            c.window_right = windows[w][1];
            c.lens_on_device = VARIANTS_ON_GPU && (n % 2 == 0);
            c.seed = 9000 + (uint64_t)n;
            run_padded(c, "window");
        }
}

static void soft_cap_cases(void) {
#if VARIANTS_ON_GPU
    const pattn_dtype f = PATTN_DTYPE_F16;
#else
    const pattn_dtype f = PATTN_DTYPE_F32;
#endif
    const tu_prefill_case cases[] = {
        /* Large logits: scale 1, |q| up to 30 against |k| up to 1. */
        {.mode = PATTN_MASK_PADDED, .use_lens = 1, .dtype = f, .batch = 3, .q_len = 127, .kv_len = 127,
         .num_qo_heads = 4, .num_kv_heads = 2, .head_dim = 64, .with_lse = 1, .pad_poison = 1, .scale = 1.0f,
         .q_range = 30.0f, .soft_cap = 30.0f, .seed = 9101},
        {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .dtype = PATTN_DTYPE_BF16, .batch = 3, .q_len = 200,
         .kv_len = 200, .num_qo_heads = 8, .num_kv_heads = 2, .head_dim = 128, .with_lse = 1, .pad_poison = 2,
         .scale = 1.0f, .q_range = 30.0f, .soft_cap = 50.0f, .seed = 9102},
        /* Default scale, a small cap (strongly bent scores). */
        {.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT, .use_lens = 1, .separate_kv = 1, .dtype = f, .batch = 4,
         .q_len = 65, .kv_len = 333, .num_qo_heads = 3, .num_kv_heads = 1, .head_dim = 256, .with_lse = 1,
         .pad_poison = 1, .soft_cap = 1.5f, .seed = 9103},
        /* Soft cap and a window together. */
        {.mode = PATTN_MASK_PADDED_LEFT, .use_lens = 1, .dtype = PATTN_DTYPE_BF16, .batch = 4, .q_len = 333,
         .kv_len = 333, .num_qo_heads = 4, .num_kv_heads = 4, .head_dim = 64, .with_lse = 1, .pad_poison = 1,
         .scale = 1.0f, .q_range = 30.0f, .soft_cap = 20.0f, .window = 1, .window_left = 64, .window_right = 16,
         .seed = 9104},
        {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .dtype = f, .batch = 2, .q_len = 333,
         .kv_len = 333, .num_qo_heads = 2, .num_kv_heads = 1, .head_dim = 128, .with_lse = 1, .pad_poison = 1,
         .soft_cap = 5.0f, .window = 1, .window_left = 100, .window_right = -1, .seed = 9105},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) run_padded(cases[i], "soft cap");
}

/* ------------------------------------------------------------ decode --- */

/* Decode of q_len new queries per row with a window and a cap: the same
 * attention as causal prefill with only kv lengths (every query row real). */
static void run_decode(pattn_dtype dtype, int32_t q_len, int32_t cache_len, int32_t hq, int32_t hk, int32_t d,
                       int left, int32_t wl, float cap, uint64_t seed) {
    const int32_t B = 4;
    const size_t es = tu_dtype_size(dtype);
    const size_t qn = (size_t)B * q_len * hq * d, kn = (size_t)B * cache_len * hk * d, ln = (size_t)B * q_len * hq;
    tu_rng rng = tu_rng_make(seed);
    void* qh = malloc(qn * es);
    void* kh = malloc(kn * es);
    void* vh = malloc(kn * es);
    void* oh = malloc(qn * es);
    float* lh = (float*)malloc(ln * 4);
    double* ref_o = (double*)malloc(sizeof(double) * qn);
    double* ref_l = (double*)malloc(sizeof(double) * ln);
    int32_t lens[4];
    pattn_tensor q, k, v, o, lse;
    pattn_decode_params p;
    tu_ref_problem r;
    char label[160];
    device_io io;
    lens[0] = cache_len;
    lens[1] = q_len;
    lens[2] = cache_len / 2 + 1;
    lens[3] = cache_len > 7 ? 7 : cache_len;
    tu_fill_uniform(qh, dtype, qn, &rng, -3.0f, 3.0f);
    tu_fill_uniform(kh, dtype, kn, &rng, -1.0f, 1.0f);
    tu_fill_uniform(vh, dtype, kn, &rng, -1.0f, 1.0f);
    tu_fill_nan(oh, dtype, qn);
    tu_fill_nan(lh, PATTN_DTYPE_F32, ln);
    q = tu_tensor_4d(qh, dtype, PATTN_DEVICE_CPU, 0, B, q_len, hq, d);
    k = tu_tensor_4d(kh, dtype, PATTN_DEVICE_CPU, 0, B, cache_len, hk, d);
    v = tu_tensor_4d(vh, dtype, PATTN_DEVICE_CPU, 0, B, cache_len, hk, d);
    o = tu_tensor_4d(oh, dtype, PATTN_DEVICE_CPU, 0, B, q_len, hq, d);
    lse = tu_tensor_3d(lh, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, q_len, hq);
    tu_poison_padding(&k, lens, left, NAN);
    tu_poison_padding(&v, lens, left, NAN);
    snprintf(label, sizeof label, "decode: %s q=%d cache=%d hq=%d hkv=%d d=%d left=%d window_left=%d cap=%g",
             tu_dtype_name(dtype), q_len, cache_len, hq, hk, d, left, wl, (double)cap);
    g_cases++;
    memset(&io, 0, sizeof io);
    {
        pattn_tensor dqt = q, dkt = k, dvt = v, dot = o, dlt = lse;
        pattn_tensor lt = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
        if (VARIANTS_ON_GPU) {
            void* const host[5] = {qh, kh, vh, oh, lh};
            const size_t bytes[5] = {qn * es, kn * es, kn * es, qn * es, ln * 4};
            pattn_tensor* const views[5] = {&dqt, &dkt, &dvt, &dot, &dlt};
            if (!device_io_upload(&io, host, bytes, views, label)) goto done;
        }
        p = tu_decode_params(left ? PATTN_PADDING_LEFT : PATTN_PADDING_RIGHT, dqt, dkt, dvt, dot, dlt);
        p.kv_valid_lens = lt;
        p.window_enabled = 1;
        p.window_left = wl;
        p.window_right = -1;
        p.logits_soft_cap = cap;
        {
            pattn_status st = pattn_decode(&p, NULL);
            CHECK_MSG(st == PATTN_STATUS_SUCCESS, "[%s] pattn_decode returned %s: %s", label,
                      pattn_status_string(st), pattn_last_error_message());
            if (st != PATTN_STATUS_SUCCESS) goto done;
        }
        if (VARIANTS_ON_GPU) device_io_download(&io, oh, lh);
    }
    memset(&r, 0, sizeof r);
    r.dtype = dtype;
    r.batch = B; r.q_len = q_len; r.kv_len = cache_len;
    r.num_qo_heads = hq; r.num_kv_heads = hk; r.head_dim = d;
    r.q = q; r.k = k; r.v = v;
    r.q_lens = NULL;
    r.kv_lens = lens;
    r.causal = 1;
    r.left_padded = left;
    r.has_window = 1;
    r.window_left = wl;
    r.window_right = -1;
    r.soft_cap = cap;
    tu_reference_attention(&r, ref_o, ref_l);
    tu_check_attention(label, &r, &o, &lse, ref_o, ref_l);
done:
    if (VARIANTS_ON_GPU) device_io_free(&io);
    free(qh); free(kh); free(vh); free(oh); free(lh); free(ref_o); free(ref_l);
}

static void decode_cases(void) {
#if VARIANTS_ON_GPU
    const pattn_dtype f = PATTN_DTYPE_F16;
#else
    const pattn_dtype f = PATTN_DTYPE_F32;
#endif
    run_decode(f, 1, 333, 8, 2, 64, 0, 0, 0.0f, 9201);
    run_decode(PATTN_DTYPE_BF16, 1, 333, 8, 2, 128, 1, 100, 0.0f, 9202);
    run_decode(f, 4, 1000, 4, 4, 128, 0, 257, 30.0f, 9203);
    run_decode(PATTN_DTYPE_BF16, 3, 127, 6, 2, 256, 1, 1, 5.0f, 9204);
    run_decode(f, 2, 4100, 8, 1, 64, 1, 1500, 0.0f, 9205);
    run_decode(f, 1, 65, 2, 1, 64, 0, 1000, 2.0f, 9206);
}

/* ------------------------------------------------------------ packed --- */

typedef struct packed_case {
    pattn_dtype dtype;
    int32_t batch;
    const int32_t* q_lens;   /* per sequence */
    const int32_t* kv_lens;  /* NULL: the same offsets as q */
    int32_t lead, tail;      /* unused tokens before the first and after the last sequence */
    int32_t hq, hk, d;
    int causal;
    int window;
    int32_t window_left, window_right;
    float soft_cap;
    int strided;             /* token stride with an 8-element gap (NaN) after each row */
    int cu_on_device;        /* GPU: offsets in device memory */
    uint64_t seed;
} packed_case;

static void run_packed(const packed_case* c, const char* what) {
    const size_t es = tu_dtype_size(c->dtype);
    const int32_t gap = c->strided ? 8 : 0;
    int32_t* cu_q = (int32_t*)malloc(sizeof(int32_t) * (size_t)(c->batch + 1));
    int32_t* cu_kv = (int32_t*)malloc(sizeof(int32_t) * (size_t)(c->batch + 1));
    int32_t b, total_q, total_kv;
    int64_t qrow, krow;
    size_t qn, kn, ln;
    void *qh, *kh, *vh, *oh;
    float* lh;
    tu_rng rng = tu_rng_make(c->seed);
    pattn_tensor q, k, v, o, lse;
    pattn_prefill_params p;
    char label[256];
    device_io io;
    void *dcq = NULL, *dckv = NULL;
    int bad_untouched = 0;

    cu_q[0] = c->lead;
    cu_kv[0] = c->lead;
    for (b = 0; b < c->batch; ++b) {
        cu_q[b + 1] = cu_q[b] + c->q_lens[b];
        cu_kv[b + 1] = cu_kv[b] + (c->kv_lens ? c->kv_lens[b] : c->q_lens[b]);
    }
    total_q = cu_q[c->batch] + c->tail;
    total_kv = cu_kv[c->batch] + c->tail;
    qrow = (int64_t)c->hq * c->d + gap;
    krow = (int64_t)c->hk * c->d + gap;
    qn = (size_t)total_q * (size_t)qrow;
    kn = (size_t)total_kv * (size_t)krow;
    ln = (size_t)total_q * c->hq;
    qh = malloc(qn * es + 16);
    kh = malloc(kn * es + 16);
    vh = malloc(kn * es + 16);
    oh = malloc(qn * es + 16);
    lh = (float*)malloc(ln * 4 + 16);
    /* NaN everywhere first, then real values only inside the sequences. */
    tu_fill_nan(qh, c->dtype, qn);
    tu_fill_nan(kh, c->dtype, kn);
    tu_fill_nan(vh, c->dtype, kn);
    tu_fill_nan(oh, c->dtype, qn);
    tu_fill_nan(lh, PATTN_DTYPE_F32, ln);
    {
        int32_t t, x;
        for (t = cu_q[0]; t < cu_q[c->batch]; ++t)
            for (x = 0; x < c->hq * c->d; ++x)
                tu_store(qh, c->dtype, (size_t)(t * qrow + x), tu_rng_uniform(&rng, -3.0f, 3.0f));
        for (t = cu_kv[0]; t < cu_kv[c->batch]; ++t)
            for (x = 0; x < c->hk * c->d; ++x) {
                tu_store(kh, c->dtype, (size_t)(t * krow + x), tu_rng_uniform(&rng, -1.0f, 1.0f));
                tu_store(vh, c->dtype, (size_t)(t * krow + x), tu_rng_uniform(&rng, -1.0f, 1.0f));
            }
    }
    q = tu_tensor_3d(qh, c->dtype, PATTN_DEVICE_CPU, 0, total_q, c->hq, c->d);
    q.strides[0] = qrow;
    o = q;
    o.data = oh;
    k = tu_tensor_3d(kh, c->dtype, PATTN_DEVICE_CPU, 0, total_kv, c->hk, c->d);
    k.strides[0] = krow;
    v = k;
    v.data = vh;
    {
        int64_t shape[2];
        shape[0] = total_q;
        shape[1] = c->hq;
        lse = tu_tensor_nd(lh, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, shape);
    }
    snprintf(label, sizeof label, "%s: %s batch=%d hq=%d hkv=%d d=%d causal=%d window=%d(%d,%d) cap=%g strided=%d cu_dev=%d",
             what, tu_dtype_name(c->dtype), c->batch, c->hq, c->hk, c->d, c->causal, c->window, c->window_left,
             c->window_right, (double)c->soft_cap, c->strided, c->cu_on_device);
    g_cases++;

    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.mask_mode = c->causal ? PATTN_MASK_CAUSAL_PADDED_RIGHT : PATTN_MASK_PADDED;
    p.q = q; p.k = k; p.v = v; p.o = o; p.lse = lse;
    p.window_enabled = c->window ? 1u : 0u;
    p.window_left = c->window_left;
    p.window_right = c->window_right;
    p.logits_soft_cap = c->soft_cap;
    p.cu_seqlens_q = tu_tensor_1d(cu_q, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, c->batch + 1);
    if (c->kv_lens) p.cu_seqlens_kv = tu_tensor_1d(cu_kv, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, c->batch + 1);
    memset(&io, 0, sizeof io);
    if (VARIANTS_ON_GPU) {
        void* const host[5] = {qh, kh, vh, oh, lh};
        const size_t bytes[5] = {qn * es, kn * es, kn * es, qn * es, ln * 4};
        pattn_tensor* const views[5] = {&p.q, &p.k, &p.v, &p.o, &p.lse};
        if (!device_io_upload(&io, host, bytes, views, label)) goto done;
        if (c->cu_on_device) {
            dcq = tu_upload(cu_q, sizeof(int32_t) * (size_t)(c->batch + 1), 0);
            dckv = tu_upload(cu_kv, sizeof(int32_t) * (size_t)(c->batch + 1), 0);
            p.cu_seqlens_q.data = dcq;
            p.cu_seqlens_q.device_type = PATTN_DEVICE_CUDA;
            if (c->kv_lens) {
                p.cu_seqlens_kv.data = dckv;
                p.cu_seqlens_kv.device_type = PATTN_DEVICE_CUDA;
            }
        }
    }
    {
        pattn_status st = pattn_sequence_prefill(&p, NULL);
        CHECK_MSG(st == PATTN_STATUS_SUCCESS, "[%s] pattn_sequence_prefill returned %s: %s", label,
                  pattn_status_string(st), pattn_last_error_message());
        if (st != PATTN_STATUS_SUCCESS) goto done;
    }
    if (VARIANTS_ON_GPU) device_io_download(&io, oh, lh);
    /* Each sequence against the reference of a batch of one. */
    for (b = 0; b < c->batch; ++b) {
        const int32_t sq = c->q_lens[b], sk = cu_kv[b + 1] - cu_kv[b];
        double* ref_o = (double*)malloc(sizeof(double) * ((size_t)sq * c->hq * c->d + 1));
        double* ref_l = (double*)malloc(sizeof(double) * ((size_t)sq * c->hq + 1));
        tu_ref_problem r;
        pattn_tensor qb = tu_tensor_4d((char*)qh + (size_t)cu_q[b] * qrow * es, c->dtype, PATTN_DEVICE_CPU, 0, 1,
                                       sq, c->hq, c->d);
        pattn_tensor kb = tu_tensor_4d((char*)kh + (size_t)cu_kv[b] * krow * es, c->dtype, PATTN_DEVICE_CPU, 0, 1,
                                       sk, c->hk, c->d);
        pattn_tensor vb = kb, ob = qb, lb;
        char seq_label[300];
        qb.strides[1] = qrow; qb.strides[0] = 0;
        kb.strides[1] = krow; kb.strides[0] = 0;
        vb = kb;
        vb.data = (char*)vh + (size_t)cu_kv[b] * krow * es;
        ob = qb;
        ob.data = (char*)oh + (size_t)cu_q[b] * qrow * es;
        lb = tu_tensor_3d(lh + (size_t)cu_q[b] * c->hq, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, sq, c->hq);
        lb.strides[0] = 0;
        memset(&r, 0, sizeof r);
        r.dtype = c->dtype;
        r.batch = 1; r.q_len = sq; r.kv_len = sk;
        r.num_qo_heads = c->hq; r.num_kv_heads = c->hk; r.head_dim = c->d;
        r.q = qb; r.k = kb; r.v = vb;
        r.causal = c->causal;
        r.has_window = c->window;
        r.window_left = c->window_left;
        r.window_right = c->window_right;
        r.soft_cap = c->soft_cap;
        snprintf(seq_label, sizeof seq_label, "%s seq=%d (q %d, kv %d)", label, b, sq, sk);
        if (sq > 0) {
            tu_reference_attention(&r, ref_o, ref_l);
            tu_check_attention(seq_label, &r, &ob, &lb, ref_o, ref_l);
        }
        free(ref_o);
        free(ref_l);
    }
    /* Rows outside every sequence and the gaps between strided rows are
       never written. */
    {
        int32_t t;
        int64_t x;
        for (t = 0; t < total_q; ++t) {
            const int inside = t >= cu_q[0] && t < cu_q[c->batch];
            for (x = inside ? (int64_t)c->hq * c->d : 0; x < qrow; ++x)
                if (!isnan(tu_load(oh, c->dtype, (size_t)(t * qrow + x)))) bad_untouched++;
            if (!inside)
                for (x = 0; x < c->hq; ++x)
                    if (!isnan(lh[(size_t)t * c->hq + (size_t)x])) bad_untouched++;
        }
        CHECK_MSG(bad_untouched == 0, "[%s] %d output elements outside the sequences were written", label,
                  bad_untouched);
    }
done:
    if (VARIANTS_ON_GPU) {
        device_io_free(&io);
        pattn_device_free(dcq);
        pattn_device_free(dckv);
    }
    free(qh); free(kh); free(vh); free(oh); free(lh); free(cu_q); free(cu_kv);
}

static void packed_cases(void) {
    static const int32_t q_a[6] = {65, 0, 1, 127, 7, 333};
    static const int32_t kv_a[6] = {130, 5, 1, 127, 0, 400};
    static const int32_t q_b[4] = {1, 1, 0, 1};
    static const int32_t q_c[3] = {200, 0, 64};
#if VARIANTS_ON_GPU
    const pattn_dtype f = PATTN_DTYPE_F16;
    const int32_t d_odd = 64;
#else
    const pattn_dtype f = PATTN_DTYPE_F32;
    const int32_t d_odd = 40;
#endif
    const packed_case cases[] = {
        {.dtype = f, .batch = 6, .q_lens = q_a, .lead = 3, .tail = 5, .hq = 4, .hk = 2, .d = 64, .causal = 1,
         .seed = 9301},
        {.dtype = PATTN_DTYPE_BF16, .batch = 6, .q_lens = q_a, .kv_lens = kv_a, .lead = 0, .tail = 2, .hq = 8,
         .hk = 2, .d = 128, .causal = 1, .strided = 1, .cu_on_device = 1, .seed = 9302},
        {.dtype = f, .batch = 6, .q_lens = q_a, .kv_lens = kv_a, .lead = 1, .tail = 0, .hq = 3, .hk = 1,
         .d = d_odd, .causal = 0, .seed = 9303},
        {.dtype = PATTN_DTYPE_BF16, .batch = 4, .q_lens = q_b, .lead = 2, .tail = 3, .hq = 2, .hk = 2, .d = 256,
         .causal = 1, .cu_on_device = 1, .seed = 9304},
        {.dtype = f, .batch = 4, .q_lens = q_b, .lead = 0, .tail = 0, .hq = 2, .hk = 1, .d = 64, .causal = 0,
         .seed = 9305},
        /* Window and soft cap on packed rows. */
        {.dtype = f, .batch = 6, .q_lens = q_a, .kv_lens = kv_a, .lead = 3, .tail = 1, .hq = 4, .hk = 1, .d = 128,
         .causal = 1, .window = 1, .window_left = 50, .window_right = -1, .soft_cap = 10.0f, .strided = 1,
         .seed = 9306},
        {.dtype = PATTN_DTYPE_BF16, .batch = 3, .q_lens = q_c, .lead = 0, .tail = 4, .hq = 4, .hk = 4, .d = 64,
         .causal = 0, .window = 1, .window_left = 16, .window_right = 70, .cu_on_device = 1, .seed = 9307},
        {.dtype = f, .batch = 3, .q_lens = q_c, .lead = 1, .tail = 1, .hq = 2, .hk = 1, .d = 256, .causal = 0,
         .window = 1, .window_left = 0, .window_right = 0, .soft_cap = 3.0f, .seed = 9308},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) run_packed(&cases[i], "packed");
#if VARIANTS_ON_GPU
    /* Host offsets copied to the device (the large-batch path;
       PADDEDATTN_UPLOAD_LENGTHS is read on every call), then through the
       host-built work list (PADDEDATTN_PREFILL_WORK_LIST). */
    setenv("PADDEDATTN_UPLOAD_LENGTHS", "1", 1);
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        if (!cases[i].cu_on_device) run_packed(&cases[i], "packed uploaded");
    setenv("PADDEDATTN_PREFILL_WORK_LIST", "1", 1);
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        if (!cases[i].cu_on_device) run_packed(&cases[i], "packed work list");
    unsetenv("PADDEDATTN_PREFILL_WORK_LIST");
    unsetenv("PADDEDATTN_UPLOAD_LENGTHS");
#endif
}

/* -------------------------------------------------------- validation --- */

#if !VARIANTS_ON_GPU
static void validation_cases(void) {
    float qd[2 * 4 * 8], od[2 * 4 * 8], ld[8];
    int32_t cu[3] = {0, 2, 4};
    pattn_tensor q = tu_tensor_4d(qd, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, 2, 2, 8);
    pattn_tensor o = tu_tensor_4d(od, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, 2, 2, 8);
    pattn_tensor none;
    pattn_prefill_params p;
    memset(&none, 0, sizeof none);
    memset(qd, 0, sizeof qd);

    p = tu_prefill_params(PATTN_MASK_PADDED, q, q, q, o, none);
    p.window_enabled = 2;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("window_enabled");
    p.window_enabled = 1;
    p.window_left = -2;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("window_left");
    p.window_left = 3;
    p.window_right = -7;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("window_right");
    p.window_right = -1;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    /* Without window_enabled the sizes are ignored, whatever they hold. */
    p.window_enabled = 0;
    p.window_left = -100;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    p.logits_soft_cap = -1.0f;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("logits_soft_cap");
    p.logits_soft_cap = NAN;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    p.logits_soft_cap = INFINITY;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    /* An ABI-1 struct_size ends before the appended fields: they mean 0. */
    p.struct_size = (uint32_t)offsetof(pattn_prefill_params, cpu_max_threads);
    p.window_enabled = 7;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));

    {
        pattn_decode_params d = tu_decode_params(PATTN_PADDING_RIGHT, q, q, q, o, none);
        d.window_enabled = 1;
        d.window_left = -3;
        CHECK_STATUS(pattn_decode(&d, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("window_left");
        d.window_left = 0;
        d.logits_soft_cap = -2.0f;
        CHECK_STATUS(pattn_decode(&d, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("logits_soft_cap");
        d.logits_soft_cap = 1.0f;
        CHECK_OK(pattn_decode(&d, NULL));
    }

    /* Packed: rank 3 tensors, offsets checked on the host. */
    {
        pattn_tensor q3 = tu_tensor_3d(qd, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 4, 2, 8);
        pattn_tensor o3 = tu_tensor_3d(od, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 4, 2, 8);
        pattn_tensor l2;
        int64_t shape[2] = {4, 2};
        l2 = tu_tensor_nd(ld, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, shape);
        p = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_RIGHT, q3, q3, q3, o3, l2);
        p.cu_seqlens_q = tu_tensor_1d(cu, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 3);
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
        p.mask_mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("mask_mode");
        p.mask_mode = PATTN_MASK_PADDED;
        p.q_valid_lens = p.cu_seqlens_q;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("q_valid_lens");
        p.q_valid_lens = none;
        p.q = q;  /* rank 4 */
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("packed");
        p.q = q3;
        cu[1] = 5;  /* past total_q = 4 */
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("cu_seqlens_q[1]");
        cu[1] = 3;
        cu[2] = 2;  /* decreasing */
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("cu_seqlens_q[2]");
        cu[0] = -1;
        cu[2] = 4;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("cu_seqlens_q[0]");
        cu[0] = 0;
        p.cu_seqlens_kv = tu_tensor_1d(cu, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 2);
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("cu_seqlens_kv");
        p.cu_seqlens_kv = none;
        p.cu_seqlens_q.dtype = PATTN_DTYPE_F32;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("cu_seqlens_q.dtype");
        p.cu_seqlens_q.dtype = PATTN_DTYPE_I32;
        /* cu_seqlens_kv alone is not a layout. */
        p.cu_seqlens_kv = p.cu_seqlens_q;
        p.cu_seqlens_q = none;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("cu_seqlens_kv");
        /* batch 0 (one offset) is a no-op. */
        p.cu_seqlens_q = tu_tensor_1d(cu, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
        p.cu_seqlens_kv = none;
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
    }
    g_cases++;
}
#endif

#if VARIANTS_ON_GPU
/* Rows of more than 1024 tokens at head_dim 128 and 256: long enough for the
 * Hopper kernel by default on an H200 (prefill_dispatch.cu), and windows
 * narrow enough that whole 128-key tiles before and after them are skipped
 * (first visible tile > 0), with tiles masked on both sides of the window. */
static void long_row_cases(void) {
    static const int32_t q_long[4] = {1100, 0, 37, 1029};
    static const int32_t kv_long[4] = {1300, 3, 37, 1029};
    const tu_prefill_case padded[] = {
        {.mode = PATTN_MASK_CAUSAL_PADDED_RIGHT, .use_lens = 1, .dtype = PATTN_DTYPE_BF16, .batch = 3,
         .q_len = 1100, .kv_len = 1100, .num_qo_heads = 2, .num_kv_heads = 1, .head_dim = 128, .with_lse = 1,
         .pad_poison = 1, .lens_on_device = 1, .window = 1, .window_left = 300, .window_right = -1,
         .seed = 9401},
        {.mode = PATTN_MASK_PADDED_LEFT, .use_lens = 1, .separate_kv = 1, .dtype = PATTN_DTYPE_F16, .batch = 3,
         .q_len = 1030, .kv_len = 1201, .num_qo_heads = 2, .num_kv_heads = 1, .head_dim = 256, .with_lse = 1,
         .pad_poison = 2, .window = 1, .window_left = 200, .window_right = 150, .seed = 9402},
        {.mode = PATTN_MASK_CAUSAL_PADDED_LEFT, .use_lens = 1, .dtype = PATTN_DTYPE_F16, .batch = 3,
         .q_len = 1100, .kv_len = 1100, .num_qo_heads = 1, .num_kv_heads = 1, .head_dim = 128, .with_lse = 1,
         .pad_poison = 1, .scale = 1.0f, .q_range = 30.0f, .soft_cap = 15.0f, .seed = 9403},
    };
    const packed_case packed[] = {
        {.dtype = PATTN_DTYPE_BF16, .batch = 4, .q_lens = q_long, .kv_lens = kv_long, .lead = 2, .tail = 3,
         .hq = 2, .hk = 1, .d = 128, .causal = 1, .seed = 9411},
        {.dtype = PATTN_DTYPE_F16, .batch = 4, .q_lens = q_long, .lead = 0, .tail = 1, .hq = 1, .hk = 1,
         .d = 256, .causal = 0, .strided = 1, .cu_on_device = 1, .seed = 9412},
        {.dtype = PATTN_DTYPE_F16, .batch = 4, .q_lens = q_long, .kv_lens = kv_long, .lead = 1, .tail = 0,
         .hq = 2, .hk = 2, .d = 128, .causal = 1, .window = 1, .window_left = 257, .window_right = -1,
         .soft_cap = 8.0f, .seed = 9413},
        {.dtype = PATTN_DTYPE_BF16, .batch = 4, .q_lens = q_long, .lead = 3, .tail = 2, .hq = 3, .hk = 1,
         .d = 256, .causal = 0, .window = 1, .window_left = 130, .window_right = 140, .cu_on_device = 1,
         .seed = 9414},
    };
    size_t i;
    for (i = 0; i < sizeof padded / sizeof padded[0]; ++i) run_padded(padded[i], "long row");
    for (i = 0; i < sizeof packed / sizeof packed[0]; ++i) run_packed(&packed[i], "long packed");
    /* Host offsets and lengths copied to the device, and through the
       host-built work list, as well. */
    setenv("PADDEDATTN_UPLOAD_LENGTHS", "1", 1);
    for (i = 0; i < sizeof padded / sizeof padded[0]; ++i)
        if (!padded[i].lens_on_device) run_padded(padded[i], "long row uploaded");
    for (i = 0; i < sizeof packed / sizeof packed[0]; ++i)
        if (!packed[i].cu_on_device) run_packed(&packed[i], "long packed uploaded");
    setenv("PADDEDATTN_PREFILL_WORK_LIST", "1", 1);
    for (i = 0; i < sizeof padded / sizeof padded[0]; ++i)
        if (!padded[i].lens_on_device) run_padded(padded[i], "long row work list");
    for (i = 0; i < sizeof packed / sizeof packed[0]; ++i)
        if (!packed[i].cu_on_device) run_packed(&packed[i], "long packed work list");
    unsetenv("PADDEDATTN_PREFILL_WORK_LIST");
    unsetenv("PADDEDATTN_UPLOAD_LENGTHS");
}
#endif

int main(void) {
    if (VARIANTS_ON_GPU && !tu_have_gpu()) {
        printf("test_prefill_variants_gpu: no CUDA device, skipped\n");
        return TEST_SKIP;
    }
#if !VARIANTS_ON_GPU
    validation_cases();
#endif
    window_matrix();
    soft_cap_cases();
    decode_cases();
    packed_cases();
#if VARIANTS_ON_GPU
    long_row_cases();
#endif
    printf("%s: %d cases\n", VARIANTS_ON_GPU ? "test_prefill_variants_gpu" : "test_prefill_variants", g_cases);
    return tu_finish(VARIANTS_ON_GPU ? "test_prefill_variants_gpu" : "test_prefill_variants");
}
