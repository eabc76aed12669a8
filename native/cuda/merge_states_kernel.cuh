// The merge_states kernel: (o_a, lse_a) + (o_b, lse_b) -> (o_out, lse_out)
// with natural-log lse, as FlashInfer's merge_state. One warp per
// (d0, d1, head) row; lanes walk head_dim; the weights (and what NaN and
// +-inf lse mean) come from core/merge_rule.h. o_out / lse_out may be
// exactly o_a or o_b / lse_a or lse_b: every element is read before it is written by the same
// thread, and the row's lse is written only after the whole warp read it.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "attention_args.h"
#include "common/convert.cuh"
#include "merge_rule.h"

namespace pattn {
namespace cuda {
namespace merge_detail {

constexpr int kWarps = 4;

template <typename T>
__global__ void __launch_bounds__(kWarps * 32) merge_states_kernel(const MergeArgs a) {
    const int lane = threadIdx.x % 32;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int64_t rows = a.d0 * a.d1 * a.num_heads;
    if (row >= rows) return;
    const int64_t h = row % a.num_heads;
    const int64_t i1 = (row / a.num_heads) % a.d1;
    const int64_t i0 = row / (a.num_heads * a.d1);

    const float lse_a = a.lse_a[i0 * a.lse_a_stride[0] + i1 * a.lse_a_stride[1] + h * a.lse_a_stride[2]];
    const float lse_b = a.lse_b[i0 * a.lse_b_stride[0] + i1 * a.lse_b_stride[1] + h * a.lse_b_stride[2]];
    __syncwarp();  // lse_out may be lse_a: every lane has read it

    const MergeWeights w = merge_weights(lse_a, lse_b);  // core/merge_rule.h
    const float nan = __int_as_float(0x7fc00000);

    const T* oa = static_cast<const T*>(a.o_a) + i0 * a.o_a_stride[0] + i1 * a.o_a_stride[1] + h * a.o_a_stride[2];
    const T* ob = static_cast<const T*>(a.o_b) + i0 * a.o_b_stride[0] + i1 * a.o_b_stride[1] + h * a.o_b_stride[2];
    T* oo = static_cast<T*>(a.o_out) + i0 * a.o_out_stride[0] + i1 * a.o_out_stride[1] + h * a.o_out_stride[2];
    for (int e = lane; e < a.head_dim; e += 32) {
        // A side of weight 0 contributes nothing, even if its o is not finite.
        float x = 0.f;
        if (w.w_a > 0.f) x = w.w_a * Convert<T>::to_float(oa[e]);
        if (w.w_b > 0.f) x = fmaf(w.w_b, Convert<T>::to_float(ob[e]), x);
        if (w.o_is_nan) x = nan;
        oo[e] = Convert<T>::from_float(x);
    }
    if (lane == 0)
        a.lse_out[i0 * a.lse_out_stride[0] + i1 * a.lse_out_stride[1] + h * a.lse_out_stride[2]] = w.lse;
}

}  // namespace merge_detail
}  // namespace cuda
}  // namespace pattn
