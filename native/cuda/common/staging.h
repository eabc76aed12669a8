// Host-to-device copies of small per-call tables (prefill host lengths and
// work lists) through page-locked staging memory, so that cudaMemcpyAsync
// never waits for the stream the way a pageable copy may.
//
// Each device has one ring of page-locked memory (staging.cpp). A call
// reserves a region, fills it in place, and queues the copy, followed by an
// event; the region is reused only after that event has completed (queried,
// and only when the ring runs short). The ring grows (to 16 MB) while the
// host runs ahead of the GPU, so a burst of calls does not wait for the GPU
// until that much of its tables is in flight. Not for use inside a CUDA-graph
// capture (capture.h: the tables travel by kernel parameters there).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "paddedattn.h"

namespace pattn {
namespace cuda {

namespace staging_detail {
struct Region;
}

// A reserved region of the staging ring of one device: fill host(), then
// upload() it once; a chunk that is never uploaded is released when it goes
// out of scope.
class StagingChunk {
public:
    StagingChunk() = default;
    ~StagingChunk();
    StagingChunk(const StagingChunk&) = delete;
    StagingChunk& operator=(const StagingChunk&) = delete;

    void* host() const { return host_; }
    size_t bytes() const { return bytes_; }

    // Copies the chunk to device `dst` on `stream` and hands the region back
    // to the ring (reused once the copy has completed). The device of the
    // reservation must be current.
    pattn_status upload(void* dst, cudaStream_t stream, const char* what);

private:
    friend pattn_status reserve_staging(int device, size_t bytes, StagingChunk* chunk, const char* what);
    void* host_ = nullptr;
    size_t bytes_ = 0;
    int device_ = -1;
    staging_detail::Region* region_ = nullptr;
};

// Reserves `bytes` (> 0) of the current device `device`'s ring into an empty
// `chunk`. May wait for the GPU only when 16 MB of earlier tables are still
// in flight. `what` names the table in error messages.
pattn_status reserve_staging(int device, size_t bytes, StagingChunk* chunk, const char* what);

// Copies `bytes` from host `src` to device `dst` on `stream` through the
// ring (reserve, memcpy, upload). `src` may be reused as soon as this returns.
pattn_status upload_async(int device, void* dst, const void* src, size_t bytes, cudaStream_t stream,
                          const char* what);

}  // namespace cuda
}  // namespace pattn
