// pattn::cpu::merge_states: (o_a, lse_a) + (o_b, lse_b) -> (o_out, lse_out)
// with natural-log lse, as FlashInfer's merge_state; f32 math, the rule of
// core/merge_rule.h shared with the CUDA kernel (-inf, +inf and NaN lse
// included). o_out / lse_out may be exactly o_a or o_b / lse_a or lse_b.
#include <cmath>
#include <cstdint>
#include <limits>

#include "attention_args.h"
#include "backends.h"
#include "convert.h"
#include "errors.h"
#include "merge_rule.h"

namespace pattn {
namespace cpu {
namespace {

float load(const void* base, pattn_dtype dtype, int64_t index) {
    switch (dtype) {
        case PATTN_DTYPE_F16: return half_to_float(static_cast<const uint16_t*>(base)[index]);
        case PATTN_DTYPE_BF16: return bf16_to_float(static_cast<const uint16_t*>(base)[index]);
        default: return static_cast<const float*>(base)[index];
    }
}

void store(void* base, pattn_dtype dtype, int64_t index, float x) {
    switch (dtype) {
        case PATTN_DTYPE_F16: static_cast<uint16_t*>(base)[index] = float_to_half(x); break;
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
    for (int64_t i0 = 0; i0 < a.d0; ++i0) {
        for (int64_t i1 = 0; i1 < a.d1; ++i1) {
            for (int64_t h = 0; h < a.num_heads; ++h) {
                const float lse_a = a.lse_a[i0 * a.lse_a_stride[0] + i1 * a.lse_a_stride[1] + h * a.lse_a_stride[2]];
                const float lse_b = a.lse_b[i0 * a.lse_b_stride[0] + i1 * a.lse_b_stride[1] + h * a.lse_b_stride[2]];
                const MergeWeights w = merge_weights(lse_a, lse_b);
                const int64_t oa = i0 * a.o_a_stride[0] + i1 * a.o_a_stride[1] + h * a.o_a_stride[2];
                const int64_t ob = i0 * a.o_b_stride[0] + i1 * a.o_b_stride[1] + h * a.o_b_stride[2];
                const int64_t oo = i0 * a.o_out_stride[0] + i1 * a.o_out_stride[1] + h * a.o_out_stride[2];
                for (int e = 0; e < a.head_dim; ++e) {
                    // A side of weight 0 contributes nothing, even if its o is not finite.
                    float x = 0.f;
                    if (w.w_a > 0.f) x = w.w_a * load(a.o_a, a.dtype, oa + e);
                    if (w.w_b > 0.f) x = std::fma(w.w_b, load(a.o_b, a.dtype, ob + e), x);
                    if (w.o_is_nan) x = std::numeric_limits<float>::quiet_NaN();
                    store(a.o_out, a.dtype, oo + e, x);
                }
                a.lse_out[i0 * a.lse_out_stride[0] + i1 * a.lse_out_stride[1] + h * a.lse_out_stride[2]] = w.lse;
            }
        }
    }
    return PATTN_STATUS_SUCCESS;
}

}  // namespace cpu
}  // namespace pattn
