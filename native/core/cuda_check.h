// Internal, CUDA builds only: turning cudaError_t into a status plus message,
// and making a device current for the duration of a call.
#pragma once

#include <cuda_runtime.h>

#include "errors.h"

namespace pattn {

inline pattn_status cuda_error(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return PATTN_STATUS_SUCCESS;
    pattn_status s = PATTN_STATUS_CUDA_ERROR;
    if (e == cudaErrorMemoryAllocation) s = PATTN_STATUS_OUT_OF_MEMORY;
    if (e == cudaErrorNoDevice || e == cudaErrorInvalidDevice || e == cudaErrorInsufficientDriver)
        s = PATTN_STATUS_NO_DEVICE;
    return set_error(s, "%s failed: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

// Makes `device` current and restores the caller's device on scope exit, so
// the library never leaves a changed current device behind.
class ScopedDevice {
public:
    explicit ScopedDevice(int device) {
        if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
        status_ = (previous_ == device) ? cudaSuccess : cudaSetDevice(device);
    }
    ~ScopedDevice() {
        if (previous_ >= 0) cudaSetDevice(previous_);
    }
    cudaError_t status() const { return status_; }
    ScopedDevice(const ScopedDevice&) = delete;
    ScopedDevice& operator=(const ScopedDevice&) = delete;

private:
    int previous_ = -1;
    cudaError_t status_ = cudaSuccess;
};

}  // namespace pattn

// Returns from the enclosing function (which returns pattn_status) on error.
#define PATTN_CUDA_TRY(call)                                              \
    do {                                                                  \
        cudaError_t pattn_e_ = (call);                                    \
        if (pattn_e_ != cudaSuccess) return ::pattn::cuda_error(pattn_e_, #call); \
    } while (0)
