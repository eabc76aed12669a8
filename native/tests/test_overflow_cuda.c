/*
 * test_overflow_cuda.c — scores that overflow f32 from finite inputs on the
 * GPU give the documented result, never NaN (docs/semantics.md, "Scores
 * that overflow"): a scaled score past FLT_MAX counts as FLT_MAX, so the keys
 * whose scores overflow share the weight equally and the others get none.
 *   - f16 prefill and decode with softmax_scale = 3e38 (used to give NaN in
 *     every row: scale * log2(e) itself overflowed);
 *   - bf16 prefill with q = k0 = 1e20 (the products overflow f32) and
 *     k1 = 0: o = v0, as the float64 reference gives.
 * The reference applies the rule in float64: t_j = scale * log2(e) * q.k_j,
 * clamped to FLT_MAX, softmax in base 2. Exits 77 without a GPU.
 */
#include <float.h>

#include "test_util.h"

enum { D = 64, HQ = 2, HK = 1, SQ = 4, SK = 100 };

/* k_j = c_j * e_0 with c_j cycling through these; q = e_0. */
static const float kCoeff[4] = {1.0f, 0.5f, -1.0f, 0.25f};

static void reference(const float* q, const float* k, const float* v, int n, double scale, double* o,
                      double* lse) {
    double t[SK], m = -INFINITY, sum = 0.0;
    int j, e;
    for (j = 0; j < n; ++j) {
        double dot = 0.0;
        for (e = 0; e < D; ++e) dot += (double)q[e] * (double)k[j * D + e];
        t[j] = scale * 1.4426950408889634 * dot;
        if (t[j] > FLT_MAX) t[j] = FLT_MAX;
        if (t[j] > m) m = t[j];
    }
    for (e = 0; e < D; ++e) o[e] = 0.0;
    for (j = 0; j < n; ++j) {
        const double p = exp2(t[j] - m);
        sum += p;
        for (e = 0; e < D; ++e) o[e] += p * v[j * D + e];
    }
    for (e = 0; e < D; ++e) o[e] /= sum;
    *lse = m * 0.6931471805599453 + log(sum);
}

/* Runs one call (prefill or decode, batch 1, every head sharing the one KV
 * head) on the GPU and checks every row against the reference. */
