/*
 * test_merge_states.c — pattn_merge_states against a float64 reference, on
 * the CPU backend (this program) and on the GPU (test_merge_states_cuda.c,
 * which builds this file with MERGE_TEST_ON_GPU = 1).
 *
 * Random states with lse = -inf on one side (whose o then holds NaN: it must
 * contribute nothing) or on both, lse far apart (stability), f32/f16/bf16,
 * rank 3 and 4, contiguous and strided views, in place (o_out = o_a,
 * lse_out = lse_a). Then the identity it exists for: attention over keys
 * A u B equals merge(attention over A, attention over B), with prefill and
 * decode.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

#ifndef MERGE_TEST_ON_GPU
#define MERGE_TEST_ON_GPU 0
#endif

/* A view of a [d0, d1, heads, dim] (rank 4) or [d1, heads, dim] (rank 3)
 * tensor inside a larger host buffer; `pad` extra elements per head and per
 * row make it strided. */
static pattn_tensor make_view(void* data, pattn_dtype dtype, int rank, int64_t d0, int64_t d1, int64_t heads,
                              int64_t dim, int64_t pad) {
    pattn_tensor t;
    const int64_t sh = dim + pad;
    const int64_t s1 = heads * sh + pad;
    const int64_t s0 = d1 * s1 + pad;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.device_type = PATTN_DEVICE_CPU;
    t.ndim = rank;
    if (rank == 4) {
        t.shape[0] = d0; t.shape[1] = d1; t.shape[2] = heads; t.shape[3] = dim;
        t.strides[0] = s0; t.strides[1] = s1; t.strides[2] = sh; t.strides[3] = 1;
    } else {
        t.shape[0] = d1; t.shape[1] = heads; t.shape[2] = dim;
        t.strides[0] = s1; t.strides[1] = sh; t.strides[2] = 1;
    }
    return t;
}

/* Element offset of (i0, i1, h, e) in a rank-3 or rank-4 view (rank 3: i0 = 0). */
static int64_t off4(const pattn_tensor* t, int64_t i0, int64_t i1, int64_t h, int64_t e) {
    if (t->ndim == 4) return i0 * t->strides[0] + i1 * t->strides[1] + h * t->strides[2] + e * t->strides[3];
    return i1 * t->strides[0] + h * t->strides[1] + e * t->strides[2];
}

/* The lse view that matches an o view: o's shape without the last dim; the
 * heads dimension is contiguous, the row strides carry `pad`. */
static pattn_tensor lse_view(void* data, int rank, int64_t d0, int64_t d1, int64_t heads, int64_t pad) {
    pattn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = PATTN_DTYPE_F32;
    t.device_type = PATTN_DEVICE_CPU;
    if (rank == 4) {
        t.ndim = 3;
        t.shape[0] = d0; t.shape[1] = d1; t.shape[2] = heads;
        t.strides[0] = d1 * (heads + pad) + pad; t.strides[1] = heads + pad; t.strides[2] = 1;
    } else {
        t.ndim = 2;
        t.shape[0] = d1; t.shape[1] = heads;
        t.strides[0] = heads + pad; t.strides[1] = 1;
    }
    return t;
}

static int64_t lse_off(const pattn_tensor* t, int64_t i0, int64_t i1, int64_t h) {
    if (t->ndim == 3) return i0 * t->strides[0] + i1 * t->strides[1] + h * t->strides[2];
    return i1 * t->strides[0] + h * t->strides[1];
}

static void* device_copy_of(const void* host, size_t bytes) { return tu_upload(host, bytes, 0); }

