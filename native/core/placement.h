// Internal: where memory lives, as seen by the CUDA runtime. Defined in
// cuda_runtime_wrappers.cpp (CUDA builds) or cuda_runtime_unavailable.cpp
// (CPU-only builds), so that validate.cpp needs no CUDA header.
#pragma once

#include <cstdint>

#include "paddedattn.h"

namespace pattn {

// Number of CUDA devices; 0 when there is no driver, no device, or no CUDA
// in this build. Never fails.
int32_t cuda_device_count_or_zero();

// Checks that the data pointer of tensor `name` lives where its descriptor
// says: for a CUDA tensor, device (or managed) memory of `device_id`; for a
// host tensor, memory the host can read (not device-only memory). In a
// CPU-only build a CUDA tensor gives PATTN_STATUS_CUDA_NOT_BUILT. Sets the
// error message on failure.
pattn_status check_placement(const char* name, const void* ptr, bool on_cuda, int32_t device_id);

}  // namespace pattn
