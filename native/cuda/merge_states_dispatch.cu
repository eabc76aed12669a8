// pattn::cuda::merge_states: launches merge_states_kernel.cuh for the o
// element type. The parameters are MergeArgs (attention_args.h) as they
// are; the three instantiations are small enough to live here.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "attention_args.h"
#include "backends.h"
#include "cuda_check.h"
#include "errors.h"
#include "merge_states_kernel.cuh"

namespace pattn {
namespace cuda {

pattn_status merge_states(const MergeArgs& a, void* stream_ptr) {
    using namespace merge_detail;
    const int64_t rows = a.d0 * a.d1 * a.num_heads;
    if (rows == 0 || a.head_dim == 0) return PATTN_STATUS_SUCCESS;
    const int64_t blocks = (rows + kWarps - 1) / kWarps;
    if (blocks > 0x7fffffffLL)
        return set_error(PATTN_STATUS_UNSUPPORTED, "merge_states: %lld rows is too many for one launch",
                         static_cast<long long>(rows));
    // The caller (api.cpp) has made a.device_id current.
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
