// Internal (CPU backend): f16/bf16 <-> f32 conversions with round to nearest
// even, written with integer operations so that they work on every host.
#pragma once

#include <cstdint>
#include <cstring>

namespace pattn {
namespace cpu {

static inline uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

static inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

static inline uint16_t float_to_bf16(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

// Branch-light f16 -> f32 (after F. Giesen's half_to_float_fast): move the
// exponent and mantissa into place, then fix up Inf/NaN and subnormals.
static inline float half_to_float(uint16_t h) {
    constexpr uint32_t shifted_exp = 0x7C00u << 13;
    uint32_t u = (static_cast<uint32_t>(h) & 0x7FFFu) << 13;
    const uint32_t exponent = u & shifted_exp;
    u += (127u - 15u) << 23;
    if (exponent == shifted_exp) {
        u += (128u - 16u) << 23;  // Inf / NaN
    } else if (exponent == 0) {
        u += 1u << 23;            // zero / subnormal: renormalize through the FPU
        u = float_bits(bits_float(u) - bits_float(113u << 23));
    }
    return bits_float(u | ((static_cast<uint32_t>(h) & 0x8000u) << 16));
}

static inline uint16_t float_to_half(float f) {
    const uint32_t u = float_bits(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);   // NaN
    if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: Inf
    if (a < 0x38800000u) {
        // Below the smallest normal (2^-14): round a / 2^-24 to an integer,
        // ties to even; 0x400 becomes the smallest normal by itself.
        const uint32_t shift = 126u - (a >> 23);  // >= 14 for normals below 2^-14
        if (shift > 24) return sign;              // below half of the smallest subnormal
        const uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
        uint32_t h = mant >> shift;
        const uint32_t rest = mant & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1);
        if (rest > half || (rest == half && (h & 1u))) h++;
        return static_cast<uint16_t>(sign | h);
    }
    uint32_t h = ((a >> 23) - 112u) << 10 | ((a >> 13) & 0x3FFu);
    const uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;  // a carry bumps the exponent
    return static_cast<uint16_t>(sign | h);
}

}  // namespace cpu
}  // namespace pattn