/* Runs merge on host views (on_gpu: through device copies of the buffers). */
static void run_merge(int on_gpu, pattn_merge_params* p, size_t o_bytes, size_t lse_bytes, int in_place) {
    if (!on_gpu) {
        CHECK_OK(pattn_merge_states(p, NULL));
        return;
    }
    {
        void* oa = device_copy_of(p->o_a.data, o_bytes);
        void* ob = device_copy_of(p->o_b.data, o_bytes);
        void* la = device_copy_of(p->lse_a.data, lse_bytes);
        void* lb = device_copy_of(p->lse_b.data, lse_bytes);
        void* oo = in_place ? oa : device_copy_of(p->o_out.data, o_bytes);
        void* lo = in_place ? la : device_copy_of(p->lse_out.data, lse_bytes);
        pattn_merge_params d = *p;
        CHECK(oa && ob && la && lb && oo && lo);
        d.o_a.data = oa; d.o_b.data = ob; d.o_out.data = oo;
        d.lse_a.data = la; d.lse_b.data = lb; d.lse_out.data = lo;
        d.o_a.device_type = d.o_b.device_type = d.o_out.device_type = PATTN_DEVICE_CUDA;
        d.lse_a.device_type = d.lse_b.device_type = d.lse_out.device_type = PATTN_DEVICE_CUDA;
        CHECK_OK(pattn_merge_states(&d, NULL));
        CHECK_OK(pattn_device_synchronize(0));
        CHECK_OK(tu_download(p->o_out.data, oo, o_bytes));
        CHECK_OK(tu_download(p->lse_out.data, lo, lse_bytes));
        pattn_device_free(oa);
        pattn_device_free(ob);
        pattn_device_free(la);
        pattn_device_free(lb);
        if (!in_place) {
            pattn_device_free(oo);
            pattn_device_free(lo);
        }
    }
}

