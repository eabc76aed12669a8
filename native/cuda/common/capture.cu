// CUDA-graph capture helpers (capture.h).
#include "capture.h"

#include <cstdint>
#include <cstring>

#include "cuda_check.h"
#include "errors.h"
#include "placement.h"

namespace pattn {
namespace cuda {
namespace {

struct UploadChunk {
    uint32_t* dst;
    uint32_t words;
    uint32_t data[kParamUploadBytes / 4];
};
static_assert(sizeof(UploadChunk) <= 4000, "kernel parameters are limited to 4 KB (CUDA 11.x)");

__global__ void upload_chunk_kernel(const UploadChunk chunk) {
    for (uint32_t i = threadIdx.x; i < chunk.words; i += blockDim.x) chunk.dst[i] = chunk.data[i];
}

// The capture status check_stream_device learned for this thread's current
// call (placement.h), so that the backends' query_capture does not ask the
// runtime a second time.
struct StreamAnswer {
    bool valid = false;
    bool capturing = false;
    cudaStream_t stream = nullptr;
};
thread_local StreamAnswer t_answer;

// cudaStreamGetCaptureInfo and the two refusals of query_capture (capture.h).
// `unknown_stream_is_argument`: an error on an explicit handle means the
// runtime does not know the stream (INVALID_ARGUMENT naming it).
pattn_status ask_capture(cudaStream_t stream, bool* capturing, bool unknown_stream_is_argument) {
    *capturing = false;
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    unsigned long long id = 0;
    const cudaError_t e = cudaStreamGetCaptureInfo(stream, &status, &id);
    if (e == cudaErrorStreamCaptureImplicit) {
        (void)cudaGetLastError();
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "stream",
                                  "stream = NULL (the legacy default stream) while another stream of this "
                                  "device is being captured into a CUDA graph: work on it would invalidate "
                                  "that capture; pass the capturing stream (or a non-blocking stream)");
    }
    if (e != cudaSuccess && unknown_stream_is_argument) {
        (void)cudaGetLastError();
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "stream = %p is not a CUDA stream the runtime knows (%s)",
                         static_cast<void*>(stream), cudaGetErrorName(e));
    }
    if (e != cudaSuccess) return cuda_error(e, "cudaStreamGetCaptureInfo");
    if (status == cudaStreamCaptureStatusInvalidated)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "stream",
                                  "stream is in a CUDA-graph capture that was already invalidated by "
                                  "earlier work; end that capture (cudaStreamEndCapture) and start again");
    *capturing = status == cudaStreamCaptureStatusActive;
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status query_capture(cudaStream_t stream, bool* capturing) {
    if (t_answer.valid && t_answer.stream == stream) {
        *capturing = t_answer.capturing;
        return PATTN_STATUS_SUCCESS;
    }
    return ask_capture(stream, capturing, false);
}

CaptureScope::CaptureScope(bool capturing) : active_(capturing), previous_(cudaStreamCaptureModeRelaxed) {
    if (active_) {
        previous_ = cudaStreamCaptureModeRelaxed;
        if (cudaThreadExchangeStreamCaptureMode(&previous_) != cudaSuccess) {
            (void)cudaGetLastError();
            active_ = false;
        }
    }
}

CaptureScope::~CaptureScope() {
    if (active_) cudaThreadExchangeStreamCaptureMode(&previous_);
}

pattn_status upload_by_kernel(void* dst, const void* src, size_t bytes, cudaStream_t stream, const char* what) {
    const unsigned char* from = static_cast<const unsigned char*>(src);
    unsigned char* to = static_cast<unsigned char*>(dst);
    for (size_t done = 0; done < bytes; done += kParamUploadBytes) {
        const size_t n = bytes - done < kParamUploadBytes ? bytes - done : kParamUploadBytes;
        UploadChunk chunk;
        chunk.dst = reinterpret_cast<uint32_t*>(to + done);
        chunk.words = static_cast<uint32_t>(n / 4);
        std::memcpy(chunk.data, from + done, n);
        upload_chunk_kernel<<<1, 256, 0, stream>>>(chunk);
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return cuda_error(e, what);
    }
    return PATTN_STATUS_SUCCESS;
}

}  // namespace cuda

// One cudaStreamGetCaptureInfo, then (not capturing, an explicit handle,
// CUDA 12.8+) one cudaStreamGetDevice; the capture answer is kept for the
// call (placement.h). NULL / cudaStreamLegacy / cudaStreamPerThread name the
// current device's stream, which the caller made the tensors' device.
pattn_status check_stream_device(void* stream_ptr, int32_t device_id) {
    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
    const bool named_by_device = stream_ptr == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread;
    cuda::t_answer.valid = false;
    bool capturing = false;
    pattn_status s = cuda::ask_capture(stream, &capturing, !named_by_device);
    if (s != PATTN_STATUS_SUCCESS) return s;
#if CUDART_VERSION >= 12080
    // A capturing stream may not be asked for its device (that would
    // invalidate the caller's capture), so it is not checked.
    if (!named_by_device && !capturing) {
        int stream_device = -1;
        const cudaError_t e = cudaStreamGetDevice(stream, &stream_device);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return set_error(PATTN_STATUS_INVALID_ARGUMENT, "stream = %p is not a CUDA stream the runtime knows (%s)",
                             stream_ptr, cudaGetErrorName(e));
        }
        if (stream_device != device_id)
            return set_error(PATTN_STATUS_DEVICE_MISMATCH,
                             "stream = %p belongs to CUDA device %d but the tensors are on CUDA device %d", stream_ptr,
                             stream_device, (int)device_id);
    }
#else
    (void)device_id;
#endif
    cuda::t_answer.valid = true;
    cuda::t_answer.capturing = capturing;
    cuda::t_answer.stream = stream;
    return PATTN_STATUS_SUCCESS;
}

void forget_stream_check() { cuda::t_answer.valid = false; }

}  // namespace pattn
