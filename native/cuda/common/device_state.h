// One record per CUDA device, filled on first use and kept for the process
// lifetime: the properties the host code needs (read once), the library's
// stream-ordered memory pool, and the per-kernel values worth computing only
// once per device (shared-memory opt-ins, occupancy, capability checks).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <mutex>

#include "paddedattn.h"

namespace pattn {
namespace cuda {

class DeviceState {
public:
    static constexpr int kMaxKernelValues = 2048;

    int device = -1;
    int sm_count = 1;
    int cc_major = 0, cc_minor = 0;
    int smem_optin = 0;           // bytes of shared memory a block may opt into
    // The library's pool: keeps up to kPoolKeepBytes reserved across
    // synchronizations (the device's default pool returns everything to the
    // driver at each one, so every call would map memory again) and leaves
    // the default pool, which the application may tune, alone. Null when
    // pools are not supported: then the device's current pool serves.
    cudaMemPool_t pool = nullptr;
    static constexpr unsigned long long kPoolKeepBytes = 256ull << 20;

    // Per-kernel values; 0 means "not computed yet". `slot` comes from
    // reserve_kernel_values (a slot < 0 is never cached).
    int cached(int slot) const {
        return slot >= 0 ? values_[slot].load(std::memory_order_relaxed) : 0;
    }
    void cache(int slot, int value) {
        if (slot >= 0) values_[slot].store(value, std::memory_order_relaxed);
    }

    // Opts `kernel` into `bytes` of dynamic shared memory on this device
    // unless it already holds at least that much (`slot` remembers the
    // grant; the opt-in only ever grows, so launches captured earlier with
    // more stay valid). The device must be current.
    cudaError_t opt_in_shared_memory(int slot, const void* kernel, int bytes);

    // Stream-ordered allocation from `pool` (or the current pool).
    cudaError_t malloc_async(void** ptr, size_t bytes, cudaStream_t stream) const;

private:
    std::atomic<int> values_[kMaxKernelValues] = {};
    std::mutex opt_in_mutex_;
};

// The record of `device` (created on first use), or null with the status
// and message set.
DeviceState* device_state(int device, pattn_status* status);

// Reserves `count` consecutive slots of DeviceState's per-kernel values and
// returns the first; -1 when the table is full (values then go uncached).
// Call it from a function-local static of the kernel's template, once.
int reserve_kernel_values(int count);

}  // namespace cuda
}  // namespace pattn
