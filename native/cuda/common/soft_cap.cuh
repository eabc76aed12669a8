// Logit soft-capping on the GPU (docs/semantics.md): out * tanh(x * in),
// written as out - 2 out / (exp(2 x in) + 1) with exp2 and a fast division.
// tanhf needs enough registers to make the decode kernel spill; this form
// is within a few f32 ulps of out (absolute), far below the f16/bf16
// tolerances. The exponent is clamped (tanh is 1 to f32 precision there) so
// the division never sees infinity; NaN passes through.
#pragma once

#include <cuda_runtime.h>

#include "math_constants.h"

namespace pattn {
namespace cuda {

__device__ __forceinline__ float soft_cap_tanh(float x, float in, float out) {
    float t = x * in * (2.0f * kLog2e);
    t = t > 64.0f ? 64.0f : t;
    return out - __fdividef(2.0f * out, exp2f(t) + 1.0f);
}

}  // namespace cuda
}  // namespace pattn
