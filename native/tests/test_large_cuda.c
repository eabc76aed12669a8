/*
 * test_large_cuda.c — a prefill and a decode whose tensors hold more than
 * 2^31 elements, so that every 32-bit product of an index and a stride would
 * wrap: prefill q/o [1, 2^17, 136, 128] f16 (2.28e9 elements) against 64
 * keys, decode k/v cache [64, 70000, 8, 64] bf16 (2.29e9 elements). Only
 * sampled rows past element 2^31 hold random data (the rest is a constant
 * or NaN that the sampled rows never read); they are checked against a
 * float64 reference. About 20 GB of device memory. Exits 77 without a GPU
 * or with too little memory.
 */
#include "test_util.h"

static double ref_row(const float* q, const float* k, const float* v, int n, int d, double scale, double* out) {
    double m = -INFINITY, sum = 0.0, s[512];
    int j, e;
    for (j = 0; j < n; ++j) {
        double dot = 0.0;
        for (e = 0; e < d; ++e) dot += (double)q[e] * k[(size_t)j * d + e];
        s[j] = dot * scale;
        if (s[j] > m) m = s[j];
    }
    for (e = 0; e < d; ++e) out[e] = 0.0;
    for (j = 0; j < n; ++j) {
        const double p = exp(s[j] - m);
        sum += p;
        for (e = 0; e < d; ++e) out[e] += p * v[(size_t)j * d + e];
    }
    for (e = 0; e < d; ++e) out[e] /= sum;
    return m + log(sum);
}

/* Relative error of one output row (dtype) against the reference. */
static double row_error(const uint16_t* row, pattn_dtype dtype, const double* ref, int d) {
    double err2 = 0.0, ref2 = 0.0;
    int e;
    for (e = 0; e < d; ++e) {
        const double x = tu_load(row, dtype, (size_t)e);
        if (isnan(x)) return INFINITY;
        err2 += (x - ref[e]) * (x - ref[e]);
        ref2 += ref[e] * ref[e];
    }
    return sqrt(err2 / (ref2 > 0 ? ref2 : 1.0));
}

enum { PQ = 1 << 17, PH = 136, PHK = 8, PD = 128, PK = 64 };