static void random_states(int on_gpu, pattn_dtype dtype, int rank, int strided, int in_place, uint64_t seed) {
    const int64_t d0 = rank == 4 ? 3 : 1, d1 = 37, heads = 3, dim = (seed % 2) ? 64 : 40;
    const int64_t pad = strided ? 5 : 0;
    const size_t es = tu_dtype_size(dtype);
    tu_rng rng = tu_rng_make(seed);
    pattn_tensor oa_v = make_view(NULL, dtype, rank, d0, d1, heads, dim, pad);
    const size_t o_count = tu_tensor_span(&oa_v);
    pattn_tensor la_v = lse_view(NULL, rank, d0, d1, heads, pad);
    const size_t l_count = tu_tensor_span(&la_v);
    void* oa = malloc(o_count * es);
    void* ob = malloc(o_count * es);
    void* oo = in_place ? oa : malloc(o_count * es);
    float* la = (float*)malloc(l_count * 4);
    float* lb = (float*)malloc(l_count * 4);
    float* lo = in_place ? la : (float*)malloc(l_count * 4);
    double* ref_o = (double*)malloc(sizeof(double) * (size_t)(d0 * d1 * heads * dim));
    double* ref_l = (double*)malloc(sizeof(double) * (size_t)(d0 * d1 * heads));
    pattn_merge_params p;
    int64_t i0, i1, h, e, bad = 0;
    char label[128];
    snprintf(label, sizeof label, "%s %s rank %d%s%s d=%d", on_gpu ? "gpu" : "cpu", tu_dtype_name(dtype), rank,
             strided ? " strided" : "", in_place ? " in-place" : "", (int)dim);

    tu_fill_nan(oa, dtype, o_count);
    tu_fill_nan(ob, dtype, o_count);
    tu_fill_nan(la, PATTN_DTYPE_F32, l_count);
    tu_fill_nan(lb, PATTN_DTYPE_F32, l_count);
    if (!in_place) {
        tu_fill_nan(oo, dtype, o_count);
        tu_fill_nan(lo, PATTN_DTYPE_F32, l_count);
    }
    for (i0 = 0; i0 < d0; ++i0)
        for (i1 = 0; i1 < d1; ++i1)
            for (h = 0; h < heads; ++h) {
                const int kind = tu_rng_int(&rng, 0, 9);
                float a = tu_rng_uniform(&rng, -4.0f, 4.0f), b = tu_rng_uniform(&rng, -4.0f, 4.0f);
                if (kind == 0) a = -INFINITY;                         /* only b */
                if (kind == 1) b = -INFINITY;                         /* only a */
                if (kind == 2) a = b = -INFINITY;                     /* nothing */
                if (kind == 3) { a = 150.0f; b = -150.0f; }           /* far apart */
                if (kind == 4) { a = 88.5f; b = 88.7f; }              /* e^lse overflows f32 */
                la[lse_off(&la_v, i0, i1, h)] = a;
                lb[lse_off(&la_v, i0, i1, h)] = b;
                for (e = 0; e < dim; ++e) {
                    /* A side with lse = -inf holds NaN: it must not leak. */
                    tu_store(oa, dtype, (size_t)off4(&oa_v, i0, i1, h, e),
                             a == -INFINITY ? NAN : tu_rng_uniform(&rng, -1.0f, 1.0f));
                    tu_store(ob, dtype, (size_t)off4(&oa_v, i0, i1, h, e),
                             b == -INFINITY ? NAN : tu_rng_uniform(&rng, -1.0f, 1.0f));
                }
            }
    /* float64 reference from the stored (rounded) inputs. */
    for (i0 = 0; i0 < d0; ++i0)
        for (i1 = 0; i1 < d1; ++i1)
            for (h = 0; h < heads; ++h) {
                const size_t row = (size_t)((i0 * d1 + i1) * heads + h);
                const double a = la[lse_off(&la_v, i0, i1, h)], b = lb[lse_off(&la_v, i0, i1, h)];
                const double m = a > b ? a : b;
                double wa = 0.0, wb = 0.0;
                ref_l[row] = -INFINITY;
                if (m != -INFINITY) {
                    double sum;
                    wa = exp(a - m);
                    wb = exp(b - m);
                    sum = wa + wb;
                    ref_l[row] = m + log(sum);
                    wa /= sum;
                    wb /= sum;
                }
                for (e = 0; e < dim; ++e) {
                    double x = 0.0;
                    if (wa > 0.0) x += wa * tu_load(oa, dtype, (size_t)off4(&oa_v, i0, i1, h, e));
                    if (wb > 0.0) x += wb * tu_load(ob, dtype, (size_t)off4(&oa_v, i0, i1, h, e));
                    ref_o[row * (size_t)dim + (size_t)e] = x;
                }
            }

    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.o_a = oa_v; p.o_a.data = oa;
    p.o_b = oa_v; p.o_b.data = ob;
    p.o_out = oa_v; p.o_out.data = oo;
    p.lse_a = la_v; p.lse_a.data = la;
    p.lse_b = la_v; p.lse_b.data = lb;
    p.lse_out = la_v; p.lse_out.data = lo;
    run_merge(on_gpu, &p, o_count * es, l_count * 4, in_place);

    for (i0 = 0; i0 < d0; ++i0)
        for (i1 = 0; i1 < d1; ++i1)
            for (h = 0; h < heads; ++h) {
                const size_t row = (size_t)((i0 * d1 + i1) * heads + h);
                const double got_l = lo[lse_off(&la_v, i0, i1, h)];
                double err2 = 0.0, ref2 = 0.0;
                int row_bad = 0;
                for (e = 0; e < dim; ++e) {
                    const double x = tu_load(oo, dtype, (size_t)off4(&oa_v, i0, i1, h, e));
                    const double r = ref_o[row * (size_t)dim + (size_t)e];
                    if (ref_l[row] == -INFINITY && x != 0.0) row_bad = 1;
                    err2 += (x - r) * (x - r);
                    ref2 += r * r;
                }
                if (ref_l[row] == -INFINITY) {
                    if (!(isinf(got_l) && got_l < 0)) row_bad = 1;
                } else {
                    if (!(sqrt(err2 / (ref2 > 0 ? ref2 : 1.0)) < tu_rel_tolerance(dtype))) row_bad = 1;
                    if (!(fabs(got_l - ref_l[row]) < 1e-5 * (1.0 + fabs(ref_l[row])))) row_bad = 1;
                }
                if (row_bad && bad++ < 5)
                    fprintf(stderr, "  [%s] row (%d, %d, %d): lse %.9g (ref %.9g), rel err %.3g\n", label, (int)i0,
                            (int)i1, (int)h, got_l, ref_l[row], sqrt(err2 / (ref2 > 0 ? ref2 : 1.0)));
            }
    CHECK_MSG(bad == 0, "%s: %d bad row(s)", label, (int)bad);

    free(oa);
    free(ob);
    free(la);
    free(lb);
    if (!in_place) {
        free(oo);
        free(lo);
    }
    free(ref_o);
    free(ref_l);
}

/* Non-finite lse values, one row each, against the documented table
 * (docs/semantics.md): NaN on either side gives o = NaN and lse = NaN; +inf
 * on one side takes all the weight (o = that o exactly, lse = +inf); +inf
 * on both gives lse = +inf, o = NaN; -inf contributes nothing. */
