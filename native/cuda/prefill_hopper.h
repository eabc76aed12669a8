// Internal: the Hopper (sm_90a, wgmma) prefill path for head_dim 128 and
// how the dispatch tells whether it can run (prefill_hopper_kernel.cuh).
#pragma once

#include <cuda_runtime.h>

#include "paddedattn.h"
#include "prefill_params.h"

namespace pattn {
namespace cuda {

// True when the current device is compute capability 9.0 and the library
// holds the sm_90a image of the kernel for T (decided once per device).
template <typename T>
bool prefill_hopper_ready();

// Launches the Hopper kernel (head_dim 128) on the tiles / work items of
// `params`, exactly as launch_prefill<128, T, CAUSAL> would.
template <typename T, bool CAUSAL>
pattn_status launch_prefill_hopper(const PrefillParams& params, int num_blocks, cudaStream_t stream);

}  // namespace cuda
}  // namespace pattn
