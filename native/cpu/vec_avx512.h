// Internal (CPU backend): the AVX-512 F/BW/VL/DQ vector type of
// attend_kernel.h (16 floats per vector), shared by attend_avx512.cpp and
// attend_avx512_bf16.cpp. Include it only where those instructions are
// enabled (per-file flags or a target region); the type has internal linkage,
// so no copy is shared through the linker.
#pragma once

#include <immintrin.h>

#include <cfloat>
#include <cstdint>

namespace pattn {
namespace cpu {
namespace {

struct VecAvx512 {
    using reg = __m512;
    using mask = __mmask16;
    static constexpr int W = 16;
    static reg zero() { return _mm512_setzero_ps(); }
    static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
    static void storeu(float* p, reg x) { _mm512_storeu_ps(p, x); }
    static reg set1(float x) { return _mm512_set1_ps(x); }
    static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
    static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
    static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
    static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
    static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
    static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
    static reg round(reg x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static reg pow2i(reg n) {
        const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
        return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
    }
    static reg load_f16(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static reg load_bf16(const uint16_t* p) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
    static reg load_scaled(const double* acc, double inv) {
        const __m512d f = _mm512_set1_pd(inv);
        const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_loadu_pd(acc), f));
        const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_loadu_pd(acc + 8), f));
        return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    }
    static void store_f16(uint16_t* p, reg x) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    static void store_bf16(uint16_t* p, reg x) {
        const __m512i u = _mm512_castps_si512(x);
        const __m512i rounded = _mm512_srli_epi32(
            _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
                             _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))), 16);
        const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x0040));
        const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                                         _mm512_set1_epi32(0x7F800000));
        const __m512i h = _mm512_mask_blend_epi32(is_nan, rounded, quiet);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(h));
    }
    static __m256 half_sum(reg a) {
        return _mm256_add_ps(_mm512_castps512_ps256(a),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    }
    static void reduce4(reg a, reg b, reg c, reg d, float scale, float* out) {
        const __m256 ab = _mm256_hadd_ps(half_sum(a), half_sum(b));
        const __m256 cd = _mm256_hadd_ps(half_sum(c), half_sum(d));
        const __m256 abcd = _mm256_hadd_ps(ab, cd);
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
        _mm_storeu_ps(out, _mm_mul_ps(s, _mm_set1_ps(scale)));
    }
    static void fold(double* dst, reg t, float corr) {
        const __m512d c = _mm512_set1_pd(corr);
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(t));
        const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
        _mm512_storeu_pd(dst, _mm512_fmadd_pd(_mm512_loadu_pd(dst), c, lo));
        _mm512_storeu_pd(dst + 8, _mm512_fmadd_pd(_mm512_loadu_pd(dst + 8), c, hi));
    }
    static mask not_finite(reg x) {
        return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(FLT_MAX), _CMP_NLE_UQ);
    }
    static mask lt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
    static mask eq(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
    static reg select(mask m, reg a, reg b) { return _mm512_mask_blend_ps(m, b, a); }
    static mask no_lanes() { return 0; }
    static mask mask_or(mask a, mask b) { return static_cast<mask>(a | b); }
    static bool any(mask m) { return m != 0; }
};

}  // namespace
}  // namespace cpu
}  // namespace pattn
