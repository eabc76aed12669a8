// The merge_states kernel: (o_a, lse_a) + (o_b, lse_b) -> (o_out, lse_out)
// with natural-log lse, as FlashInfer's merge_state. One warp per
// (d0, d1, head) row; lanes walk head_dim. o_out / lse_out may alias the
// a-side inputs: every element is read before it is written by the same
// thread, and the row's lse is written only after the whole warp read it.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "attention_args.h"
#include "common/convert.cuh"

namespace pattn {
namespace cuda {
namespace merge_detail {

constexpr int kWarps = 4;

template <typename T>
__global__ void __launch_bounds__(kWarps * 32) merge_states_kernel(const MergeArgs a) {
    const float kNegInf = -__int_as_float(0x7f800000);
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

    const float m = fmaxf(lse_a, lse_b);
    const bool empty = m == kNegInf || m != m;  // NaN lse is treated as empty, too
    float w_a = 0.f, w_b = 0.f, lse = kNegInf;
    if (!empty) {
        w_a = expf(lse_a - m);
        w_b = expf(lse_b - m);
        const float sum = w_a + w_b;
        lse = m + logf(sum);
        w_a /= sum;
        w_b /= sum;
    }

    const T* oa = static_cast<const T*>(a.o_a) + i0 * a.o_a_stride[0] + i1 * a.o_a_stride[1] + h * a.o_a_stride[2];
    const T* ob = static_cast<const T*>(a.o_b) + i0 * a.o_b_stride[0] + i1 * a.o_b_stride[1] + h * a.o_b_stride[2];
    T* oo = static_cast<T*>(a.o_out) + i0 * a.o_out_stride[0] + i1 * a.o_out_stride[1] + h * a.o_out_stride[2];
    for (int e = lane; e < a.head_dim; e += 32) {
        // A side of weight 0 contributes nothing, even if its o is not finite.
        float x = 0.f;
        if (w_a > 0.f) x = w_a * Convert<T>::to_float(oa[e]);
        if (w_b > 0.f) x = fmaf(w_b, Convert<T>::to_float(ob[e]), x);
        oo[e] = Convert<T>::from_float(x);
    }
    if (lane == 0)
        a.lse_out[i0 * a.lse_out_stride[0] + i1 * a.lse_out_stride[1] + h * a.lse_out_stride[2]] = lse;
}

}  // namespace merge_detail
}  // namespace cuda
}  // namespace pattn