static void non_finite_states(int on_gpu, pattn_dtype dtype) {
    enum { ROWS = 10, DIM = 40 };
    /* lse_a, lse_b, expected lse, expected o: 'n' NaN, 'a' o_a, 'b' o_b, '0' zero. */
    static const struct { float a, b, lse; char o; } cases[ROWS] = {
        {NAN, 1.0f, NAN, 'n'},       {1.0f, NAN, NAN, 'n'},           {NAN, NAN, NAN, 'n'},
        {NAN, -INFINITY, NAN, 'n'},  {INFINITY, 0.5f, INFINITY, 'a'}, {-3.0f, INFINITY, INFINITY, 'b'},
        {INFINITY, -INFINITY, INFINITY, 'a'}, {INFINITY, INFINITY, INFINITY, 'n'},
        {-INFINITY, -INFINITY, -INFINITY, '0'}, {-INFINITY, NAN, NAN, 'n'}};
    const size_t es = tu_dtype_size(dtype);
    pattn_tensor o_v = make_view(NULL, dtype, 3, 1, ROWS, 1, DIM, 0);
    pattn_tensor l_v = lse_view(NULL, 3, 1, ROWS, 1, 0);
    void* oa = malloc((size_t)ROWS * DIM * es);
    void* ob = malloc((size_t)ROWS * DIM * es);
    void* oo = malloc((size_t)ROWS * DIM * es);
    float la[ROWS], lb[ROWS], lo[ROWS];
    tu_rng rng = tu_rng_make(on_gpu ? 91 : 92);
    pattn_merge_params p;
    int r, e, bad = 0;
    tu_fill_uniform(oa, dtype, (size_t)ROWS * DIM, &rng, -1, 1);
    tu_fill_uniform(ob, dtype, (size_t)ROWS * DIM, &rng, -1, 1);
    tu_fill_nan(oo, dtype, (size_t)ROWS * DIM);
    for (r = 0; r < ROWS; ++r) {
        la[r] = cases[r].a;
        lb[r] = cases[r].b;
        lo[r] = 12345.0f;
    }
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.o_a = o_v; p.o_a.data = oa;
    p.o_b = o_v; p.o_b.data = ob;
    p.o_out = o_v; p.o_out.data = oo;
    p.lse_a = l_v; p.lse_a.data = la;
    p.lse_b = l_v; p.lse_b.data = lb;
    p.lse_out = l_v; p.lse_out.data = lo;
    run_merge(on_gpu, &p, (size_t)ROWS * DIM * es, sizeof la, 0);
    for (r = 0; r < ROWS; ++r) {
        const int lse_ok = isnan(cases[r].lse) ? isnan(lo[r]) : lo[r] == cases[r].lse;
        int o_ok = 1;
        for (e = 0; e < DIM; ++e) {
            const double x = tu_load(oo, dtype, (size_t)(r * DIM + e));
            switch (cases[r].o) {
                case 'n': o_ok &= isnan(x) != 0; break;
                case 'a': o_ok &= x == tu_load(oa, dtype, (size_t)(r * DIM + e)); break;
                case 'b': o_ok &= x == tu_load(ob, dtype, (size_t)(r * DIM + e)); break;
                default: o_ok &= x == 0.0; break;
            }
        }
        if (!lse_ok || !o_ok) {
            bad++;
            fprintf(stderr, "  [%s %s] lse_a %g, lse_b %g: lse %g (expected %g), o %s (expected %c)\n",
                    on_gpu ? "gpu" : "cpu", tu_dtype_name(dtype), cases[r].a, cases[r].b, lo[r], cases[r].lse,
                    o_ok ? "ok" : "wrong", cases[r].o);
        }
    }
    CHECK_MSG(bad == 0, "non-finite lse: %d row(s) differ from the documented rule", bad);
    free(oa);
    free(ob);
    free(oo);
}

/* attention(A u B) == merge(attention(A), attention(B)), keys A = cache rows
 * [0, na), B = [na, n): prefill (f32 on the CPU, bidirectional) and decode
 * (q_len 1 sees every key; f16, on the GPU or the CPU). */
