// pattn::cuda::merge_states: (o_a, lse_a) + (o_b, lse_b) -> (o_out, lse_out)
// with natural-log lse, as FlashInfer's merge_state. One warp per
// (d0, d1, head) row; lanes walk head_dim. o_out / lse_out may alias the
// a-side inputs: every element is read before it is written by the same
// thread, and the row's lse is written only after the whole warp read it.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "attention_args.h"
#include "backends.h"
#include "cuda_check.h"
#include "errors.h"

namespace pattn {
namespace cuda {
namespace merge_detail {

template <typename T>
struct Elem;
template <>
struct Elem<float> {
    static __device__ __forceinline__ float load(const float* p) { return *p; }
    static __device__ __forceinline__ void store(float* p, float x) { *p = x; }
};
template <>
struct Elem<__half> {
    static __device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }
    static __device__ __forceinline__ void store(__half* p, float x) { *p = __float2half_rn(x); }
};
template <>
struct Elem<__nv_bfloat16> {
    static __device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
    static __device__ __forceinline__ void store(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }
};

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
        if (w_a > 0.f) x = w_a * Elem<T>::load(oa + e);
        if (w_b > 0.f) x = fmaf(w_b, Elem<T>::load(ob + e), x);
        Elem<T>::store(oo + e, x);
    }
    if (lane == 0)
        a.lse_out[i0 * a.lse_out_stride[0] + i1 * a.lse_out_stride[1] + h * a.lse_out_stride[2]] = lse;
}

}  // namespace merge_detail

pattn_status merge_states(const MergeArgs& a, void* stream_ptr) {
    using namespace merge_detail;
    const int64_t rows = a.d0 * a.d1 * a.num_heads;
    if (rows == 0 || a.head_dim == 0) return PATTN_STATUS_SUCCESS;
    const int64_t blocks = (rows + kWarps - 1) / kWarps;
    if (blocks > 0x7fffffffLL)
        return set_error(PATTN_STATUS_UNSUPPORTED, "merge_states: %lld rows is too many for one launch",
                         static_cast<long long>(rows));
    ScopedDevice device(a.device_id);
    PATTN_CUDA_TRY(device.status());
    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
    const dim3 grid(static_cast<unsigned>(blocks));
    switch (a.dtype) {
        case PATTN_DTYPE_F32: merge_states_kernel<float><<<grid, kWarps * 32, 0, stream>>>(a); break;
        case PATTN_DTYPE_F16: merge_states_kernel<__half><<<grid, kWarps * 32, 0, stream>>>(a); break;
        case PATTN_DTYPE_BF16: merge_states_kernel<__nv_bfloat16><<<grid, kWarps * 32, 0, stream>>>(a); break;
        default:
            return set_error(PATTN_STATUS_UNSUPPORTED, "merge_states: o dtype = %d is not supported (f32, f16, bf16)",
                             static_cast<int>(a.dtype));
    }
    PATTN_CUDA_TRY(cudaGetLastError());
    return PATTN_STATUS_SUCCESS;
}

}  // namespace cuda
}  // namespace pattn
