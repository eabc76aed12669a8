// Pieces of the online softmax shared by the prefill (mma.sync, wgmma) and
// decode kernels that keep it finite and accurate on long rows
// (docs/semantics.md, "Limits" and "Scores that overflow"):
//   - the running maximum of the scaled scores is clamped to FLT_MAX, so a
//     score that overflows f32 (+inf from finite inputs: a huge
//     softmax_scale, or bf16 products past FLT_MAX) never meets another
//     +inf in `score - max`;
//   - the exponent `score - max` is clamped to at most 0: an overflowed
//     score weighs 1, like a score equal to the maximum (NaN stays NaN, so
//     NaN inputs still propagate);
//   - the running sum of the exponentials adds each tile's partial sum with
//     Kahan compensation, so it does not stop growing on rows of millions of
//     keys.
#pragma once

#include <cfloat>

namespace pattn {
namespace cuda {

// softmax_scale * log2(e) for the kernels' base-2 softmax, formed in double
// and clamped to FLT_MAX: a scale above FLT_MAX / log2(e) would otherwise
// become +inf and turn a zero score into NaN.
inline float softmax_scale_log2(float scale) {
    const double x = static_cast<double>(scale) * 1.4426950408889634;
    return static_cast<float>(x > FLT_MAX ? FLT_MAX : x);
}

__device__ __forceinline__ float clamp_running_max(float m) { return fminf(m, FLT_MAX); }

__device__ __forceinline__ float softmax_exponent(float x) { return x > 0.f ? 0.f : x; }

// sum += tile_sum with compensation `comp` (both already rescaled by the
// caller when the maximum moved).
__device__ __forceinline__ void compensated_add(float& sum, float& comp, float tile_sum) {
    const float y = tile_sum - comp;
    const float t = sum + y;
    comp = (t - sum) - y;
    sum = t;
}

}  // namespace cuda
}  // namespace pattn
