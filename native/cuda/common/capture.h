// CUDA-graph capture: how a call learns that its stream is being captured,
// and the one way host data reaches the device inside a capture.
//
// Inside a capture nothing may read host memory at replay time through a
// buffer another call could reuse (the prefill work-list staging), copy from
// pageable memory, or wait for / query an event of the capture. So every
// call that has host-side tables (host lengths of large batches) does this
// while capturing: the tables travel in the parameters of small copy kernels
// (captured by value, like every kernel parameter) into memory allocated
// from the stream (an allocation node owned by the graph), and the kernels
// read them from there as they read device lengths. docs/native-api.md,
// "CUDA graphs", states the contract.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "paddedattn.h"

namespace pattn {
namespace cuda {

// Whether `stream` is being captured (cudaStreamGetCaptureInfo). Refuses,
// before anything touches a stream, the legacy default stream (NULL) while
// another stream is capturing: work on it would invalidate that capture.
pattn_status query_capture(cudaStream_t stream, bool* capturing);

// While capturing, the thread's capture mode is relaxed for the duration of
// one call, so that first-use setup (a memory pool, function attributes) is
// not refused as "unsafe" under the global mode (torch.cuda.graph's
// default); nothing of it touches the capturing stream.
class CaptureScope {
public:
    explicit CaptureScope(bool capturing);
    ~CaptureScope();
    CaptureScope(const CaptureScope&) = delete;
    CaptureScope& operator=(const CaptureScope&) = delete;

private:
    bool active_;
    cudaStreamCaptureMode previous_;
};

// Copies `bytes` (a multiple of 4) of host memory to device `dst` on
// `stream` through the parameters of copy kernels (up to
// kParamUploadBytes per launch): capturable, and `src` may be reused as soon
// as this returns. For the small tables of one call (lengths).
constexpr size_t kParamUploadBytes = 3968;
pattn_status upload_by_kernel(void* dst, const void* src, size_t bytes, cudaStream_t stream, const char* what);

}  // namespace cuda
}  // namespace pattn
