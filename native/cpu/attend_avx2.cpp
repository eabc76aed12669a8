// The attention kernel for x86-64 with AVX2, FMA and F16C (8 floats per
// vector). CMake compiles this file alone with -mavx2 -mfma -mf16c; isa.cpp
// calls it only where cpuid reports those features.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cfloat>
#include <cstdint>

namespace pattn {
namespace cpu {
namespace {

struct Vec {
    using reg = __m256;
    using mask = __m256;
    static constexpr int W = 8;
    static reg zero() { return _mm256_setzero_ps(); }
    static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
    static void storeu(float* p, reg x) { _mm256_storeu_ps(p, x); }
    static reg set1(float x) { return _mm256_set1_ps(x); }
    static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
    static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
    static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
    static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
    static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
    static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
    static reg round(reg x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static reg pow2i(reg n) {
        const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
    }
    static reg load_f16(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static reg load_bf16(const uint16_t* p) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    // float(acc[0..7] * inv).
    static reg load_scaled(const double* acc, double inv) {
        const __m256d f = _mm256_set1_pd(inv);
        const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_loadu_pd(acc), f));
        const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_loadu_pd(acc + 4), f));
        return _mm256_set_m128(hi, lo);
    }
    static void store_f16(uint16_t* p, reg x) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // Round to nearest even; NaN stays a quiet NaN (as convert.h float_to_bf16).
    static void store_bf16(uint16_t* p, reg x) {
        const __m256i u = _mm256_castps_si256(x);
        const __m256i rounded = _mm256_srli_epi32(
            _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)),
                             _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))), 16);
        const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x0040));
        const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF)),
                                                  _mm256_set1_epi32(0x7F800000));
        const __m256i h = _mm256_blendv_epi8(rounded, quiet, is_nan);
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(h, h), 0x08);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
    }
    // out[0..3] = scale * (sum of a, b, c, d).
    static void reduce4(reg a, reg b, reg c, reg d, float scale, float* out) {
        const __m256 ab = _mm256_hadd_ps(a, b);
        const __m256 cd = _mm256_hadd_ps(c, d);
        const __m256 abcd = _mm256_hadd_ps(ab, cd);
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
        _mm_storeu_ps(out, _mm_mul_ps(s, _mm_set1_ps(scale)));
    }
    // dst[0..7] = dst * corr + t, in f64.
    static void fold(double* dst, reg t, float corr) {
        const __m256d c = _mm256_set1_pd(corr);
        const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(t));
        const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1));
        _mm256_storeu_pd(dst, _mm256_fmadd_pd(_mm256_loadu_pd(dst), c, lo));
        _mm256_storeu_pd(dst + 4, _mm256_fmadd_pd(_mm256_loadu_pd(dst + 4), c, hi));
    }
    static mask not_finite(reg x) {
        const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
        return _mm256_cmp_ps(abs, _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ);
    }
    static mask lt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
    static mask eq(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
    static reg select(mask m, reg a, reg b) { return _mm256_blendv_ps(b, a, m); }
    static mask no_lanes() { return _mm256_setzero_ps(); }
    static mask mask_or(mask a, mask b) { return _mm256_or_ps(a, b); }
    static bool any(mask m) { return _mm256_movemask_ps(m) != 0; }
};

}  // namespace
}  // namespace cpu
}  // namespace pattn

#define PATTN_ATTEND_ENTRY attend_avx2
#define PATTN_PACK_ENTRY pack_avx2
#include "attend_kernel.h"
#endif