static void large_prefill(void) {
    const size_t q_elems = (size_t)PQ * PH * PD, kv_elems = (size_t)PK * PHK * PD;
    const int32_t positions[3] = {PQ - 1, PQ - 2, (1 << 16) + 5};
    static float kf[PK * PHK * PD], vf[PK * PHK * PD], qf[PH * PD];
    static uint16_t kh[PK * PHK * PD], vh[PK * PHK * PD], qh[PH * PD], oh[PH * PD];
    float lse_h[PH];
    uint16_t *q, *k, *v, *o;
    float* lse;
    tu_rng rng = tu_rng_make(31);
    int s, h, bad = 0;
    size_t i;
    pattn_prefill_params p;
    tu_fill_uniform(kh, PATTN_DTYPE_F16, kv_elems, &rng, -1, 1);
    tu_fill_uniform(vh, PATTN_DTYPE_F16, kv_elems, &rng, -1, 1);
    for (i = 0; i < kv_elems; ++i) {
        kf[i] = (float)tu_load(kh, PATTN_DTYPE_F16, i);
        vf[i] = (float)tu_load(vh, PATTN_DTYPE_F16, i);
    }
    q = (uint16_t*)tu_upload(NULL, q_elems * 2, 0);
    o = (uint16_t*)tu_upload(NULL, q_elems * 2, 0);
    lse = (float*)tu_upload(NULL, (size_t)PQ * PH * 4, 0);
    k = (uint16_t*)tu_upload(kh, kv_elems * 2, 0);
    v = (uint16_t*)tu_upload(vh, kv_elems * 2, 0);
    if (!q || !o || !lse || !k || !v) {
        printf("test_large_cuda: not enough device memory for the prefill case, skipped\n");
        pattn_device_free(q); pattn_device_free(o); pattn_device_free(lse); pattn_device_free(k); pattn_device_free(v);
        return;
    }
    CHECK_OK(pattn_memset_async(q, 0x3C, q_elems * 2, NULL)); /* 1.06 everywhere */
    CHECK_OK(pattn_memset_async(o, 0xFF, q_elems * 2, NULL));
    for (s = 0; s < 3; ++s) {
        tu_fill_uniform(qh, PATTN_DTYPE_F16, (size_t)PH * PD, &rng, -1, 1);
        CHECK_OK(pattn_memcpy(q + (size_t)positions[s] * PH * PD, qh, sizeof qh));
    }
    p = tu_prefill_params(PATTN_MASK_PADDED, tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, PQ, PH, PD),
                          tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, PK, PHK, PD),
                          tu_tensor_4d(v, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, PK, PHK, PD),
                          tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, PQ, PH, PD),
                          tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 1, PQ, PH));
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK_OK(pattn_device_synchronize(0));
    for (s = 0; s < 3; ++s) {
        CHECK_OK(pattn_memcpy(qh, q + (size_t)positions[s] * PH * PD, sizeof qh));
        CHECK_OK(pattn_memcpy(oh, o + (size_t)positions[s] * PH * PD, sizeof oh));
        CHECK_OK(pattn_memcpy(lse_h, lse + (size_t)positions[s] * PH, sizeof lse_h));
        for (i = 0; i < (size_t)PH * PD; ++i) qf[i] = (float)tu_load(qh, PATTN_DTYPE_F16, i);
        for (h = 0; h < PH; ++h) {
            double ref[PD], ref_lse;
            const int hk = h / (PH / PHK);
            /* keys of head hk: rows j * PHK + hk of the [PK, PHK, PD] buffers */
            static float kk[PK * PD], vv[PK * PD];
            int j;
            for (j = 0; j < PK; ++j) {
                memcpy(kk + j * PD, kf + ((size_t)j * PHK + hk) * PD, PD * sizeof(float));
                memcpy(vv + j * PD, vf + ((size_t)j * PHK + hk) * PD, PD * sizeof(float));
            }
            ref_lse = ref_row(qf + (size_t)h * PD, kk, vv, PK, PD, 1.0 / sqrt((double)PD), ref);
            if (!(row_error(oh + (size_t)h * PD, PATTN_DTYPE_F16, ref, PD) < tu_rel_tolerance(PATTN_DTYPE_F16)) ||
                !(fabs(lse_h[h] - ref_lse) < tu_lse_tolerance(PATTN_DTYPE_F16) * (1.0 + fabs(ref_lse))))
                bad++;
        }
    }
    CHECK_MSG(bad == 0, "prefill with 2^31+ elements: %d of %d sampled rows wrong", bad, 3 * PH);
    pattn_device_free(q); pattn_device_free(o); pattn_device_free(lse); pattn_device_free(k); pattn_device_free(v);
}

enum { DB = 64, DC = 70000, DHK = 8, DH = 16, DD = 64, DLEN = 300 };

