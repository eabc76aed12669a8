// Host-to-device copies of small per-call tables (prefill work lists)
// through page-locked staging buffers, so that cudaMemcpyAsync never waits
// for the stream the way a pageable copy may.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "paddedattn.h"

namespace pattn {
namespace cuda {

// Copies `bytes` from host `src` to device `dst` on `stream`. `src` may be
// reused as soon as this returns. A staging buffer is reused only once the
// event recorded after its copy has completed (queried, never waited on).
// `what` names the table in error messages.
pattn_status upload_async(int device, void* dst, const void* src, size_t bytes, cudaStream_t stream,
                          const char* what);

}  // namespace cuda
}  // namespace pattn
