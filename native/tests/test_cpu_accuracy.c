/* CPU backend: accuracy at lengths and magnitudes where f32 arithmetic runs
 * out, 64-bit index arithmetic, and the cpu_max_threads field.
 *   - long rows: equal scores (keys with stride 0, so the inputs are cheap)
 *     and one distinct value at the far end: o and lse must stay within the
 *     documented bounds at 2^24 (f32) and 2^26 (f16) keys;
 *   - random f32 at 2^22 keys against a float64 reference;
 *   - scores that overflow f32 from finite inputs (q = 1e20, k = {1e20, 0};
 *     scale 3e38) give the float64 result, not NaN;
 *   - kv_len = 2^31 - 1 (every key read; stride-0 keys, so little memory;
 *     only on the default path: it takes about a minute);
 *   - cpu_max_threads: 1, 2 and 0 give bit-identical results; negative is
 *     rejected; an ABI-1 struct_size is accepted.
 * PADDEDATTN_CPU_ISA picks the kernel path (build.sh runs every path). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static pattn_tensor f32_4d(void* data, pattn_dtype dt, int64_t b, int64_t s, int64_t h, int64_t d) {
    return tu_tensor_4d(data, dt, PATTN_DEVICE_CPU, 0, b, s, h, d);
}

/* One query against n keys that are all the same (stride 0); v is 1 except
 * the last key, whose value is 1.5. Scores are all equal, so o = 1 + 0.5 / n
 * and lse = score + ln n. */
