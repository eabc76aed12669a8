/*
 * CUDA prefill kernels at their tile edges: lengths around the query tile
 * (64 / 128 packed rows) and KV tile (48 / 64 keys for mma.sync, 64 / 128 for
 * the Hopper kernels) boundaries, GQA groups that do
 * not divide a tile (3, 5), q_len != kv_len with separate kv lengths (rows
 * that see no key), lengths in device memory (full grid, clamped, including
 * out-of-range values), strided views into one packed QKV buffer, an output
 * with a gap between heads (which must stay untouched), NaN/Inf in every
 * padding row, and lse. Every case is checked against the float64 reference
 * of test_util.h. The edge-length cases run again with the mma.sync kernel's
 * 64-row tiles at every head_dim that has them (PADDEDATTN_PREFILL_SHORT_TILES),
 * with its 128-row tiles where the default takes 64-row ones
 * (PADDEDATTN_PREFILL_TALL_TILES) and with one K/V buffer pair instead of the
 * staged slots (PADDEDATTN_PREFILL_SINGLE_STAGE). Exit 77 without a GPU.
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

typedef struct gpu_case {
    pattn_dtype dtype;
    int32_t head_dim, hq, hkv;
    int32_t batch, q_len, kv_len;
    pattn_mask_mode mode;
    int separate_kv_lens;  /* kv_valid_lens given (q_len may differ from kv_len) */
    int no_lens;           /* no lengths at all: every row full */
    int lens_on_device;
    int out_of_range_lens; /* device lengths outside [0, len] (clamped) */
    int packed_qkv;        /* q, k, v are views into one [b, s, hq + 2 hkv, d] buffer */
    const int32_t* fixed_q_lens; /* optional explicit lengths (batch entries) */
    const int32_t* fixed_kv_lens;
} gpu_case;

static const char* mode_name(pattn_mask_mode m) {
    switch (m) {
        case PATTN_MASK_PADDED: return "padded";
        case PATTN_MASK_CAUSAL_PADDED_LEFT: return "causal_left";
        case PATTN_MASK_CAUSAL_PADDED_RIGHT: return "causal_right";
        case PATTN_MASK_PADDED_LEFT: return "padded_left";
    }
    return "?";
}

static void set_env(const char* name, const char* value) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

