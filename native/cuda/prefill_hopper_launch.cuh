// The launch and readiness check of the Hopper prefill kernels for one (head_dim,
// element type); included only by prefill_hopper_<dtype>_hdim<d>.cu.
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "cuda_check.h"
#include "errors.h"
#include "common/device_state.h"
#include "common/tensor_map.h"
#include "prefill_hopper_kernel.cuh"

namespace pattn {
namespace cuda {
namespace prefill_hopper_detail {

// The sm_90a image is the only one whose kernel has static shared memory
// (the other device passes compile an empty body), and only CUDA 12+ can
// build it. Cached per device: 0 unknown, 1 ready, 2 not.
template <int HEAD_DIM, typename T>
bool ready_on_device(DeviceState& device) {
#if CUDART_VERSION >= 12000
    static const int slot = reserve_kernel_values(1);
    const int known = device.cached(slot);
    if (known != 0) return known == 1;
    bool ok = false;
    if (device.cc_major == 9 && device.cc_minor == 0) {
        cudaFuncAttributes attr;
        constexpr int ml = kHopperMainloopLockStep;
        if (cudaFuncGetAttributes(&attr, prefill_hopper_kernel<HEAD_DIM, T, false, false, ml, 0>) ==
                cudaSuccess &&
            attr.sharedSizeBytes > 0 &&
            cudaFuncGetAttributes(&attr, prefill_hopper_kernel<HEAD_DIM, T, true, false, ml, 0>) ==
                cudaSuccess &&
            attr.sharedSizeBytes > 0)
            ok = true;
    }
    cudaGetLastError();  // a failed query leaves no error behind for the launch checks
    device.cache(slot, ok ? 1 : 2);
    return ok;
#else
    (void)device;
    return false;
#endif
}

template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS, int MAINLOOP, int SHORT_N = 0, int TALL_N = 0,
          bool PERSISTENT = false>
pattn_status launch_kernel(const PrefillParams& params, int num_blocks, DeviceState& device, cudaStream_t stream) {
    using Tr = HopperTraits<HEAD_DIM, SHORT_N, TALL_N>;
    constexpr int smem_bytes = Tr::kSmemBytes;
    auto kernel = prefill_hopper_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, MAINLOOP, SHORT_N, TALL_N, PERSISTENT>;
    static const int opt_in_slot = reserve_kernel_values(1);  // one per instantiation
    PATTN_CUDA_TRY(device.opt_in_shared_memory(opt_in_slot, reinterpret_cast<const void*>(kernel), smem_bytes));
    if constexpr (hopper_takes_tma<MAINLOOP, SHORT_N>()) {
        // The producer warpgroup loads full KV tiles by TMA when both maps
        // can be made (prefill_params.h PrefillTmaParams; else its cp.async copies).
        PrefillTmaParams p;
        static_cast<PrefillParams&>(p) = params;
        constexpr bool kBf16 = std::is_same<T, __nv_bfloat16>::value;
        p.tma_kv = params.tma_kv != 0 &&
                           encode_kv_tensor_map(&p.tma_k, p.k, kBf16, p.batch, p.kv_len, p.num_kv_heads, HEAD_DIM,
                                                p.k_stride_b, p.k_stride_s, p.k_stride_h, Tr::kBlockN) &&
                           encode_kv_tensor_map(&p.tma_v, p.v, kBf16, p.batch, p.kv_len, p.num_kv_heads, HEAD_DIM,
                                                p.v_stride_b, p.v_stride_s, p.v_stride_h, Tr::kBlockN)
                       ? 1
                       : 0;
        if (p.tma_kv == 0) std::memset(&p.tma_k, 0, 2 * sizeof(TensorMapStorage));
        kernel<<<num_blocks, block_threads(MAINLOOP, false), smem_bytes, stream>>>(p);
    } else if constexpr (PERSISTENT) {
        // As many blocks as the SMs hold at once (the launch bounds' count),
        // each running every gridDim.x-th of the num_blocks tiles.
        PrefillParams p = params;
        p.num_tiles = num_blocks;
        const int grid = std::min(num_blocks, device.sm_count * Tr::kMinBlocks);
        kernel<<<grid, block_threads(MAINLOOP, SHORT_N != 0), smem_bytes, stream>>>(p);
    } else {
        kernel<<<num_blocks, block_threads(MAINLOOP, SHORT_N != 0), smem_bytes, stream>>>(params);
    }
    PATTN_CUDA_TRY(cudaGetLastError());
    return PATTN_STATUS_SUCCESS;
}

// The mainloop (prefill_hopper_kernel.cuh) picked by
// PADDEDATTN_PREFILL_HOPPER_MAINLOOP (tuning.h), else the measured default.
template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS>
pattn_status launch_mainloop(const PrefillParams& params, int num_blocks, int mainloop, DeviceState& device,
                             cudaStream_t stream) {
    if (mainloop < 0) mainloop = kHopperDefaultMainloop;
    switch (mainloop) {
        case kHopperMainloopLockStep:
            return launch_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, kHopperMainloopLockStep>(params, num_blocks, device,
                                                                                        stream);
        case kHopperMainloopOverlap:
            return launch_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, kHopperMainloopOverlap>(params, num_blocks, device,
                                                                                       stream);
        case kHopperMainloopWarpSpecialized:
            return launch_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, kHopperMainloopWarpSpecialized>(params, num_blocks,
                                                                                               device, stream);
        default:
            return launch_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, kHopperMainloopPingPong>(params, num_blocks, device,
                                                                                        stream);
    }
}

// The short-row tiles (prefill_params.h kPrefillHopperShortBlockM) at the
// head_dims that have them, with `block_n` keys per KV tile; the others
// never get here with short tiles.
template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS, int SHORT_N>
pattn_status launch_short_n(const PrefillParams& params, int num_blocks, bool persistent, DeviceState& device,
                            cudaStream_t stream) {
    constexpr int ml = kHopperMainloopOverlap;
    if (persistent)
        return launch_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, ml, SHORT_N, 0, true>(params, num_blocks, device, stream);
    return launch_kernel<HEAD_DIM, T, CAUSAL, VARIANTS, ml, SHORT_N>(params, num_blocks, device, stream);
}

template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS>
pattn_status launch_short(const PrefillParams& params, int num_blocks, int block_n, bool persistent,
                          DeviceState& device, cudaStream_t stream) {
    if constexpr (prefill_hopper_has_short_tiles(HEAD_DIM)) {
        constexpr int alt = prefill_hopper_short_alt_block_n(HEAD_DIM);
        if (block_n == kPrefillHopperShortBlockN)
            return launch_short_n<HEAD_DIM, T, CAUSAL, VARIANTS, kPrefillHopperShortBlockN>(params, num_blocks,
                                                                                           persistent, device, stream);
        if (block_n == alt)
            return launch_short_n<HEAD_DIM, T, CAUSAL, VARIANTS, alt>(params, num_blocks, persistent, device, stream);
    }
    (void)params, (void)num_blocks, (void)persistent, (void)device, (void)stream;
    return set_argument_error(PATTN_STATUS_UNSUPPORTED, "head_dim",
                              "the Hopper prefill kernel has no short-row tiles of %d keys at head_dim %d", block_n,
                              HEAD_DIM);
}

// A sliding window or a soft cap takes the VARIANTS instantiation; plain
// calls (packed or padded) keep the KV loop without their checks.
template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch(const PrefillParams& params, int num_blocks, int mainloop, HopperTiles tiles, DeviceState& device,
                    cudaStream_t stream) {
    if (num_blocks <= 0) return PATTN_STATUS_SUCCESS;
    const bool variants = params.window_left >= 0 || params.window_right >= 0 || params.soft_cap_pre != 0.f;
    if (tiles.short_block_n > 0) {
        if (variants)
            return launch_short<HEAD_DIM, T, CAUSAL, true>(params, num_blocks, tiles.short_block_n, tiles.persistent,
                                                           device, stream);
        return launch_short<HEAD_DIM, T, CAUSAL, false>(params, num_blocks, tiles.short_block_n, tiles.persistent,
                                                        device, stream);
    }
    if (tiles.tall_block_n == kPrefillHopperWideBlockN) {
        // The wide KV tiles (prefill_params.h), for A/B runs: head_dim 128,
        // no causal mask, the ping-pong mainloop.
        constexpr int pp = kHopperMainloopPingPong, wide = kPrefillHopperWideBlockN;
        if constexpr (HEAD_DIM == 128 && !CAUSAL) {
            if (mainloop < 0 || mainloop == pp) {
                if (variants) return launch_kernel<HEAD_DIM, T, CAUSAL, true, pp, 0, wide>(params, num_blocks, device,
                                                                                        stream);
                return launch_kernel<HEAD_DIM, T, CAUSAL, false, pp, 0, wide>(params, num_blocks, device, stream);
            }
        }
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "head_dim",
                                  "the Hopper prefill kernel has %d-key tiles only at head_dim 128 without a causal "
                                  "mask, in its default mainloop (head_dim %d)",
                                  wide, HEAD_DIM);
    }
    if (variants) return launch_mainloop<HEAD_DIM, T, CAUSAL, true>(params, num_blocks, mainloop, device, stream);
    return launch_mainloop<HEAD_DIM, T, CAUSAL, false>(params, num_blocks, mainloop, device, stream);
}

}  // namespace prefill_hopper_detail
}  // namespace cuda
}  // namespace pattn