static void union_identity(int on_gpu, int use_decode) {
    const pattn_dtype dtype = use_decode ? PATTN_DTYPE_F16 : PATTN_DTYPE_F32;
    const int32_t q_len = use_decode ? 1 : 5, hq = 4, hk = 2, d = 64, n = 66, na = 37;
    const size_t es = tu_dtype_size(dtype);
    const size_t q_count = (size_t)q_len * hq * d, kv_count = (size_t)n * hk * d, l_count = (size_t)q_len * hq;
    tu_rng rng = tu_rng_make(use_decode ? 42 : 43);
    void* qh = malloc(q_count * es);
    void* kh = malloc(kv_count * es);
    void* vh = malloc(kv_count * es);
    void* o_all = malloc(q_count * es);
    void* o_a = malloc(q_count * es);
    void* o_b = malloc(q_count * es);
    float* l_all = (float*)malloc(l_count * 4);
    float* l_a = (float*)malloc(l_count * 4);
    float* l_b = (float*)malloc(l_count * 4);
    void *qd = NULL, *kd = NULL, *vd = NULL, *oalld = NULL, *oad = NULL, *obd = NULL, *lalld = NULL, *lad = NULL,
         *lbd = NULL;
    const pattn_device_type dev = on_gpu ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
    int32_t q_lens[1];
    int part;
    size_t i;
    double err2 = 0.0, ref2 = 0.0, lse_err = 0.0;

    tu_fill_uniform(qh, dtype, q_count, &rng, -2.0f, 2.0f);
    tu_fill_uniform(kh, dtype, kv_count, &rng, -2.0f, 2.0f);
    tu_fill_uniform(vh, dtype, kv_count, &rng, -1.0f, 1.0f);
    tu_fill_nan(o_all, dtype, q_count);
    tu_fill_nan(o_a, dtype, q_count);
    tu_fill_nan(o_b, dtype, q_count);
    tu_fill_nan(l_all, PATTN_DTYPE_F32, l_count);
    tu_fill_nan(l_a, PATTN_DTYPE_F32, l_count);
    tu_fill_nan(l_b, PATTN_DTYPE_F32, l_count);
    if (on_gpu) {
        qd = tu_upload(qh, q_count * es, 0);
        kd = tu_upload(kh, kv_count * es, 0);
        vd = tu_upload(vh, kv_count * es, 0);
        oalld = tu_upload(o_all, q_count * es, 0);
        oad = tu_upload(o_a, q_count * es, 0);
        obd = tu_upload(o_b, q_count * es, 0);
        lalld = tu_upload(l_all, l_count * 4, 0);
        lad = tu_upload(l_a, l_count * 4, 0);
        lbd = tu_upload(l_b, l_count * 4, 0);
        CHECK(qd && kd && vd && oalld && oad && obd && lalld && lad && lbd);
    }
    q_lens[0] = q_len;
    for (part = 0; part < 3; ++part) {
        /* part 0: keys [0, n); 1: [0, na); 2: [na, n) */
        const int32_t first = part == 2 ? na : 0, len = part == 0 ? n : (part == 1 ? na : n - na);
        const size_t key_offset = (size_t)first * hk * d * es;
        void* q_ptr = on_gpu ? qd : qh;
        void* k_ptr = (char*)(on_gpu ? kd : kh) + key_offset;
        void* v_ptr = (char*)(on_gpu ? vd : vh) + key_offset;
        void* o_ptr = part == 0 ? (on_gpu ? oalld : o_all) : part == 1 ? (on_gpu ? oad : o_a) : (on_gpu ? obd : o_b);
        void* l_ptr = part == 0 ? (on_gpu ? lalld : l_all) : part == 1 ? (on_gpu ? lad : l_a) : (on_gpu ? lbd : l_b);
        const pattn_tensor q = tu_tensor_4d(q_ptr, dtype, dev, 0, 1, q_len, hq, d);
        const pattn_tensor k = tu_tensor_4d(k_ptr, dtype, dev, 0, 1, len, hk, d);
        const pattn_tensor v = tu_tensor_4d(v_ptr, dtype, dev, 0, 1, len, hk, d);
        const pattn_tensor o = tu_tensor_4d(o_ptr, dtype, dev, 0, 1, q_len, hq, d);
        const pattn_tensor l = tu_tensor_3d(l_ptr, PATTN_DTYPE_F32, dev, 0, 1, q_len, hq);
        if (use_decode) {
            const pattn_decode_params p = tu_decode_params(PATTN_PADDING_RIGHT, q, k, v, o, l);
            CHECK_OK(pattn_decode(&p, NULL));
        } else {
            pattn_prefill_params p = tu_prefill_params(PATTN_MASK_PADDED, q, k, v, o, l);
            int32_t kv_lens[1];
            kv_lens[0] = len;
            p.q_valid_lens = tu_tensor_1d(q_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
            p.kv_valid_lens = tu_tensor_1d(kv_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
            CHECK_OK(pattn_sequence_prefill(&p, NULL));
        }
    }
    {
        /* o_a <- merge(o_a, o_b), in place, rank 3 [q_len, heads, d]. */
        pattn_merge_params m;
        memset(&m, 0, sizeof m);
        m.struct_size = sizeof m;
        m.o_a = tu_tensor_3d(on_gpu ? oad : o_a, dtype, dev, 0, q_len, hq, d);
        m.o_b = tu_tensor_3d(on_gpu ? obd : o_b, dtype, dev, 0, q_len, hq, d);
        m.o_out = m.o_a;
        m.lse_a = tu_tensor_nd(on_gpu ? lad : l_a, PATTN_DTYPE_F32, dev, 0, 2, m.o_a.shape);
        m.lse_b = tu_tensor_nd(on_gpu ? lbd : l_b, PATTN_DTYPE_F32, dev, 0, 2, m.o_a.shape);
        m.lse_out = m.lse_a;
        CHECK_OK(pattn_merge_states(&m, NULL));
    }
    if (on_gpu) {
        CHECK_OK(pattn_device_synchronize(0));
        CHECK_OK(tu_download(o_all, oalld, q_count * es));
        CHECK_OK(tu_download(o_a, oad, q_count * es));
        CHECK_OK(tu_download(l_all, lalld, l_count * 4));
        CHECK_OK(tu_download(l_a, lad, l_count * 4));
    }
    for (i = 0; i < q_count; ++i) {
        const double x = tu_load(o_a, dtype, i), r = tu_load(o_all, dtype, i);
        err2 += (x - r) * (x - r);
        ref2 += r * r;
    }
    for (i = 0; i < l_count; ++i) {
        const double e = fabs((double)l_a[i] - (double)l_all[i]);
        if (!(e <= lse_err)) lse_err = e; /* NaN lands here too */
    }
    CHECK_MSG(sqrt(err2 / ref2) < tu_rel_tolerance(dtype), "%s %s union identity: rel err %.3g",
              on_gpu ? "gpu" : "cpu", use_decode ? "decode" : "prefill", sqrt(err2 / ref2));
    CHECK_MSG(lse_err < tu_lse_tolerance(dtype), "%s %s union identity: lse err %.3g", on_gpu ? "gpu" : "cpu",
              use_decode ? "decode" : "prefill", lse_err);

    free(qh); free(kh); free(vh); free(o_all); free(o_a); free(o_b); free(l_all); free(l_a); free(l_b);
    pattn_device_free(qd); pattn_device_free(kd); pattn_device_free(vd); pattn_device_free(oalld);
    pattn_device_free(oad); pattn_device_free(obd); pattn_device_free(lalld); pattn_device_free(lad);
    pattn_device_free(lbd);
}

int main(void) {
    static const pattn_dtype dtypes[3] = {PATTN_DTYPE_F32, PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    const int on_gpu = MERGE_TEST_ON_GPU;
    int a, rank, strided, in_place;
    uint64_t seed = 1;
    if (on_gpu && !tu_have_gpu()) {
        printf("test_merge_states_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    for (a = 0; a < 3; ++a)
        for (rank = 3; rank <= 4; ++rank)
            for (strided = 0; strided < 2; ++strided)
                for (in_place = 0; in_place < 2; ++in_place)
                    random_states(on_gpu, dtypes[a], rank, strided, in_place, seed++);
    for (a = 0; a < 3; ++a) non_finite_states(on_gpu, dtypes[a]);
    if (!on_gpu) union_identity(0, 0); /* f32 prefill runs on the CPU backend only */
    union_identity(on_gpu, 1);
    return tu_finish(on_gpu ? "test_merge_states_cuda" : "test_merge_states");
}
