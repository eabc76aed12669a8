// Tensor-memory accelerator copies (sm_90a): a tiled box of a tensor map
// (tensor_map.h) into shared memory, completing on an mbarrier whose phase
// also waits for the copied bytes (expect_tx). Addresses are 32-bit shared
// addresses (ptx.cuh smem_addr); the map lives in kernel parameter space
// (a __grid_constant__ parameter) and is passed by its generic address.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace pattn {
namespace cuda {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// One arrival that also adds `bytes` to the transaction count the current
// phase waits for (the expectation is raised before the arrival counts).
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Box at coordinates (c0 innermost .. c3) of a 4-D map into `dst`
// (1024-byte aligned for the 128-byte swizzle); its bytes count against
// `bar`'s transaction count. Out-of-bounds elements are zero-filled.
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const void* map, int32_t c0, int32_t c1, int32_t c2,
                                            int32_t c3, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
        "%5}], [%6];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
        : "memory");
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

}  // namespace cuda
}  // namespace pattn
