// Internal: the Hopper (sm_90a, wgmma) prefill path for head_dim 64, 128 and
// 256, its tile shape, and how the dispatch tells whether it can run
// (prefill_hopper_kernel.cuh).
#pragma once

#include <cuda_runtime.h>

#include "paddedattn.h"
#include "prefill_params.h"

namespace pattn {
namespace cuda {

// Packed query rows per block and keys per KV tile of the Hopper kernels
// (the host builds tiles and work items with these; the kernel traits in
// prefill_hopper_kernel.cuh use the same numbers). At head_dim 256 the
// 128-column f32 output per thread leaves room for 64-key score tiles only.
constexpr int prefill_hopper_block_m(int /*head_dim*/) { return 128; }
constexpr int prefill_hopper_block_n(int head_dim) { return head_dim == 256 ? 64 : 128; }

// True when the current device is compute capability 9.0 and the library
// holds the sm_90a image of the kernel for (HEAD_DIM, T) (decided once per
// device).
template <int HEAD_DIM, typename T>
bool prefill_hopper_ready();

// Launches the Hopper kernel on the tiles / work items of `params`, built
// with prefill_hopper_block_m rows per tile.
template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_prefill_hopper(const PrefillParams& params, int num_blocks, cudaStream_t stream);

}  // namespace cuda
}  // namespace pattn
