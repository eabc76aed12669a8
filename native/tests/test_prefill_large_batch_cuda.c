/*
 * CUDA prefill with host lengths of batches past the 256 rows that fit in
 * the 4 KB kernel parameters: 257 .. 2048 rows travel in the 32 KB
 * parameters of the plain mma.sync kernel where CUDA 12.1+ allows it
 * (prefill_params.h PrefillLargeRows) during capture and with
 * PADDEDATTN_PREFILL_LARGE_PARAMS=1 (the first pass here); otherwise (and
 * for 2049 and more rows, or a sliding window, which takes the general
 * kernel) they are copied to the device through the staging ring
 * (common/staging.cpp) for the device-length grid, and once more through
 * the host-built work list (PADDEDATTN_PREFILL_WORK_LIST=1). Each case against the float64 reference of
 * test_util.h: odd lengths, 0 and full rows, GQA 3:1 and 1:1, NaN in every
 * padding row, o and lse poisoned before the call; packed host offsets of
 * 300 / 2047 / 2048 sequences (the last one past the 32 KB table: work
 * list); short-row tiles (64 rows) at their edges; then the same call again
 * many times back to back (the staging ring wraps, grows and, full, waits)
 * with the result compared bit for bit. Exit 77 without a GPU.
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

static void set_env(const char* name, const char* value) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

static void run(pattn_mask_mode mode, pattn_dtype dtype, int32_t batch, int32_t q_len, int32_t kv_len, int32_t hq,
                int32_t hkv, int32_t d, int window, uint64_t seed, void* stream) {
    char label[200];
    tu_prefill_case c;
    memset(&c, 0, sizeof c);
    c.mode = mode;
    c.use_lens = 1;
    c.separate_kv = q_len != kv_len;
    c.dtype = dtype;
    c.batch = batch;
    c.q_len = q_len;
    c.kv_len = kv_len;
    c.num_qo_heads = hq;
    c.num_kv_heads = hkv;
    c.head_dim = d;
    c.with_lse = 1;
    c.pad_poison = 1;
    c.on_cuda = 1;
    c.stream = stream;
    c.seed = seed;
    if (window) {
        c.window = 1;
        c.window_left = 17;
        c.window_right = -1;
    }
    snprintf(label, sizeof label, "%s mode %d d%d %d/%d b%d q%d kv%d%s%s%s", tu_dtype_name(dtype), (int)mode, d, hq, hkv,
             batch, q_len, kv_len, window ? " window" : "",
             getenv("PADDEDATTN_PREFILL_LARGE_PARAMS") ? " large-params" : "",
             getenv("PADDEDATTN_PREFILL_WORK_LIST") ? " work-list" : "");
    tu_run_prefill_case(&c, label);
}

/* The same large-batch call 40 times back to back without synchronising:
   every result equals the first bit for bit (the staging ring and the
   parameter copies never hand a call another call's lengths). */
static void repeat_back_to_back(int32_t batch, int calls, void* stream, tu_rng* rng) {
    const int32_t S = 40, HQ = 2, HK = 1, D = 64;
    const size_t nq = (size_t)batch * S * HQ * D, nk = (size_t)batch * S * HK * D;
    uint16_t* host = (uint16_t*)malloc((nq + 2 * nk) * 2);
    uint16_t* first = (uint16_t*)malloc(nq * 2);
    uint16_t* again = (uint16_t*)malloc(nq * 2);
    int32_t* lens = (int32_t*)malloc((size_t)calls * batch * sizeof(int32_t));
    void *dq, *dk, *dv, *dout;
    int i, b;
    pattn_prefill_params p;
    tu_fill_uniform(host, PATTN_DTYPE_BF16, nq + 2 * nk, rng, -2.0f, 2.0f);
    dq = tu_upload(host, nq * 2, 0);
    dk = tu_upload(host + nq, nk * 2, 0);
    dv = tu_upload(host + nq + nk, nk * 2, 0);
    tu_fill_nan(first, PATTN_DTYPE_BF16, nq);
    dout = tu_upload(first, nq * 2, 0);
    CHECK(dq && dk && dv && dout);
    /* Each call has its own lengths array (the host may reuse an array as
       soon as the call returns; here every call's stays distinct so that a
       call reading another's lengths would show). Call 0 and the last call
       share the same values. */
    for (i = 0; i < calls; ++i)
        for (b = 0; b < batch; ++b) lens[(size_t)i * batch + b] = tu_rng_int(rng, 0, S);
    memcpy(lens + (size_t)(calls - 1) * batch, lens, (size_t)batch * sizeof(int32_t));
    p = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_RIGHT,
                          tu_tensor_4d(dq, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, batch, S, HQ, D),
                          tu_tensor_4d(dk, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, batch, S, HK, D),
                          tu_tensor_4d(dv, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, batch, S, HK, D),
                          tu_tensor_4d(dout, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, batch, S, HQ, D),
                          tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 0, 0, 0)); /* no lse */
    p.q_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, batch);
    CHECK_OK(pattn_sequence_prefill(&p, stream));
    CHECK_OK(pattn_stream_synchronize(stream));
    CHECK_OK(tu_download(first, dout, nq * 2));
    for (i = 1; i < calls; ++i) {
        p.q_valid_lens = tu_tensor_1d(lens + (size_t)i * batch, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, batch);
        CHECK_OK(pattn_sequence_prefill(&p, stream));
    }
    CHECK_OK(pattn_stream_synchronize(stream));
    CHECK_OK(tu_download(again, dout, nq * 2));
    CHECK_MSG(memcmp(first, again, nq * 2) == 0, "batch %d: the last of %d back-to-back calls differs from the first",
              (int)batch, calls);
    pattn_device_free(dq);
    pattn_device_free(dk);
    pattn_device_free(dv);
    pattn_device_free(dout);
    free(host);
    free(first);
    free(again);
    free(lens);
}

