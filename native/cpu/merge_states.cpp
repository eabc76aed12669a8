// pattn::cpu::merge_states: (o_a, lse_a) + (o_b, lse_b) -> (o_out, lse_out)
// with natural-log lse, as FlashInfer's merge_state; f32 math, the same rules
// as the CUDA kernel (a side with lse = -inf contributes nothing; both -inf
// gives o = 0, lse = -inf). o_out / lse_out may alias the a-side inputs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "attention_args.h"
#include "backends.h"
#include "errors.h"

namespace pattn {
namespace cpu {
namespace {

float f16_to_float(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: value = man * 2^-24
            float f = std::ldexp(static_cast<float>(man), -24);
            return sign ? -f : f;
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return sign | 0x7e00u;            // NaN
    if (abs >= 0x477ff000u) return sign | 0x7c00u;           // rounds to >= 65520: inf
    if (abs < 0x38800000u) {                                 // below the smallest normal
        // Subnormal (or zero): round abs / 2^-24 to nearest even.
        float a;
        std::memcpy(&a, &abs, 4);
        const float scaled = a * 16777216.0f;  // exact: power of two
        return sign | static_cast<uint16_t>(std::nearbyint(scaled));
    }
    // Normal: drop 13 mantissa bits, round to nearest even.
    const uint32_t rebias = abs - (112u << 23);
    const uint32_t rounded = rebias + 0xfffu + ((rebias >> 13) & 1u);
    return sign | static_cast<uint16_t>(rounded >> 13);
}

float bf16_to_float(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_bf16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
    return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

float load(const void* base, pattn_dtype dtype, int64_t index) {
    switch (dtype) {
        case PATTN_DTYPE_F16: return f16_to_float(static_cast<const uint16_t*>(base)[index]);
        case PATTN_DTYPE_BF16: return bf16_to_float(static_cast<const uint16_t*>(base)[index]);
        default: return static_cast<const float*>(base)[index];
    }
}

void store(void* base, pattn_dtype dtype, int64_t index, float x) {
    switch (dtype) {
        case PATTN_DTYPE_F16: static_cast<uint16_t*>(base)[index] = float_to_f16(x); break;
        case PATTN_DTYPE_BF16: static_cast<uint16_t*>(base)[index] = float_to_bf16(x); break;
        default: static_cast<float*>(base)[index] = x; break;
    }
}

}  // namespace

pattn_status merge_states(const MergeArgs& a) {
    if (a.dtype != PATTN_DTYPE_F32 && a.dtype != PATTN_DTYPE_F16 && a.dtype != PATTN_DTYPE_BF16)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "merge_states: o dtype = %d is not supported (f32, f16, bf16)",
                         static_cast<int>(a.dtype));
    const float neg_inf = -std::numeric_limits<float>::infinity();
    for (int64_t i0 = 0; i0 < a.d0; ++i0) {
        for (int64_t i1 = 0; i1 < a.d1; ++i1) {
            for (int64_t h = 0; h < a.num_heads; ++h) {
                const float lse_a = a.lse_a[i0 * a.lse_a_stride[0] + i1 * a.lse_a_stride[1] + h * a.lse_a_stride[2]];
                const float lse_b = a.lse_b[i0 * a.lse_b_stride[0] + i1 * a.lse_b_stride[1] + h * a.lse_b_stride[2]];
                const float m = std::fmax(lse_a, lse_b);
                const bool empty = m == neg_inf || std::isnan(m);
                float w_a = 0.f, w_b = 0.f, lse = neg_inf;
                if (!empty) {
                    w_a = std::exp(lse_a - m);
                    w_b = std::exp(lse_b - m);
                    const float sum = w_a + w_b;
                    lse = m + std::log(sum);
                    w_a /= sum;
                    w_b /= sum;
                }
                const int64_t oa = i0 * a.o_a_stride[0] + i1 * a.o_a_stride[1] + h * a.o_a_stride[2];
                const int64_t ob = i0 * a.o_b_stride[0] + i1 * a.o_b_stride[1] + h * a.o_b_stride[2];
                const int64_t oo = i0 * a.o_out_stride[0] + i1 * a.o_out_stride[1] + h * a.o_out_stride[2];
                for (int e = 0; e < a.head_dim; ++e) {
                    // A side of weight 0 contributes nothing, even if its o is not finite.
                    float x = 0.f;
                    if (w_a > 0.f) x = w_a * load(a.o_a, a.dtype, oa + e);
                    if (w_b > 0.f) x = std::fma(w_b, load(a.o_b, a.dtype, ob + e), x);
                    store(a.o_out, a.dtype, oo + e, x);
                }
                a.lse_out[i0 * a.lse_out_stride[0] + i1 * a.lse_out_stride[1] + h * a.lse_out_stride[2]] = lse;
            }
        }
    }
    return PATTN_STATUS_SUCCESS;
}

}  // namespace cpu
}  // namespace pattn