template <int HEAD_DIM, typename T>
bool pattn::cuda::prefill_hopper_ready(DeviceState& device) {
    return pattn::cuda::prefill_hopper_detail::ready_on_device<HEAD_DIM, T>(device);
}

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status pattn::cuda::launch_prefill_hopper(const PrefillParams& params, int num_blocks, int mainloop,
                                                HopperTiles tiles, DeviceState& device, cudaStream_t stream) {
    return pattn::cuda::prefill_hopper_detail::launch<HEAD_DIM, T, CAUSAL>(params, num_blocks, mainloop, tiles, device,
                                                                          stream);
}

// Explicit instantiation for one (head_dim, element type), both mask kinds
// (each with and without the variants).
#define PATTN_INSTANTIATE_PREFILL_HOPPER(HEAD_DIM, T)                                                       \
    template bool pattn::cuda::prefill_hopper_ready<HEAD_DIM, T>(pattn::cuda::DeviceState&);                \
    template pattn_status pattn::cuda::launch_prefill_hopper<HEAD_DIM, T, false>(                           \
        const pattn::cuda::PrefillParams&, int, int, pattn::cuda::HopperTiles, pattn::cuda::DeviceState&,    \
        cudaStream_t);                                                                                      \
    template pattn_status pattn::cuda::launch_prefill_hopper<HEAD_DIM, T, true>(                            \
        const pattn::cuda::PrefillParams&, int, int, pattn::cuda::HopperTiles, pattn::cuda::DeviceState&,    \
        cudaStream_t);    