/* Packed layout (cu_seqlens in host memory) with more sequences than the 4 KB
   parameters hold: the output rows, scattered back into a padded batch,
   against the float64 reference of that padded batch. */
static void packed_case(int32_t batch, pattn_mask_mode mode, void* stream, tu_rng* rng) {
    const int32_t S = 24, HQ = 4, HK = 2, D = 64;
    const pattn_dtype dt = PATTN_DTYPE_BF16;
    const size_t es = 2;
    char label[120];
    int32_t* lens = (int32_t*)malloc((size_t)batch * sizeof(int32_t));
    int32_t* cu = (int32_t*)malloc((size_t)(batch + 1) * sizeof(int32_t));
    int32_t b, r, total;
    int causal, left;
    size_t nq, nk, i;
    void *pq, *pk, *pv, *po, *dq, *dk, *dv, *dout, *dlse;
    void *hq_pad, *hk_pad, *hv_pad, *o_pad;
    float *lse_packed, *lse_pad;
    double *ref_o, *ref_lse;
    int64_t shape[4];
    tu_ref_problem rp;
    pattn_prefill_params p;
    pattn_tensor o_t, lse_t;

    tu_mask_mode_flags(mode, &causal, &left);
    snprintf(label, sizeof label, "packed host cu_seqlens, %d sequences, mode %d", (int)batch, (int)mode);
    cu[0] = 0;
    for (b = 0; b < batch; ++b) {
        lens[b] = b == 0 ? S : b == 1 ? 0 : b == 2 ? 1 : tu_rng_int(rng, 0, S);
        cu[b + 1] = cu[b] + lens[b];
    }
    total = cu[batch];
    nq = (size_t)batch * S * HQ * D;
    nk = (size_t)batch * S * HK * D;
    hq_pad = malloc(nq * es);
    hk_pad = malloc(nk * es);
    hv_pad = malloc(nk * es);
    tu_fill_uniform(hq_pad, dt, nq, rng, -3.0f, 3.0f);
    tu_fill_uniform(hk_pad, dt, nk, rng, -1.0f, 1.0f);
    tu_fill_uniform(hv_pad, dt, nk, rng, -1.0f, 1.0f);
    /* Packed copies: sequence b's rows are rows [0, lens[b]) of padded row b. */
    pq = malloc((size_t)total * HQ * D * es + 1);
    pk = malloc((size_t)total * HK * D * es + 1);
    pv = malloc((size_t)total * HK * D * es + 1);
    for (b = 0; b < batch; ++b) {
        memcpy((char*)pq + (size_t)cu[b] * HQ * D * es, (char*)hq_pad + (size_t)b * S * HQ * D * es,
               (size_t)lens[b] * HQ * D * es);
        memcpy((char*)pk + (size_t)cu[b] * HK * D * es, (char*)hk_pad + (size_t)b * S * HK * D * es,
               (size_t)lens[b] * HK * D * es);
        memcpy((char*)pv + (size_t)cu[b] * HK * D * es, (char*)hv_pad + (size_t)b * S * HK * D * es,
               (size_t)lens[b] * HK * D * es);
    }

    memset(&rp, 0, sizeof rp);
    rp.dtype = dt;
    rp.batch = batch;
    rp.q_len = S;
    rp.kv_len = S;
    rp.num_qo_heads = HQ;
    rp.num_kv_heads = HK;
    rp.head_dim = D;
    rp.q = tu_tensor_4d(hq_pad, dt, PATTN_DEVICE_CPU, 0, batch, S, HQ, D);
    rp.k = tu_tensor_4d(hk_pad, dt, PATTN_DEVICE_CPU, 0, batch, S, HK, D);
    rp.v = tu_tensor_4d(hv_pad, dt, PATTN_DEVICE_CPU, 0, batch, S, HK, D);
    rp.q_lens = lens;
    rp.causal = causal;
    rp.left_padded = 0;
    rp.clamp_lengths = 1;
    ref_o = (double*)malloc(sizeof(double) * nq);
    ref_lse = (double*)malloc(sizeof(double) * (size_t)batch * S * HQ);
    tu_reference_attention(&rp, ref_o, ref_lse);

    dq = tu_upload(pq, (size_t)total * HQ * D * es, 0);
    dk = tu_upload(pk, (size_t)total * HK * D * es, 0);
    dv = tu_upload(pv, (size_t)total * HK * D * es, 0);
    po = malloc((size_t)total * HQ * D * es + 1);
    tu_fill_nan(po, dt, (size_t)total * HQ * D);
    dout = tu_upload(po, (size_t)total * HQ * D * es, 0);
    lse_packed = (float*)malloc(sizeof(float) * ((size_t)total * HQ + 1));
    tu_fill_nan(lse_packed, PATTN_DTYPE_F32, (size_t)total * HQ);
    dlse = tu_upload(lse_packed, (size_t)total * HQ * sizeof(float), 0);
    CHECK(dq && dk && dv && dout && dlse);
    {
        pattn_tensor tq, tk, tv, to, tl;
        shape[0] = total; shape[1] = HQ; shape[2] = D;
        tq = tu_tensor_nd(dq, dt, PATTN_DEVICE_CUDA, 0, 3, shape);
        to = tu_tensor_nd(dout, dt, PATTN_DEVICE_CUDA, 0, 3, shape);
        tl = tu_tensor_nd(dlse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 2, shape);
        shape[1] = HK;
        tk = tu_tensor_nd(dk, dt, PATTN_DEVICE_CUDA, 0, 3, shape);
        tv = tu_tensor_nd(dv, dt, PATTN_DEVICE_CUDA, 0, 3, shape);
        p = tu_prefill_params(mode, tq, tk, tv, to, tl);
    }
    p.cu_seqlens_q = tu_tensor_1d(cu, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, batch + 1);
    CHECK_OK(pattn_sequence_prefill(&p, stream));
    CHECK_OK(pattn_stream_synchronize(stream));
    CHECK_OK(tu_download(po, dout, (size_t)total * HQ * D * es));
    CHECK_OK(tu_download(lse_packed, dlse, (size_t)total * HQ * sizeof(float)));

    /* Scatter into a padded batch whose padding rows are o = 0, lse = -inf. */
    o_pad = calloc(nq, es);
    lse_pad = (float*)malloc(sizeof(float) * (size_t)batch * S * HQ);
    for (i = 0; i < (size_t)batch * S * HQ; ++i) lse_pad[i] = -INFINITY;
    for (b = 0; b < batch; ++b)
        for (r = 0; r < lens[b]; ++r) {
            memcpy((char*)o_pad + (((size_t)b * S + r) * HQ * D) * es, (char*)po + ((size_t)(cu[b] + r) * HQ * D) * es,
                   (size_t)HQ * D * es);
            memcpy(lse_pad + ((size_t)b * S + r) * HQ, lse_packed + (size_t)(cu[b] + r) * HQ, HQ * sizeof(float));
        }
    o_t = tu_tensor_4d(o_pad, dt, PATTN_DEVICE_CPU, 0, batch, S, HQ, D);
    lse_t = tu_tensor_3d(lse_pad, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, batch, S, HQ);
    tu_check_attention(label, &rp, &o_t, &lse_t, ref_o, ref_lse);

    pattn_device_free(dq);
    pattn_device_free(dk);
    pattn_device_free(dv);
    pattn_device_free(dout);
    pattn_device_free(dlse);
    free(lens); free(cu); free(pq); free(pk); free(pv); free(po); free(hq_pad); free(hk_pad); free(hv_pad);
    free(o_pad); free(lse_packed); free(lse_pad); free(ref_o); free(ref_lse);
}

