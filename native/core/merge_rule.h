// The merge_states rule for one state pair, in one place, for the CPU
// backend (cpu/merge_states.cpp) and the CUDA kernel
// (cuda/merge_states_kernel.cuh) alike; docs/semantics.md, "Merging
// attention states", states it for users.
//   lse = ln(exp(lse_a) + exp(lse_b)), o = w_a o_a + w_b o_b with
//   w_x = exp(lse_x - lse), computed around m = max(lse_a, lse_b).
// Non-finite lse values follow the limits of that formula:
//   - NaN on either side: o = NaN and lse = NaN (a corrupt state is never
//     hidden by the other one);
//   - -inf on one side: that side contributes nothing (weight 0, its o is
//     not read); both -inf: o = 0, lse = -inf (no key at all);
//   - +inf on exactly one side: that side takes all the weight (o = its o,
//     lse = +inf); +inf on both: lse = +inf, o = NaN (the weights have no
//     limit).
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define PATTN_MERGE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PATTN_MERGE_HOST_DEVICE inline
#endif

namespace pattn {

struct MergeWeights {
    float w_a, w_b;  // 0 means: do not read that side's o
    float lse;
    bool o_is_nan;   // write NaN to every element of o
};

PATTN_MERGE_HOST_DEVICE MergeWeights merge_weights(float lse_a, float lse_b) {
    const float inf = INFINITY;
    MergeWeights r{0.f, 0.f, -inf, false};
    if (lse_a != lse_a || lse_b != lse_b) {
        r.lse = NAN;
        r.o_is_nan = true;
        return r;
    }
    if (lse_a == inf || lse_b == inf) {
        r.lse = inf;
        if (lse_a == lse_b)
            r.o_is_nan = true;
        else if (lse_a == inf)
            r.w_a = 1.f;
        else
            r.w_b = 1.f;
        return r;
    }
    const float m = lse_a > lse_b ? lse_a : lse_b;
    if (m == -inf) return r;  // both empty
    float w_a = expf(lse_a - m);
    float w_b = expf(lse_b - m);
    const float sum = w_a + w_b;  // in [1, 2]
    r.lse = m + logf(sum);
    r.w_a = w_a / sum;
    r.w_b = w_b / sum;
    return r;
}

}  // namespace pattn
