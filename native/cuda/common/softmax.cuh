// The online softmax of the prefill kernels, on the accumulator fragment that
// mma.sync m16n8 and wgmma m64nN share: per n8 tile a thread holds 4 floats,
// columns (lane % 4) * 2 + {0, 1} of rows lane / 4 (e = 0, 1) and lane / 4 + 8
// (e = 2, 3). Scores are in log2 units after the scale_log2 FMA (exp2 runs
// the softmax); the four threads of a row hold its partial sums.
#pragma once

#include <cmath>

#include "math_constants.h"
#include "online_softmax.cuh"
#include "ptx.cuh"

namespace pattn {
namespace cuda {

// One score tile for a thread's two rows (h = 0, 1): s[nt][e] become
// exp2(scale_log2 * s - max) in place, the running max and this thread's
// share of the row sum are updated, and correction[h] is the factor the
// output accumulated so far must be multiplied by. A row that has seen no
// key yet keeps max -inf; exp2 against 0 then gives p = 0 and a correction
// of 0 instead of NaN. The max is clamped, the exponents capped at 0 and the
// sum compensated (row_comp) as online_softmax.cuh describes; COMPENSATED =
// false adds it plainly (row_comp unused) for rows short enough not to need
// it (prefill_params.h kPrefillPlainMaxKeys).
template <int N_TILES, bool COMPENSATED = true>
__device__ __forceinline__ void online_softmax_tile(float (&s)[N_TILES][4], float (&row_max)[2],
                                                    float (&row_sum)[2], float (&row_comp)[2], float scale_log2,
                                                    float (&correction)[2]) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < N_TILES; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * h], s[nt][2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float new_max = clamp_running_max(fmaxf(row_max[h], mx * scale_log2));
        const float ref = new_max == -INFINITY ? 0.f : new_max;
        correction[h] = fast_exp2(row_max[h] - ref);
        row_max[h] = new_max;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < N_TILES; ++nt) {
            const float a = fast_exp2(softmax_exponent(fmaf(s[nt][2 * h], scale_log2, -ref)));
            const float b = fast_exp2(softmax_exponent(fmaf(s[nt][2 * h + 1], scale_log2, -ref)));
            s[nt][2 * h] = a;
            s[nt][2 * h + 1] = b;
            sum += a + b;
        }
        if constexpr (COMPENSATED) {
            row_sum[h] *= correction[h];
            row_comp[h] *= correction[h];
            compensated_add(row_sum[h], row_comp[h], sum);
        } else {
            row_sum[h] = fmaf(row_sum[h], correction[h], sum);
        }
    }
}

// Output accumulators (same fragment, D_TILES n8 tiles) times correction[h].
template <int D_TILES>
__device__ __forceinline__ void rescale_rows(float (&o)[D_TILES][4], const float (&correction)[2]) {
#pragma unroll
    for (int dt = 0; dt < D_TILES; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[dt][e] *= correction[e >> 1];
}

// The whole row's sum from the four threads that hold it.
__device__ __forceinline__ float row_total(float partial_sum) {
    partial_sum += __shfl_xor_sync(0xffffffffu, partial_sum, 1);
    partial_sum += __shfl_xor_sync(0xffffffffu, partial_sum, 2);
    return partial_sum;
}

// 1 / sum, or 0 for a row that saw no key (its output is 0).
__device__ __forceinline__ float row_inverse(float sum) { return sum > 0.f ? 1.f / sum : 0.f; }

// lse of a row from its max (log2 units) and total sum; -inf when it saw no key.
__device__ __forceinline__ float row_lse(float row_max, float sum) {
    return sum > 0.f ? row_max * kLn2 + logf(sum) : -INFINITY;
}

}  // namespace cuda
}  // namespace pattn