static void run_case(const char* label, pattn_dtype dtype, int decode, float q_value, float k_value,
                     int structured, float scale) {
    const int q_len = decode ? 1 : SQ;
    const size_t es = tu_dtype_size(dtype);
    float qf[D], kf[SK * D], vf[SK * D];
    uint16_t qh[SQ * HQ * D], kh[SK * HK * D], vh[SK * HK * D], oh[SQ * HQ * D];
    float lse_h[SQ * HQ];
    double ref_o[D], ref_lse, err2 = 0.0, ref2 = 0.0;
    tu_rng rng = tu_rng_make(55);
    void *qd, *kd, *vd, *od, *ld;
    int i, j, e, bad = 0;
    for (e = 0; e < D; ++e) qf[e] = structured ? (e == 0 ? 1.0f : 0.0f) : q_value;
    for (j = 0; j < SK; ++j)
        for (e = 0; e < D; ++e) {
            if (structured)
                kf[j * D + e] = e == 0 ? kCoeff[j % 4] : 0.0f;
            else
                kf[j * D + e] = j == 0 ? k_value : 0.0f;
            vf[j * D + e] = tu_rng_uniform(&rng, -1, 1);
        }
    /* Round through the dtype so the reference sees what the GPU sees. */
    for (e = 0; e < D; ++e) {
        tu_store(qh, dtype, (size_t)e, qf[e]);
        qf[e] = (float)tu_load(qh, dtype, (size_t)e);
    }
    for (i = 0; i < SK * D; ++i) {
        tu_store(kh, dtype, (size_t)i, kf[i]);
        kf[i] = (float)tu_load(kh, dtype, (size_t)i);
        tu_store(vh, dtype, (size_t)i, vf[i]);
        vf[i] = (float)tu_load(vh, dtype, (size_t)i);
    }
    for (i = 1; i < q_len * HQ; ++i) memcpy(qh + (size_t)i * D, qh, D * es);
    reference(qf, kf, vf, SK, scale != 0.0f ? scale : 1.0 / sqrt((double)D), ref_o, &ref_lse);

    qd = tu_upload(qh, (size_t)q_len * HQ * D * es, 0);
    kd = tu_upload(kh, (size_t)SK * HK * D * es, 0);
    vd = tu_upload(vh, (size_t)SK * HK * D * es, 0);
    od = tu_upload(NULL, (size_t)q_len * HQ * D * es, 0);
    ld = tu_upload(NULL, (size_t)q_len * HQ * 4, 0);
    CHECK(qd && kd && vd && od && ld);
    CHECK_OK(pattn_memset_async(od, 0xFF, (size_t)q_len * HQ * D * es, NULL));
    if (decode) {
        pattn_decode_params p = tu_decode_params(
            PATTN_PADDING_RIGHT, tu_tensor_4d(qd, dtype, PATTN_DEVICE_CUDA, 0, 1, q_len, HQ, D),
            tu_tensor_4d(kd, dtype, PATTN_DEVICE_CUDA, 0, 1, SK, HK, D),
            tu_tensor_4d(vd, dtype, PATTN_DEVICE_CUDA, 0, 1, SK, HK, D),
            tu_tensor_4d(od, dtype, PATTN_DEVICE_CUDA, 0, 1, q_len, HQ, D),
            tu_tensor_3d(ld, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 1, q_len, HQ));
        p.softmax_scale = scale;
        CHECK_OK(pattn_decode(&p, NULL));
    } else {
        pattn_prefill_params p = tu_prefill_params(
            PATTN_MASK_PADDED, tu_tensor_4d(qd, dtype, PATTN_DEVICE_CUDA, 0, 1, q_len, HQ, D),
            tu_tensor_4d(kd, dtype, PATTN_DEVICE_CUDA, 0, 1, SK, HK, D),
            tu_tensor_4d(vd, dtype, PATTN_DEVICE_CUDA, 0, 1, SK, HK, D),
            tu_tensor_4d(od, dtype, PATTN_DEVICE_CUDA, 0, 1, q_len, HQ, D),
            tu_tensor_3d(ld, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 1, q_len, HQ));
        p.softmax_scale = scale;
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
    }
    CHECK_OK(pattn_device_synchronize(0));
    CHECK_OK(tu_download(oh, od, (size_t)q_len * HQ * D * es));
    CHECK_OK(tu_download(lse_h, ld, (size_t)q_len * HQ * 4));
    for (i = 0; i < q_len * HQ; ++i) {
        double row_err2 = 0.0, row_ref2 = 0.0;
        int has_nan = 0;
        for (e = 0; e < D; ++e) {
            const double x = tu_load(oh, dtype, (size_t)i * D + e);
            has_nan |= isnan(x) != 0;
            row_err2 += (x - ref_o[e]) * (x - ref_o[e]);
            row_ref2 += ref_o[e] * ref_o[e];
        }
        err2 += row_err2;
        ref2 += row_ref2;
        if (has_nan || isnan(lse_h[i]) || !(sqrt(row_err2 / row_ref2) < tu_rel_tolerance(dtype)) ||
            !(fabs(lse_h[i] - ref_lse) <= 1e-5 * fabs(ref_lse) + 1e-5)) {
            if (bad++ < 3)
                fprintf(stderr, "  [%s] row %d: %s, rel err %.3g, lse %.9g (ref %.9g)\n", label, i,
                        has_nan ? "NaN in o" : "o finite", sqrt(row_err2 / row_ref2), lse_h[i], ref_lse);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %d rows differ from the clamped float64 reference", label, bad, q_len * HQ);
    pattn_device_free(qd);
    pattn_device_free(kd);
    pattn_device_free(vd);
    pattn_device_free(od);
    pattn_device_free(ld);
}

int main(void) {
    if (!tu_have_gpu()) {
        printf("test_overflow_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    run_case("f16 prefill, scale 3e38", PATTN_DTYPE_F16, 0, 0, 0, 1, 3e38f);
    run_case("bf16 prefill, scale 3e38", PATTN_DTYPE_BF16, 0, 0, 0, 1, 3e38f);
    run_case("f16 decode, scale 3e38", PATTN_DTYPE_F16, 1, 0, 0, 1, 3e38f);
    run_case("bf16 decode, scale 3e38", PATTN_DTYPE_BF16, 1, 0, 0, 1, 3e38f);
    run_case("bf16 prefill, q = k0 = 1e20", PATTN_DTYPE_BF16, 0, 1e20f, 1e20f, 0, 0.0f);
    run_case("bf16 decode, q = k0 = 1e20", PATTN_DTYPE_BF16, 1, 1e20f, 1e20f, 0, 0.0f);
    return tu_finish("test_overflow_cuda");
}