static void large_decode(void) {
    const size_t cache_elems = (size_t)DB * DC * DHK * DD, q_elems = (size_t)DB * DH * DD;
    const size_t row_elems = (size_t)DC * DHK * DD;
    const int32_t sampled[2] = {DB - 1, 40};
    static uint16_t kh[DLEN * DHK * DD], vh[DLEN * DHK * DD], qh[DB * DH * DD], oh[DB * DH * DD];
    static float kf[2][DLEN * DHK * DD], vf[2][DLEN * DHK * DD];
    float lse_h[DB * DH];
    int32_t lens[DB];
    uint16_t *q, *k, *v, *o;
    float* lse;
    tu_rng rng = tu_rng_make(32);
    pattn_decode_params p;
    int s, h, b, bad = 0;
    size_t i;
    q = (uint16_t*)tu_upload(NULL, q_elems * 2, 0);
    o = (uint16_t*)tu_upload(NULL, q_elems * 2, 0);
    lse = (float*)tu_upload(NULL, (size_t)DB * DH * 4, 0);
    k = (uint16_t*)tu_upload(NULL, cache_elems * 2, 0);
    v = (uint16_t*)tu_upload(NULL, cache_elems * 2, 0);
    if (!q || !o || !lse || !k || !v) {
        printf("test_large_cuda: not enough device memory for the decode case, skipped\n");
        pattn_device_free(q); pattn_device_free(o); pattn_device_free(lse); pattn_device_free(k); pattn_device_free(v);
        return;
    }
    CHECK_OK(pattn_memset_async(k, 0xFF, cache_elems * 2, NULL)); /* NaN: never read */
    CHECK_OK(pattn_memset_async(v, 0xFF, cache_elems * 2, NULL));
    CHECK_OK(pattn_memset_async(o, 0xFF, q_elems * 2, NULL));
    tu_fill_uniform(qh, PATTN_DTYPE_BF16, q_elems, &rng, -1, 1);
    CHECK_OK(pattn_memcpy(q, qh, sizeof qh));
    for (b = 0; b < DB; ++b) lens[b] = 0;
    for (s = 0; s < 2; ++s) {
        const int32_t row = sampled[s];
        lens[row] = DLEN;
        tu_fill_uniform(kh, PATTN_DTYPE_BF16, (size_t)DLEN * DHK * DD, &rng, -1, 1);
        tu_fill_uniform(vh, PATTN_DTYPE_BF16, (size_t)DLEN * DHK * DD, &rng, -1, 1);
        for (i = 0; i < (size_t)DLEN * DHK * DD; ++i) {
            kf[s][i] = (float)tu_load(kh, PATTN_DTYPE_BF16, i);
            vf[s][i] = (float)tu_load(vh, PATTN_DTYPE_BF16, i);
        }
        CHECK_OK(pattn_memcpy(k + (size_t)row * row_elems, kh, sizeof kh));
        CHECK_OK(pattn_memcpy(v + (size_t)row * row_elems, vh, sizeof vh));
    }
    p = tu_decode_params(PATTN_PADDING_RIGHT, tu_tensor_4d(q, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, DB, 1, DH, DD),
                         tu_tensor_4d(k, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, DB, DC, DHK, DD),
                         tu_tensor_4d(v, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, DB, DC, DHK, DD),
                         tu_tensor_4d(o, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 0, DB, 1, DH, DD),
                         tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, DB, 1, DH));
    p.kv_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, DB);
    CHECK_OK(pattn_decode(&p, NULL));
    CHECK_OK(pattn_device_synchronize(0));
    CHECK_OK(pattn_memcpy(oh, o, sizeof oh));
    CHECK_OK(pattn_memcpy(lse_h, lse, sizeof lse_h));
    for (s = 0; s < 2; ++s) {
        const int32_t row = sampled[s];
        for (h = 0; h < DH; ++h) {
            static float qf[DD], kk[DLEN * DD], vv[DLEN * DD];
            double ref[DD], ref_lse;
            const int hk = h / (DH / DHK);
            int j;
            for (i = 0; i < DD; ++i) qf[i] = (float)tu_load(qh, PATTN_DTYPE_BF16, ((size_t)row * DH + h) * DD + i);
            for (j = 0; j < DLEN; ++j) {
                memcpy(kk + j * DD, kf[s] + ((size_t)j * DHK + hk) * DD, DD * sizeof(float));
                memcpy(vv + j * DD, vf[s] + ((size_t)j * DHK + hk) * DD, DD * sizeof(float));
            }
            ref_lse = ref_row(qf, kk, vv, DLEN, DD, 1.0 / sqrt((double)DD), ref);
            if (!(row_error(oh + ((size_t)row * DH + h) * DD, PATTN_DTYPE_BF16, ref, DD) <
                  tu_rel_tolerance(PATTN_DTYPE_BF16)) ||
                !(fabs(lse_h[row * DH + h] - ref_lse) < tu_lse_tolerance(PATTN_DTYPE_BF16) * (1.0 + fabs(ref_lse))))
                bad++;
        }
    }
    /* Rows with no key: o = 0, lse = -inf. */
    for (h = 0; h < DH; ++h)
        if (!(tu_load(oh, PATTN_DTYPE_BF16, (size_t)h * DD) == 0.0 && isinf(lse_h[h]) && lse_h[h] < 0)) bad++;
    CHECK_MSG(bad == 0, "decode with 2^31+ elements: %d sampled rows wrong", bad);
    pattn_device_free(q); pattn_device_free(o); pattn_device_free(lse); pattn_device_free(k); pattn_device_free(v);
}

int main(void) {
    if (!tu_have_gpu()) {
        printf("test_large_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    large_prefill();
    large_decode();
    return tu_finish("test_large_cuda");
}