static void run_case(const gpu_case* c, tu_rng* rng, void* stream) {
    char label[256];
    const size_t es = tu_dtype_size(c->dtype);
    const int32_t d = c->head_dim;
    int32_t q_lens[64], kv_lens[64];
    int32_t b;
    int causal, left;
    pattn_tensor q, k, v, o, lse, o_host, lse_host;
    void *qkv_dev = NULL, *q_dev = NULL, *k_dev = NULL, *v_dev = NULL, *o_dev = NULL, *lse_dev = NULL;
    void *qlen_dev = NULL, *kvlen_dev = NULL;
    void *qkv_host = NULL, *q_host = NULL, *k_host = NULL, *v_host = NULL, *o_buf = NULL;
    float* lse_buf = NULL;
    double *ref_o, *ref_lse;
    size_t o_elems, lse_elems;
    const int32_t o_heads_alloc = c->hq + 1; /* one head of gap per row, never written */
    pattn_prefill_params p;
    tu_ref_problem rp;

    tu_mask_mode_flags(c->mode, &causal, &left);
    snprintf(label, sizeof label, "%s d%d hq%d/hkv%d b%d q%d kv%d %s%s%s%s%s%s%s%s%s", tu_dtype_name(c->dtype), d, c->hq,
             c->hkv, c->batch, c->q_len, c->kv_len, mode_name(c->mode), c->separate_kv_lens ? " kvlens" : "",
             c->no_lens ? " nolens" : "", c->lens_on_device ? " devlens" : "",
             c->out_of_range_lens ? " clamped" : "", c->packed_qkv ? " packed" : "",
             getenv("PADDEDATTN_PREFILL_SHORT_TILES") ? " short-tiles" : "",
             getenv("PADDEDATTN_PREFILL_TALL_TILES") ? " tall-tiles" : "",
             getenv("PADDEDATTN_PREFILL_SINGLE_STAGE") ? " single-stage" : "");

    for (b = 0; b < c->batch; ++b) {
        if (c->fixed_q_lens) {
            q_lens[b] = c->fixed_q_lens[b];
        } else {
            int32_t pick = tu_rng_int(rng, 0, 5);
            q_lens[b] = pick == 0 ? 0 : pick == 1 ? c->q_len : pick == 2 ? 1 : tu_rng_int(rng, 0, c->q_len);
        }
        if (c->fixed_kv_lens) {
            kv_lens[b] = c->fixed_kv_lens[b];
        } else if (c->separate_kv_lens) {
            int32_t pick = tu_rng_int(rng, 0, 5);
            kv_lens[b] = pick == 0 ? 0 : pick == 1 ? c->kv_len : pick == 2 ? 1 : tu_rng_int(rng, 0, c->kv_len);
        } else {
            kv_lens[b] = q_lens[b];
        }
    }
    if (c->out_of_range_lens) {
        /* Only meaningful for device lengths: the kernels clamp them. */
        q_lens[0] = c->q_len + 17;
        if (c->batch > 1) q_lens[1] = -5;
        if (c->separate_kv_lens) kv_lens[0] = -1;
    }

    /* ---- host inputs */
    if (c->packed_qkv) {
        const int32_t heads = c->hq + 2 * c->hkv;
        int64_t shape[4];
        size_t n = (size_t)c->batch * c->q_len * heads * d;
        qkv_host = malloc(n * es);
        tu_fill_uniform(qkv_host, c->dtype, n, rng, -1.5f, 1.5f);
        shape[0] = c->batch; shape[1] = c->q_len; shape[2] = heads; shape[3] = d;
        q = tu_tensor_nd(qkv_host, c->dtype, PATTN_DEVICE_CPU, 0, 4, shape);
        k = q;
        v = q;
        q.shape[2] = c->hq;
        k.shape[2] = c->hkv;
        v.shape[2] = c->hkv;
        k.data = (char*)qkv_host + (size_t)c->hq * d * es;
        v.data = (char*)qkv_host + (size_t)(c->hq + c->hkv) * d * es;
    } else {
        size_t nq = (size_t)c->batch * c->q_len * c->hq * d;
        size_t nk = (size_t)c->batch * c->kv_len * c->hkv * d;
        q_host = malloc(nq * es);
        k_host = malloc(nk * es);
        v_host = malloc(nk * es);
        tu_fill_uniform(q_host, c->dtype, nq, rng, -1.5f, 1.5f);
        tu_fill_uniform(k_host, c->dtype, nk, rng, -1.5f, 1.5f);
        tu_fill_uniform(v_host, c->dtype, nk, rng, -1.0f, 1.0f);
        q = tu_tensor_4d(q_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->q_len, c->hq, d);
        k = tu_tensor_4d(k_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->kv_len, c->hkv, d);
        v = tu_tensor_4d(v_host, c->dtype, PATTN_DEVICE_CPU, 0, c->batch, c->kv_len, c->hkv, d);
    }

    /* Reference first (on clean inputs), then poison the padding rows. */
    memset(&rp, 0, sizeof rp);
    rp.dtype = c->dtype;
    rp.batch = c->batch;
    rp.q_len = c->q_len;
    rp.kv_len = c->kv_len;
    rp.num_qo_heads = c->hq;
    rp.num_kv_heads = c->hkv;
    rp.head_dim = d;
    rp.q = q;
    rp.k = k;
    rp.v = v;
    rp.q_lens = c->no_lens ? NULL : q_lens;
    rp.kv_lens = (c->no_lens || !c->separate_kv_lens) ? NULL : kv_lens;
    rp.causal = causal;
    rp.left_padded = left;
    rp.clamp_lengths = 1;
    o_elems = (size_t)c->batch * c->q_len * c->hq * d;
    lse_elems = (size_t)c->batch * c->q_len * c->hq;
    ref_o = (double*)malloc(sizeof(double) * (o_elems ? o_elems : 1));
    ref_lse = (double*)malloc(sizeof(double) * (lse_elems ? lse_elems : 1));
    tu_reference_attention(&rp, ref_o, ref_lse);
    if (!c->no_lens) {
        /* Poison after clamping the lengths the way the kernels do. */
        int32_t cq[64], ck[64];
        for (b = 0; b < c->batch; ++b) {
            cq[b] = tu_clamp_i32(q_lens[b], c->q_len);
            ck[b] = tu_clamp_i32(c->separate_kv_lens ? kv_lens[b] : q_lens[b], c->kv_len);
        }
        if (c->packed_qkv) {
            tu_poison_padding(&q, cq, left, NAN);
            tu_poison_padding(&k, ck, left, INFINITY);
            tu_poison_padding(&v, ck, left, NAN);
        } else {
            tu_poison_padding(&q, cq, left, NAN);
            tu_poison_padding(&k, ck, left, -INFINITY);
            tu_poison_padding(&v, ck, left, NAN);
        }
    }

    /* ---- device copies */
    if (c->packed_qkv) {
        size_t bytes = (size_t)c->batch * c->q_len * (c->hq + 2 * c->hkv) * d * es;
        qkv_dev = tu_upload(qkv_host, bytes, 0);
        CHECK(qkv_dev != NULL);
        q.data = qkv_dev;
        k.data = (char*)qkv_dev + (size_t)c->hq * d * es;
        v.data = (char*)qkv_dev + (size_t)(c->hq + c->hkv) * d * es;
    } else {
        q_dev = tu_upload(q_host, tu_tensor_span(&q) * es, 0);
        k_dev = tu_upload(k_host, tu_tensor_span(&k) * es, 0);
        v_dev = tu_upload(v_host, tu_tensor_span(&v) * es, 0);
        CHECK(q_dev && k_dev && v_dev);
        q.data = q_dev;
        k.data = k_dev;
        v.data = v_dev;
    }
    q.device_type = k.device_type = v.device_type = PATTN_DEVICE_CUDA;

    /* Output with a one-head gap per row; lse plain. Both poisoned. */
    {
        size_t n = (size_t)c->batch * c->q_len * o_heads_alloc * d;
        int64_t shape[4];
        o_buf = malloc((n ? n : 1) * es);
        tu_fill_nan(o_buf, c->dtype, n);
        o_dev = tu_upload(o_buf, n * es, 0);
        CHECK(o_dev != NULL);
        shape[0] = c->batch; shape[1] = c->q_len; shape[2] = o_heads_alloc; shape[3] = d;
        o = tu_tensor_nd(o_dev, c->dtype, PATTN_DEVICE_CUDA, 0, 4, shape);
        o.shape[2] = c->hq;
        lse_buf = (float*)malloc(sizeof(float) * (lse_elems ? lse_elems : 1));
        tu_fill_nan(lse_buf, PATTN_DTYPE_F32, lse_elems);
        lse_dev = tu_upload(lse_buf, lse_elems * sizeof(float), 0);
        CHECK(lse_dev != NULL);
        lse = tu_tensor_3d(lse_dev, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, c->batch, c->q_len, c->hq);
    }

    p = tu_prefill_params(c->mode, q, k, v, o, lse);
    if (!c->no_lens) {
        if (c->lens_on_device) {
            qlen_dev = tu_upload(q_lens, sizeof(int32_t) * c->batch, 0);
            p.q_valid_lens = tu_tensor_1d(qlen_dev, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, c->batch);
            if (c->separate_kv_lens) {
                kvlen_dev = tu_upload(kv_lens, sizeof(int32_t) * c->batch, 0);
                p.kv_valid_lens = tu_tensor_1d(kvlen_dev, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, c->batch);
            }
        } else {
            p.q_valid_lens = tu_tensor_1d(q_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, c->batch);
            if (c->separate_kv_lens)
                p.kv_valid_lens = tu_tensor_1d(kv_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, c->batch);
        }
    }

    CHECK_OK(pattn_sequence_prefill(&p, stream));
    CHECK_OK(pattn_stream_synchronize(stream));

    /* ---- results */
    {
        size_t n = (size_t)c->batch * c->q_len * o_heads_alloc * d;
        int64_t shape[4];
        int32_t s, e;
        int gap_written = 0;
        CHECK_OK(tu_download(o_buf, o_dev, n * es));
        CHECK_OK(tu_download(lse_buf, lse_dev, lse_elems * sizeof(float)));
        shape[0] = c->batch; shape[1] = c->q_len; shape[2] = o_heads_alloc; shape[3] = d;
        o_host = tu_tensor_nd(o_buf, c->dtype, PATTN_DEVICE_CPU, 0, 4, shape);
        o_host.shape[2] = c->hq;
        lse_host = tu_tensor_3d(lse_buf, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, c->batch, c->q_len, c->hq);
        tu_check_attention(label, &rp, &o_host, &lse_host, ref_o, ref_lse);
        for (b = 0; b < c->batch; ++b)
            for (s = 0; s < c->q_len; ++s)
                for (e = 0; e < d; ++e) {
                    double x = tu_load(o_buf, c->dtype,
                                       (size_t)((((int64_t)b * c->q_len + s) * o_heads_alloc + c->hq) * d + e));
                    if (!isnan(x)) gap_written = 1;
                }
        CHECK_MSG(!gap_written, "[%s] wrote into the gap between output rows", label);
    }

    pattn_device_free(qkv_dev);
    pattn_device_free(q_dev);
    pattn_device_free(k_dev);
    pattn_device_free(v_dev);
    pattn_device_free(o_dev);
    pattn_device_free(lse_dev);
    pattn_device_free(qlen_dev);
    pattn_device_free(kvlen_dev);
    free(qkv_host);
    free(q_host);
    free(k_host);
    free(v_host);
    free(o_buf);
    free(lse_buf);
    free(ref_o);
    free(ref_lse);
}

