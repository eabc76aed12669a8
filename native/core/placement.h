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

// Checks that `stream` (a cudaStream_t; NULL, cudaStreamLegacy and
// cudaStreamPerThread mean the current device's) belongs to CUDA device
// `device_id`, which the caller has made current, so that a call never
// launches work of one device on another device's stream, and learns
// whether the stream is being captured into a CUDA graph (refusing the
// cases common/capture.h query_capture names). The answer is kept for the
// rest of the call on this thread (query_capture returns it without asking
// the runtime again) until forget_stream_check. Runtimes older than CUDA
// 12.8 cannot ask a stream for its device, and a stream in capture cannot be
// asked either: there the device check passes and a foreign stream fails at
// launch with a CUDA error. Sets the error message (argument "stream") on
// failure. Defined in common/capture.cu (CUDA builds).
pattn_status check_stream_device(void* stream, int32_t device_id);
void forget_stream_check();

}  // namespace pattn
