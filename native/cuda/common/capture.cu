// CUDA-graph capture helpers (capture.h).
#include "capture.h"

#include <cstdint>
#include <cstring>

#include "cuda_check.h"
#include "errors.h"

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

}  // namespace

pattn_status query_capture(cudaStream_t stream, bool* capturing) {
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
    if (e != cudaSuccess) return cuda_error(e, "cudaStreamGetCaptureInfo");
    if (status == cudaStreamCaptureStatusInvalidated)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "stream",
                                  "stream is in a CUDA-graph capture that was already invalidated by "
                                  "earlier work; end that capture (cudaStreamEndCapture) and start again");
    *capturing = status == cudaStreamCaptureStatusActive;
    return PATTN_STATUS_SUCCESS;
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
}  // namespace pattn