int main(void) {
    static const pattn_mask_mode modes[4] = {PATTN_MASK_PADDED, PATTN_MASK_CAUSAL_PADDED_LEFT,
                                             PATTN_MASK_CAUSAL_PADDED_RIGHT, PATTN_MASK_PADDED_LEFT};
    static const pattn_dtype dtypes[2] = {PATTN_DTYPE_F16, PATTN_DTYPE_BF16};
    static const int32_t dims[6] = {64, 128, 256, 32, 80, 96};
    /* Lengths at the tile edges (query tiles of 64/128 packed rows, KV tiles of 64). */
    static const int32_t edge_lens[6] = {63, 64, 65, 129, 1, 0};
    /* Around the Hopper kernels' 128-key tiles and 128-row query tiles. */
    static const int32_t hopper_edge_lens[6] = {127, 128, 255, 257, 300, 2};
    tu_rng rng = tu_rng_make(20261122u);
    void* stream = NULL;
    int di, ti, mi, pass;

    if (!tu_have_gpu()) {
        printf("test_prefill_gpu_tiles: no CUDA device, skipped\n");
        return TEST_SKIP;
    }
    CHECK_OK(pattn_stream_create(0, &stream));

    /* pass 0: the default dispatch; 1: 64-row tiles wherever the head_dim
       has them (32..128); 2: 128-row tiles also where the default takes
       64-row ones (bf16 only); 3: one K/V buffer pair (bf16 only). */
    for (pass = 0; pass < 4; ++pass) {
    set_env("PADDEDATTN_PREFILL_SHORT_TILES", pass == 1 ? "1" : NULL);
    set_env("PADDEDATTN_PREFILL_TALL_TILES", pass == 2 ? "1" : NULL);
    set_env("PADDEDATTN_PREFILL_SINGLE_STAGE", pass == 3 ? "1" : NULL);
    for (di = 0; di < 6; ++di)
        for (ti = 0; ti < 2; ++ti)
            for (mi = 0; mi < 4; ++mi) {
                if ((pass == 1 && dims[di] == 256) || (pass >= 2 && ti == 0)) continue;
                /* GQA group 3: 128 packed rows are not a whole number of positions. */
                gpu_case c = {.dtype = dtypes[ti], .head_dim = dims[di], .mode = modes[mi], .hq = 6, .hkv = 2,
                              .batch = 6, .q_len = 130, .kv_len = 130, .fixed_q_lens = edge_lens};
                run_case(&c, &rng, stream);

                /* q_len != kv_len, separate kv lengths, host lengths, group 5. */
                c = (gpu_case){.dtype = dtypes[ti], .head_dim = dims[di], .mode = modes[mi], .hq = 5, .hkv = 1,
                               .batch = 4, .q_len = 77, .kv_len = 203, .separate_kv_lens = 1};
                run_case(&c, &rng, stream);

                /* Same with kv shorter than q (causal rows that see no key), device lengths. */
                c.q_len = 150;
                c.kv_len = 70;
                c.lens_on_device = 1;
                run_case(&c, &rng, stream);
            }
    }
    set_env("PADDEDATTN_PREFILL_SHORT_TILES", NULL);
    set_env("PADDEDATTN_PREFILL_TALL_TILES", NULL);
    set_env("PADDEDATTN_PREFILL_SINGLE_STAGE", NULL);

    for (di = 0; di < 3; ++di)
        for (ti = 0; ti < 2; ++ti)
            for (mi = 0; mi < 4; ++mi) {
                gpu_case c = {.dtype = dtypes[ti], .head_dim = dims[di], .mode = modes[mi], .hq = 4, .hkv = 2,
                              .batch = 6, .q_len = 300, .kv_len = 300, .fixed_q_lens = hopper_edge_lens};
                run_case(&c, &rng, stream);
            }

    /* Device lengths out of range (clamped), packed QKV views, MHA and GQA. */
    for (di = 0; di < 3; ++di)
        for (mi = 0; mi < 4; ++mi) {
            gpu_case c = {.dtype = PATTN_DTYPE_BF16, .head_dim = dims[di], .mode = modes[mi], .hq = 4,
                          .hkv = mi % 2 ? 4 : 2, .batch = 5, .q_len = 191, .kv_len = 191, .lens_on_device = 1,
                          .out_of_range_lens = 1, .packed_qkv = 1};
            run_case(&c, &rng, stream);

            /* No lengths at all, q_len != kv_len (bottom-right causal). */
            c = (gpu_case){.dtype = PATTN_DTYPE_F16, .head_dim = dims[di], .mode = modes[mi], .hq = 8, .hkv = 2,
                           .batch = 2, .q_len = 97, .kv_len = 161, .no_lens = 1};
            run_case(&c, &rng, stream);
        }

    CHECK_OK(pattn_stream_destroy(stream));
    return tu_finish("test_prefill_gpu_tiles");
}
