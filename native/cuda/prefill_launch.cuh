// The launch of the prefill kernels for one (head_dim, element type, causal);
// included only by the instantiation files prefill_<dtype>_hdim<d>.cu.
#pragma once

#include "cuda_check.h"
#include "errors.h"
#include "prefill_kernel.cuh"
#include "prefill_params.h"

namespace pattn {
namespace cuda {
namespace prefill_detail {

template <class Tr, typename T, bool CAUSAL, bool PLAIN, class Rows, bool TILE_SUMS = false>
pattn_status launch_prefill_kernel(const PrefillParams& params, const Rows& rows, int num_blocks,
                                   DeviceState& device, cudaStream_t stream) {
    auto kernel = prefill_kernel<Tr, T, CAUSAL, PLAIN, Rows, TILE_SUMS>;
    // Above 48 KB of dynamic shared memory needs an explicit opt-in (once per device and kernel).
    static const int opt_in_slot = reserve_kernel_values(1);
    constexpr int smem_bytes = Tr::SMEM_BYTES + (TILE_SUMS ? Tr::FLUSH_BYTES : 0);
    PATTN_CUDA_TRY(device.opt_in_shared_memory(opt_in_slot, reinterpret_cast<const void*>(kernel), smem_bytes));
    kernel<<<num_blocks, Tr::THREADS, smem_bytes, stream>>>(params, rows);
    PATTN_CUDA_TRY(cudaGetLastError());
    return PATTN_STATUS_SUCCESS;
}

// The plain kernel of tile shape Tr, its rows in PrefillParams or in large_rows.
template <class Tr, typename T, bool CAUSAL>
pattn_status launch_plain_rows(const PrefillParams& params, const PrefillLargeRows* large_rows, int num_blocks,
                               DeviceState& device, cudaStream_t stream) {
    if (large_rows != nullptr) {
        // A kernel with more than 4 KB of parameters needs CUDA 12.1+ to
        // compile; the host asks for it only where runtime and driver allow.
#if CUDART_VERSION >= 12010
        return launch_prefill_kernel<Tr, T, CAUSAL, true>(params, *large_rows, num_blocks, device, stream);
#else
        return set_error(PATTN_STATUS_INTERNAL_ERROR,
                         "prefill: rows by value in 32 KB kernel parameters asked for where this build "
                         "(CUDA runtime %d) has no such kernel", (int)CUDART_VERSION);
#endif
    }
    return launch_prefill_kernel<Tr, T, CAUSAL, true>(params, PrefillNoLargeRows{0}, num_blocks, device, stream);
}

// The plain kernel of tile shape Tr with its staged (K, V) slots
// (prefill_plain_kv_stages), or one stage where `single_stage`, its rows in
// PrefillParams or in large_rows.
template <class Tr0, typename T, bool CAUSAL>
pattn_status launch_plain(const PrefillParams& params, const PrefillLargeRows* large_rows, bool single_stage,
                          int num_blocks, DeviceState& device, cudaStream_t stream) {
    constexpr int STAGES = prefill_plain_kv_stages(Tr0::HEAD_DIM, Tr0::BLOCK_M);
    if constexpr (STAGES > 1) {
        if (!single_stage)
            return launch_plain_rows<StagedTraits<Tr0, STAGES>, T, CAUSAL>(params, large_rows, num_blocks, device,
                                                                           stream);
    }
    return launch_plain_rows<Tr0, T, CAUSAL>(params, large_rows, num_blocks, device, stream);
}

}  // namespace prefill_detail

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_prefill(const PrefillParams& params, const PrefillLargeRows* large_rows, bool plain,
                            bool short_tiles, bool tile_sums, bool single_stage, int num_blocks, DeviceState& device,
                            cudaStream_t stream) {
    using Tr = typename prefill_detail::TraitsFor<HEAD_DIM>::type;
    static_assert(Tr::BLOCK_M == prefill_block_m(HEAD_DIM), "host and kernel tile rows differ");
    static_assert(Tr::BLOCK_N == prefill_block_n(HEAD_DIM), "host and kernel tile keys differ");
    if (num_blocks <= 0) return PATTN_STATUS_SUCCESS;
    if ((large_rows != nullptr || short_tiles) && !plain)
        return set_error(PATTN_STATUS_INTERNAL_ERROR, "prefill: large rows / short tiles asked for the general kernel");
    if (tile_sums && plain)
        return set_error(PATTN_STATUS_INTERNAL_ERROR, "prefill: tile sums asked for the plain kernel");
    if constexpr (prefill_has_short_tiles(HEAD_DIM)) {
        using ShortTr = typename prefill_detail::ShortTraitsFor<HEAD_DIM>::type;
        static_assert(ShortTr::BLOCK_M == kPrefillShortBlockM, "host and kernel short tile rows differ");
        static_assert(ShortTr::BLOCK_N == prefill_block_n(HEAD_DIM), "host and kernel tile keys differ");
        if (short_tiles)
            return prefill_detail::launch_plain<ShortTr, T, CAUSAL>(params, large_rows, single_stage, num_blocks, device,
                                                                     stream);
    }
    if (short_tiles)
        return set_error(PATTN_STATUS_INTERNAL_ERROR, "prefill: no short tiles at head_dim %d", HEAD_DIM);
    if (plain)
        return prefill_detail::launch_plain<Tr, T, CAUSAL>(params, large_rows, single_stage, num_blocks, device, stream);
    // Devices with less shared memory per block than the flush buffer needs
    // (sm_86 / sm_89: 99 KB, at head_dim >= 80) run long rows without it,
    // with the accuracy docs/semantics.md "Limits" gives for that case.
    if (tile_sums && Tr::SMEM_BYTES + Tr::FLUSH_BYTES <= device.smem_optin)
        return prefill_detail::launch_prefill_kernel<Tr, T, CAUSAL, false, PrefillNoLargeRows, true>(
            params, PrefillNoLargeRows{0}, num_blocks, device, stream);
    return prefill_detail::launch_prefill_kernel<Tr, T, CAUSAL, false>(params, PrefillNoLargeRows{0}, num_blocks,
                                                                      device, stream);
}

}  // namespace cuda
}  // namespace pattn

// Explicit instantiation of both mask kinds of one (head_dim, element type).
#define PATTN_INSTANTIATE_PREFILL(HEAD_DIM, T)                                                         \
    template pattn_status pattn::cuda::launch_prefill<HEAD_DIM, T, false>(                             \
        const pattn::cuda::PrefillParams&, const pattn::cuda::PrefillLargeRows*, bool, bool, bool, bool, int, \
        pattn::cuda::DeviceState&, cudaStream_t);                                                        \
    template pattn_status pattn::cuda::launch_prefill<HEAD_DIM, T, true>(                              \
        const pattn::cuda::PrefillParams&, const pattn::cuda::PrefillLargeRows*, bool, bool, bool, bool, int, \
        pattn::cuda::DeviceState&, cudaStream_t);