static void long_row_equal_scores(pattn_dtype dt, int64_t n) {
    const size_t es = dt == PATTN_DTYPE_F32 ? 4 : 2;
    float qf = 0.75f, kf = 0.5f;
    uint16_t qh = 0x3A00 /* f16 0.75 */, kh = 0x3800 /* f16 0.5 */;
    void* v = malloc((size_t)n * es);
    CHECK(v != NULL);
    if (!v) return;
    for (int64_t j = 0; j < n; ++j) {
        const double x = j == n - 1 ? 1.5 : 1.0;
        if (dt == PATTN_DTYPE_F32) ((float*)v)[j] = (float)x;
        else ((uint16_t*)v)[j] = x == 1.0 ? 0x3C00 : 0x3E00;
    }
    float o32 = NAN;
    uint16_t o16 = 0x7E00;
    float lse = NAN;
    pattn_tensor q = f32_4d(dt == PATTN_DTYPE_F32 ? (void*)&qf : (void*)&qh, dt, 1, 1, 1, 1);
    pattn_tensor k = f32_4d(dt == PATTN_DTYPE_F32 ? (void*)&kf : (void*)&kh, dt, 1, n, 1, 1);
    k.strides[1] = 0;
    k.strides[0] = 0;
    pattn_tensor vt = f32_4d(v, dt, 1, n, 1, 1);
    pattn_tensor o = f32_4d(dt == PATTN_DTYPE_F32 ? (void*)&o32 : (void*)&o16, dt, 1, 1, 1, 1);
    pattn_tensor l = tu_tensor_3d(&lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, 1, 1);
    /* Right padding, causal: the only query (the last row) sees every key. */
    pattn_prefill_params p = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_RIGHT, q, k, vt, o, l);
    int32_t qlen = 1, kvlen = (int32_t)n;
    p.q_valid_lens = tu_tensor_1d(&qlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    p.kv_valid_lens = tu_tensor_1d(&kvlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    const double got = dt == PATTN_DTYPE_F32 ? (double)o32 : (double)tu_load(&o16, dt, 0);
    const double want = 1.0 + 0.5 / (double)n;
    const double want_lse = 0.375 + log((double)n);
    const double tol = tu_rel_tolerance(dt);
    CHECK_MSG(fabs(got - want) < tol * want, "n = %lld (%s): o = %.9g, expected %.9g", (long long)n,
              dt == PATTN_DTYPE_F32 ? "f32" : "f16", got, want);
    CHECK_MSG(fabs(lse - want_lse) < tu_lse_tolerance(dt), "n = %lld: lse = %.9g, expected %.9g", (long long)n,
              (double)lse, want_lse);
    free(v);
}

/* Random f32 q/k/v at n keys, d = 4, one query per head (2 heads, 1 KV head),
 * against a two-pass float64 softmax written here. */
static void long_row_random(int64_t n) {
    enum { D = 4, HQ = 2 };
    tu_rng rng = tu_rng_make(2024);
    float* k = malloc((size_t)n * D * sizeof(float));
    float* v = malloc((size_t)n * D * sizeof(float));
    double* s = malloc((size_t)n * sizeof(double));
    CHECK(k && v && s);
    if (!k || !v || !s) return;
    float q[HQ * D], o[HQ * D], lse[HQ];
    tu_fill_uniform(q, PATTN_DTYPE_F32, HQ * D, &rng, -2.0f, 2.0f);
    tu_fill_uniform(k, PATTN_DTYPE_F32, (size_t)n * D, &rng, -2.0f, 2.0f);
    tu_fill_uniform(v, PATTN_DTYPE_F32, (size_t)n * D, &rng, -1.0f, 1.0f);
    tu_fill_nan(o, PATTN_DTYPE_F32, HQ * D);
    tu_fill_nan(lse, PATTN_DTYPE_F32, HQ);
    pattn_prefill_params p = tu_prefill_params(
        PATTN_MASK_PADDED, f32_4d(q, PATTN_DTYPE_F32, 1, 1, HQ, D), f32_4d(k, PATTN_DTYPE_F32, 1, n, 1, D),
        f32_4d(v, PATTN_DTYPE_F32, 1, n, 1, D), f32_4d(o, PATTN_DTYPE_F32, 1, 1, HQ, D),
        tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, 1, HQ));
    int32_t qlen = 1, kvlen = (int32_t)n;
    p.q_valid_lens = tu_tensor_1d(&qlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    p.kv_valid_lens = tu_tensor_1d(&kvlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    for (int h = 0; h < HQ; ++h) {
        double m = -INFINITY, l = 0.0, ref[D] = {0}, err2 = 0.0, ref2 = 0.0;
        for (int64_t j = 0; j < n; ++j) {
            double dot = 0.0;
            for (int x = 0; x < D; ++x) dot += (double)q[h * D + x] * k[j * D + x];
            s[j] = dot * 0.5; /* 1 / sqrt(4) */
            if (s[j] > m) m = s[j];
        }
        for (int64_t j = 0; j < n; ++j) {
            const double e = exp(s[j] - m);
            l += e;
            for (int x = 0; x < D; ++x) ref[x] += e * v[j * D + x];
        }
        for (int x = 0; x < D; ++x) {
            ref[x] /= l;
            err2 += (o[h * D + x] - ref[x]) * (o[h * D + x] - ref[x]);
            ref2 += ref[x] * ref[x];
        }
        const double rel = sqrt(err2 / ref2), ref_lse = m + log(l);
        CHECK_MSG(rel < 1e-5, "random f32, n = %lld, head %d: rel err %.3g", (long long)n, h, rel);
        CHECK_MSG(fabs(lse[h] - ref_lse) < 1e-5, "random f32, n = %lld, head %d: lse %.9g, ref %.9g",
                  (long long)n, h, (double)lse[h], ref_lse);
    }
    free(k);
    free(v);
    free(s);
}

/* q = 1e20, k = {1e20, 0}: the first score (1e40) overflows f32. */
static void overflowing_scores(void) {
    float q = 1e20f, k[2] = {1e20f, 0.0f}, v[2] = {1.0f, 2.0f}, o = NAN, lse = NAN;
    pattn_prefill_params p = tu_prefill_params(
        PATTN_MASK_PADDED, f32_4d(&q, PATTN_DTYPE_F32, 1, 1, 1, 1), f32_4d(k, PATTN_DTYPE_F32, 1, 2, 1, 1),
        f32_4d(v, PATTN_DTYPE_F32, 1, 2, 1, 1), f32_4d(&o, PATTN_DTYPE_F32, 1, 1, 1, 1),
        tu_tensor_3d(&lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, 1, 1));
    int32_t qlen = 1, kvlen = 2;
    p.q_valid_lens = tu_tensor_1d(&qlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    p.kv_valid_lens = tu_tensor_1d(&kvlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK_MSG(o == 1.0f, "q = 1e20, k = {1e20, 0}: o = %g, expected 1", (double)o);
    /* lse = 1e40 is past f32: +inf is the correctly rounded value. */
    CHECK_MSG(isinf(lse) && lse > 0, "q = 1e20, k = {1e20, 0}: lse = %g, expected +inf", (double)lse);
}

/* softmax_scale = 3e38 with inputs in [-1, 1]: every score overflows f32. */
static void huge_scale(void) {
    enum { N = 13, D = 8, HQ = 2 };
    tu_rng rng = tu_rng_make(77);
    float q[HQ * D], k[N * D], v[N * D], o[HQ * D], lse[HQ];
    tu_fill_uniform(q, PATTN_DTYPE_F32, HQ * D, &rng, -1.0f, 1.0f);
    tu_fill_uniform(k, PATTN_DTYPE_F32, N * D, &rng, -1.0f, 1.0f);
    tu_fill_uniform(v, PATTN_DTYPE_F32, N * D, &rng, -1.0f, 1.0f);
    tu_fill_nan(o, PATTN_DTYPE_F32, HQ * D);
    pattn_prefill_params p = tu_prefill_params(
        PATTN_MASK_PADDED, f32_4d(q, PATTN_DTYPE_F32, 1, 1, HQ, D), f32_4d(k, PATTN_DTYPE_F32, 1, N, 1, D),
        f32_4d(v, PATTN_DTYPE_F32, 1, N, 1, D), f32_4d(o, PATTN_DTYPE_F32, 1, 1, HQ, D),
        tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, 1, HQ));
    int32_t qlen = 1, kvlen = N;
    p.q_valid_lens = tu_tensor_1d(&qlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    p.kv_valid_lens = tu_tensor_1d(&kvlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    p.softmax_scale = 3e38f;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    for (int h = 0; h < HQ; ++h) {
        double s[N], m = -INFINITY, l = 0.0;
        for (int j = 0; j < N; ++j) {
            double dot = 0.0;
            for (int x = 0; x < D; ++x) dot += (double)q[h * D + x] * k[j * D + x];
            s[j] = dot * 3e38;
            if (s[j] > m) m = s[j];
        }
        double ref[D] = {0};
        for (int j = 0; j < N; ++j) {
            const double e = exp(s[j] - m);
            l += e;
            for (int x = 0; x < D; ++x) ref[x] += e * v[j * D + x];
        }
        for (int x = 0; x < D; ++x)
            CHECK_MSG(fabs(o[h * D + x] - ref[x] / l) < 1e-6, "scale 3e38, head %d, d %d: o = %g, expected %g", h,
                      x, (double)o[h * D + x], ref[x] / l);
        const float want_lse = (float)(m + log(l));
        CHECK_MSG(lse[h] == want_lse || fabs(lse[h] - want_lse) <= 1e-6 * fabs(want_lse),
                  "scale 3e38, head %d: lse = %g, expected %g", h, (double)lse[h], (double)want_lse);
    }
}

/* kv_len = 2^31 - 1, every key read: identical keys (stride 0) and values
 * (stride 0): o = v and lse = score + ln(2^31 - 1). */
static void max_kv_len(void) {
    const int64_t n = INT32_MAX;
    float q[2] = {0.5f, -0.25f}, k[2] = {1.0f, 2.0f}, v[2] = {2.0f, -3.0f}, o[2] = {NAN, NAN}, lse = NAN;
    pattn_tensor kt = f32_4d(k, PATTN_DTYPE_F32, 1, n, 1, 2), vt = f32_4d(v, PATTN_DTYPE_F32, 1, n, 1, 2);
    kt.strides[0] = kt.strides[1] = 0;
    vt.strides[0] = vt.strides[1] = 0;
    pattn_prefill_params p = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_LEFT,
                                               f32_4d(q, PATTN_DTYPE_F32, 1, 1, 1, 2), kt, vt,
                                               f32_4d(o, PATTN_DTYPE_F32, 1, 1, 1, 2),
                                               tu_tensor_3d(&lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 1, 1, 1));
    int32_t qlen = 1, kvlen = (int32_t)n;
    p.q_valid_lens = tu_tensor_1d(&qlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    p.kv_valid_lens = tu_tensor_1d(&kvlen, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    const double score = (0.5 * 1.0 - 0.25 * 2.0) / sqrt(2.0), want_lse = score + log((double)n);
    CHECK_MSG(fabs(o[0] - 2.0) < 1e-5 && fabs(o[1] + 3.0) < 1e-5, "kv_len 2^31-1: o = {%g, %g}, expected {2, -3}",
              (double)o[0], (double)o[1]);
    CHECK_MSG(fabs(lse - want_lse) < 1e-5, "kv_len 2^31-1: lse = %.9g, expected %.9g", (double)lse, want_lse);
}

/* cpu_max_threads: results do not depend on it; negative is rejected; a
 * struct_size of ABI 1 (without the field) is accepted. */
static void thread_cap(void) {
    enum { B = 3, S = 200, HQ = 4, HKV = 2, D = 64 };
    tu_rng rng = tu_rng_make(5);
    const size_t nq = (size_t)B * S * HQ * D, nk = (size_t)B * S * HKV * D;
    float* q = malloc(nq * 4);
    float* k = malloc(nk * 4);
    float* v = malloc(nk * 4);
    float* o[4] = {malloc(nq * 4), malloc(nq * 4), malloc(nq * 4), malloc(nq * 4)};
    tu_fill_uniform(q, PATTN_DTYPE_F32, nq, &rng, -1.0f, 1.0f);
    tu_fill_uniform(k, PATTN_DTYPE_F32, nk, &rng, -1.0f, 1.0f);
    tu_fill_uniform(v, PATTN_DTYPE_F32, nk, &rng, -1.0f, 1.0f);
    int32_t lens[B] = {200, 7, 131};
    const int32_t caps[4] = {1, 2, 0, 0};
    for (int i = 0; i < 4; ++i) {
        tu_fill_nan(o[i], PATTN_DTYPE_F32, nq);
        pattn_prefill_params p = tu_prefill_params(
            PATTN_MASK_CAUSAL_PADDED_LEFT, f32_4d(q, PATTN_DTYPE_F32, B, S, HQ, D),
            f32_4d(k, PATTN_DTYPE_F32, B, S, HKV, D), f32_4d(v, PATTN_DTYPE_F32, B, S, HKV, D),
            f32_4d(o[i], PATTN_DTYPE_F32, B, S, HQ, D), tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 0, 0, 0));
        p.q_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
        p.cpu_max_threads = caps[i];
        if (i == 3) p.struct_size = (uint32_t)offsetof(pattn_prefill_params, cpu_max_threads);
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
    }
    for (int i = 1; i < 4; ++i)
        CHECK_MSG(memcmp(o[0], o[i], nq * 4) == 0, "cpu_max_threads run %d differs from the 1-thread run", i);
    {
        pattn_prefill_params p = tu_prefill_params(
            PATTN_MASK_CAUSAL_PADDED_LEFT, f32_4d(q, PATTN_DTYPE_F32, B, S, HQ, D),
            f32_4d(k, PATTN_DTYPE_F32, B, S, HKV, D), f32_4d(v, PATTN_DTYPE_F32, B, S, HKV, D),
            f32_4d(o[0], PATTN_DTYPE_F32, B, S, HQ, D), tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 0, 0, 0));
        p.cpu_max_threads = -1;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK(strstr(pattn_last_error_message(), "cpu_max_threads") != NULL);
        pattn_decode_params d = tu_decode_params(PATTN_PADDING_RIGHT, f32_4d(q, PATTN_DTYPE_F32, B, 1, HQ, D),
                                                 f32_4d(k, PATTN_DTYPE_F32, B, S, HKV, D),
                                                 f32_4d(v, PATTN_DTYPE_F32, B, S, HKV, D),
                                                 f32_4d(o[0], PATTN_DTYPE_F32, B, 1, HQ, D),
                                                 tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 0, 0, 0));
        d.cpu_max_threads = -3;
        CHECK_STATUS(pattn_decode(&d, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        d.cpu_max_threads = 1;
        CHECK_OK(pattn_decode(&d, NULL));
        d.struct_size = (uint32_t)offsetof(pattn_decode_params, cpu_max_threads);
        CHECK_OK(pattn_decode(&d, NULL));
        d.struct_size = (uint32_t)offsetof(pattn_decode_params, cpu_max_threads) + 1;
        CHECK_STATUS(pattn_decode(&d, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    }
    free(q);
    free(k);
    free(v);
    for (int i = 0; i < 4; ++i) free(o[i]);
}

int main(void) {
    long_row_equal_scores(PATTN_DTYPE_F32, (int64_t)1 << 24);
    long_row_equal_scores(PATTN_DTYPE_F16, (int64_t)1 << 26);
    long_row_random((int64_t)1 << 22);
    overflowing_scores();
    huge_scale();
    thread_cap();
    /* About a minute of work: once, on the default (best) path only. */
    if (getenv("PADDEDATTN_CPU_ISA") == NULL || *getenv("PADDEDATTN_CPU_ISA") == '\0')
        max_kv_len();
    else
        printf("test_cpu_accuracy: kv_len 2^31-1 case left to the run on the default path\n");
    if (tu_failures) {
        fprintf(stderr, "test_cpu_accuracy: %d check(s) FAILED\n", tu_failures);
        return 1;
    }
    printf("test_cpu_accuracy: all checks passed\n");
    return 0;
}
