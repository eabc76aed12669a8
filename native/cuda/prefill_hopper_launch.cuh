// The launch and readiness check of the Hopper prefill kernel for one element
// type; included only by prefill_hopper_<dtype>_hdim<d>.cu.
#pragma once

#include <atomic>
#include <cstdlib>

#include "cuda_check.h"
#include "errors.h"
#include "prefill_hopper.h"
#include "prefill_hopper_kernel.cuh"

namespace pattn {
namespace cuda {
namespace prefill_hopper_detail {

// The sm_90a image is the only one whose kernel has static shared memory
// (the other device passes compile an empty body), and only CUDA 12+ can
// build it. Cached per device: 0 unknown, 1 ready, 2 not.
template <int HEAD_DIM, typename T>
bool ready_on_current_device() {
#if CUDART_VERSION >= 12000
    static std::atomic<int> cache[64];
    int device = -1;
    if (cudaGetDevice(&device) != cudaSuccess || device < 0) {
        cudaGetLastError();
        return false;
    }
    if (device < 64) {
        int known = cache[device].load(std::memory_order_relaxed);
        if (known != 0) return known == 1;
    }
    bool ok = false;
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess && major == 9 &&
        minor == 0) {
        cudaFuncAttributes attr;
        if (cudaFuncGetAttributes(&attr, prefill_hopper_kernel<HEAD_DIM, T, false, false>) == cudaSuccess &&
            attr.sharedSizeBytes > 0 &&
            cudaFuncGetAttributes(&attr, prefill_hopper_kernel<HEAD_DIM, T, true, false>) == cudaSuccess && attr.sharedSizeBytes > 0)
            ok = true;
    }
    cudaGetLastError();  // a failed query leaves no error behind for the launch checks
    if (device < 64) cache[device].store(ok ? 1 : 2, std::memory_order_relaxed);
    return ok;
#else
    return false;
#endif
}

// PADDEDATTN_PREFILL_HOPPER_OVERLAP=1 runs the main loop that overlaps the
// softmax of one KV tile with the P V product of the previous one
// (prefill_hopper_kernel.cuh, OVERLAP). Read on every call.
inline bool overlap_enabled() {
    const char* v = std::getenv("PADDEDATTN_PREFILL_HOPPER_OVERLAP");
    return v != nullptr && v[0] == '1';
}

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch(const PrefillParams& params, int num_blocks, cudaStream_t stream) {
    if (num_blocks <= 0) return PATTN_STATUS_SUCCESS;
    constexpr int smem_bytes = HopperTraits<HEAD_DIM>::kSmemBytes;
    auto kernel = overlap_enabled() ? prefill_hopper_kernel<HEAD_DIM, T, CAUSAL, true>
                                    : prefill_hopper_kernel<HEAD_DIM, T, CAUSAL, false>;
    PATTN_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes));
    kernel<<<num_blocks, kThreads, smem_bytes, stream>>>(params);
    PATTN_CUDA_TRY(cudaGetLastError());
    return PATTN_STATUS_SUCCESS;
}

}  // namespace prefill_hopper_detail
}  // namespace cuda
}  // namespace pattn

template <int HEAD_DIM, typename T>
bool pattn::cuda::prefill_hopper_ready() {
    return pattn::cuda::prefill_hopper_detail::ready_on_current_device<HEAD_DIM, T>();
}

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status pattn::cuda::launch_prefill_hopper(const PrefillParams& params, int num_blocks, cudaStream_t stream) {
    return pattn::cuda::prefill_hopper_detail::launch<HEAD_DIM, T, CAUSAL>(params, num_blocks, stream);
}

// Explicit instantiation for one (head_dim, element type), both mask kinds.
#define PATTN_INSTANTIATE_PREFILL_HOPPER(HEAD_DIM, T)                                                       \
    template bool pattn::cuda::prefill_hopper_ready<HEAD_DIM, T>();                                         \
    template pattn_status pattn::cuda::launch_prefill_hopper<HEAD_DIM, T, false>(                           \
        const pattn::cuda::PrefillParams&, int, cudaStream_t);                                              \
    template pattn_status pattn::cuda::launch_prefill_hopper<HEAD_DIM, T, true>(                            \
        const pattn::cuda::PrefillParams&, int, cudaStream_t);
