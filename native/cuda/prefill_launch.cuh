// The launch of the prefill kernel for one (head_dim, element type, causal);
// included only by the instantiation files prefill_<dtype>_hdim<d>.cu.
#pragma once

#include "cuda_check.h"
#include "errors.h"
#include "prefill_kernel.cuh"
#include "prefill_params.h"

namespace pattn {
namespace cuda {

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_prefill(const PrefillParams& params, int num_blocks, DeviceState& device,
                            cudaStream_t stream) {
    using Tr = typename prefill_detail::TraitsFor<HEAD_DIM>::type;
    static_assert(Tr::BLOCK_M == prefill_block_m(HEAD_DIM), "host and kernel tile rows differ");
    static_assert(Tr::BLOCK_N == prefill_block_n(HEAD_DIM), "host and kernel tile keys differ");
    if (num_blocks <= 0) return PATTN_STATUS_SUCCESS;
    auto kernel = prefill_detail::prefill_kernel<Tr, T, CAUSAL>;
    // Above 48 KB of dynamic shared memory needs an explicit opt-in (once per device).
    static const int opt_in_slot = reserve_kernel_values(1);
    PATTN_CUDA_TRY(device.opt_in_shared_memory(opt_in_slot, reinterpret_cast<const void*>(kernel), Tr::SMEM_BYTES));
    kernel<<<num_blocks, Tr::THREADS, Tr::SMEM_BYTES, stream>>>(params);
    PATTN_CUDA_TRY(cudaGetLastError());
    return PATTN_STATUS_SUCCESS;
}

}  // namespace cuda
}  // namespace pattn

// Explicit instantiation of both mask kinds of one (head_dim, element type).
#define PATTN_INSTANTIATE_PREFILL(HEAD_DIM, T)                                                         \
    template pattn_status pattn::cuda::launch_prefill<HEAD_DIM, T, false>(                             \
        const pattn::cuda::PrefillParams&, int, pattn::cuda::DeviceState&, cudaStream_t);                \
    template pattn_status pattn::cuda::launch_prefill<HEAD_DIM, T, true>(                              \
        const pattn::cuda::PrefillParams&, int, pattn::cuda::DeviceState&, cudaStream_t);
