// Block-level synchronisation of the warp-specialised Hopper kernels
// (sm_90): shared-memory mbarriers (init, arrive, parity wait, arrive on
// completion of a thread's cp.async copies), named barriers over part of the
// block, and setmaxnreg (sm_90a) to move registers between warpgroups.
// Addresses are 32-bit shared addresses (ptx.cuh smem_addr).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace pattn {
namespace cuda {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

// Expects `count` arrivals per phase; phase 0 starts incomplete.
__device__ __forceinline__ void mbarrier_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Makes the initialised barriers visible to the other threads (and to the
// asynchronous arrivals of cp.async) before the block-wide barrier after it.
__device__ __forceinline__ void mbarrier_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival (release semantics: this thread's earlier accesses happen before).
__device__ __forceinline__ void mbarrier_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// One arrival once every cp.async this thread issued so far has landed; the
// barrier's expected count must include it (noinc).
__device__ __forceinline__ void cp_async_mbarrier_arrive(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the phase of parity `parity` has completed (acquire). On a
// fresh barrier parity 1 counts as completed (the phase before phase 0), so
// a producer's first wait for an empty stage passes at once.
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity) {
    asm volatile(
        "{\n"
        ".reg .pred P1;\n"
        "LAB_WAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 P1, [%0], %1;\n"
        "@!P1 bra LAB_WAIT;\n"
        "}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}

// Named barrier `id` (1..15; 0 is __syncthreads) over `threads` threads
// (a multiple of 32): sync waits for all of them, arrive only counts this warp.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

#endif  // __CUDA_ARCH__ >= 900

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Per-thread register budget of the executing warpgroup (all its threads
// execute it; REGS a multiple of 8 in 24..256). Takes effect only in a
// kernel with a register cap at entry (__launch_bounds__(threads, 1)).
template <int REGS>
__device__ __forceinline__ void setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
template <int REGS>
__device__ __forceinline__ void setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
#endif  // __CUDA_ARCH_FEAT_SM90_ALL

}  // namespace cuda
}  // namespace pattn
