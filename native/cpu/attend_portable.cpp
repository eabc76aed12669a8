// The attention kernel for any host, in portable C++. Used where the
// machine has no AVX2+FMA+F16C (and on every non-x86 build), and when
// PADDEDATTN_CPU_ISA=scalar asks for it.
#include <cfloat>
#include <cstdint>
#include <math.h>

#include "convert.h"

namespace pattn {
namespace cpu {
namespace {

// Four lanes in plain C++ (compilers map them to SSE2 / NEON): the same
// lane-parallel accumulation as the vector paths, so f32 dot products round
// alike (a single sequential sum over head_dim loses the lse bound).
struct Vec {
    struct reg {
        float v[4];
    };
    struct mask {
        bool v[4];
    };
    static constexpr int W = 4;
    template <typename F>
    static reg map(F f) {
        reg r;
        for (int i = 0; i < W; ++i) r.v[i] = f(i);
        return r;
    }
    template <typename F>
    static mask map_mask(F f) {
        mask r;
        for (int i = 0; i < W; ++i) r.v[i] = f(i);
        return r;
    }
    static reg zero() { return set1(0.0f); }
    static reg loadu(const float* p) { return map([&](int i) { return p[i]; }); }
    static void storeu(float* p, reg x) {
        for (int i = 0; i < W; ++i) p[i] = x.v[i];
    }
    static reg set1(float x) { return map([&](int) { return x; }); }
    static reg add(reg a, reg b) { return map([&](int i) { return a.v[i] + b.v[i]; }); }
    static reg sub(reg a, reg b) { return map([&](int i) { return a.v[i] - b.v[i]; }); }
    static reg mul(reg a, reg b) { return map([&](int i) { return a.v[i] * b.v[i]; }); }
    static reg fmadd(reg a, reg b, reg c) { return map([&](int i) { return a.v[i] * b.v[i] + c.v[i]; }); }
    // NaN in a gives b, as maxps/minps do.
    static reg max(reg a, reg b) { return map([&](int i) { return a.v[i] > b.v[i] ? a.v[i] : b.v[i]; }); }
    static reg min(reg a, reg b) { return map([&](int i) { return a.v[i] < b.v[i] ? a.v[i] : b.v[i]; }); }
    // Ties to even for |x| < 2^22 (the caller clamps to [-127, 127]).
    static reg round(reg x) {
        return map([&](int i) {
            return (x.v[i] + 12582912.0f) - 12582912.0f;  // 1.5 * 2^23 (no -ffast-math here)
        });
    }
    static reg pow2i(reg n) {
        return map([&](int i) {
            return bits_float(static_cast<uint32_t>(static_cast<int32_t>(n.v[i]) + 127) << 23);
        });
    }
    static reg load_f16(const uint16_t* p) { return map([&](int i) { return half_to_float(p[i]); }); }
    static reg load_bf16(const uint16_t* p) { return map([&](int i) { return bf16_to_float(p[i]); }); }
    static reg load_scaled(const double* acc, double inv) {
        return map([&](int i) { return static_cast<float>(acc[i] * inv); });
    }
    static void store_f16(uint16_t* p, reg x) {
        for (int i = 0; i < W; ++i) p[i] = float_to_half(x.v[i]);
    }
    static void store_bf16(uint16_t* p, reg x) {
        for (int i = 0; i < W; ++i) p[i] = float_to_bf16(x.v[i]);
    }
    static float hsum(reg a) { return (a.v[0] + a.v[1]) + (a.v[2] + a.v[3]); }
    static void reduce4(reg a, reg b, reg c, reg d, float scale, float* out) {
        out[0] = hsum(a) * scale;
        out[1] = hsum(b) * scale;
        out[2] = hsum(c) * scale;
        out[3] = hsum(d) * scale;
    }
    static void fold(double* dst, reg t, float corr) {
        for (int i = 0; i < W; ++i) dst[i] = dst[i] * corr + t.v[i];
    }
    static mask not_finite(reg x) { return map_mask([&](int i) { return !(fabsf(x.v[i]) <= FLT_MAX); }); }
    static mask lt(reg a, reg b) { return map_mask([&](int i) { return a.v[i] < b.v[i]; }); }
    static mask eq(reg a, reg b) { return map_mask([&](int i) { return a.v[i] == b.v[i]; }); }
    static reg select(mask m, reg a, reg b) { return map([&](int i) { return m.v[i] ? a.v[i] : b.v[i]; }); }
    static mask no_lanes() { return map_mask([&](int) { return false; }); }
    static mask mask_or(mask a, mask b) { return map_mask([&](int i) { return a.v[i] || b.v[i]; }); }
    static bool any(mask m) { return m.v[0] || m.v[1] || m.v[2] || m.v[3]; }
};

}  // namespace
}  // namespace cpu
}  // namespace pattn

#define PATTN_ATTEND_ENTRY attend_portable
#define PATTN_PACK_ENTRY pack_portable
#include "attend_kernel.h"