int main(void) {
    static const int32_t batches[5] = {257, 300, 1001, 2048, 2049};
    void* stream = NULL;
    tu_rng rng = tu_rng_make(20261203u);
    int bi, pass;

    if (!tu_have_gpu()) {
        printf("test_prefill_large_batch_cuda: no CUDA device, skipped\n");
        return TEST_SKIP;
    }
    CHECK_OK(pattn_stream_create(0, &stream));

    for (pass = 0; pass < 3; ++pass) {
        /* pass 0: 257 .. 2048 rows in the 32 KB parameters (forced: outside
           capture the default copies them); pass 1: the default, lengths
           copied to the device; pass 2: the host-built work list instead */
        set_env("PADDEDATTN_PREFILL_LARGE_PARAMS", pass == 0 ? "1" : NULL);
        set_env("PADDEDATTN_PREFILL_WORK_LIST", pass == 2 ? "1" : NULL);
        for (bi = 0; bi < 5; ++bi) {
            const int32_t b = batches[bi];
            run(PATTN_MASK_PADDED, PATTN_DTYPE_F16, b, 37, 37, 2, 2, 64, 0, tu_rng_u64(&rng), stream);
            run(PATTN_MASK_CAUSAL_PADDED_LEFT, PATTN_DTYPE_BF16, b, 29, 45, 3, 1, 128, 0, tu_rng_u64(&rng), stream);
            if (bi % 2 == 0) {
                run(PATTN_MASK_CAUSAL_PADDED_RIGHT, PATTN_DTYPE_BF16, b, 33, 33, 6, 2, 32, 0, tu_rng_u64(&rng), stream);
                run(PATTN_MASK_PADDED_LEFT, PATTN_DTYPE_F16, b, 21, 21, 2, 1, 96, 0, tu_rng_u64(&rng), stream);
            }
        }
        /* A sliding window: the general kernel, rows copied to the device (pass 2: the work list). */
        run(PATTN_MASK_CAUSAL_PADDED_RIGHT, PATTN_DTYPE_BF16, 300, 50, 50, 2, 1, 64, 1, tu_rng_u64(&rng), stream);
        packed_case(300, PATTN_MASK_CAUSAL_PADDED_RIGHT, stream, &rng);
        packed_case(2047, PATTN_MASK_PADDED, stream, &rng);
        packed_case(2048, PATTN_MASK_CAUSAL_PADDED_RIGHT, stream, &rng);
        repeat_back_to_back(pass ? 600 : 2048, 40, stream, &rng);
        repeat_back_to_back(3000, 40, stream, &rng);
        /* More tables in flight than the staging ring first holds (1 MB):
           it wraps and grows (pass 1: 80 KB of lengths per call), and with
           the work list (384 KB per call, 46 MB in all) it reaches its 16 MB
           and waits for the oldest copies. */
        if (pass == 1) repeat_back_to_back(20000, 120, stream, &rng);
        if (pass == 2) repeat_back_to_back(6000, 120, stream, &rng);
    }
    set_env("PADDEDATTN_PREFILL_LARGE_PARAMS", NULL);
    set_env("PADDEDATTN_PREFILL_WORK_LIST", NULL);

    /* Short-row tiles (64 query rows; the default at head_dim 32 / 64 / 128
       for rows of at most 1024 queries): lengths around the tile edges, GQA
       groups 1, 2, 4, q_len != kv_len, every mask. */
    {
        static const pattn_mask_mode modes[4] = {PATTN_MASK_PADDED, PATTN_MASK_CAUSAL_PADDED_LEFT,
                                                 PATTN_MASK_CAUSAL_PADDED_RIGHT, PATTN_MASK_PADDED_LEFT};
        static const int32_t q_lens[4] = {63, 64, 65, 129};
        int mi, qi, gi;
        for (mi = 0; mi < 4; ++mi)
            for (qi = 0; qi < 4; ++qi)
                for (gi = 0; gi < 3; ++gi) {
                    const int32_t group = 1 << gi;
                    if (q_lens[qi] * group > 256) continue;
                    run(modes[mi], qi % 2 ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F16, 9, q_lens[qi], q_lens[qi] + 2 * qi,
                        2 * group, 2, qi < 2 ? 64 : 32, 0, tu_rng_u64(&rng), stream);
                }
    }

    CHECK_OK(pattn_stream_destroy(stream));
    return tu_finish("test_prefill_large_batch_cuda");
}
