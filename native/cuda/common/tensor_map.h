// Tensor maps for the tensor-memory accelerator (TMA, sm_90): the Hopper
// prefill kernel's 128-row tiles load full K/V tiles with them
// (prefill_hopper_kernel.cuh, the producer warpgroup). Host-only and free of
// CUDA types, so that PrefillParams (prefill_params.h) can hold the maps in
// every build; they are only encoded by CUDA 12+ (tensor_map.cpp).
#pragma once

#include <cstdint>

namespace pattn {
namespace cuda {

// The 128 opaque, 64-byte aligned bytes of a CUtensorMap.
struct alignas(64) TensorMapStorage {
    uint64_t words[16];
};

// A K or V tensor [batch][seq][heads][head_dim] (element strides; the last
// dimension contiguous, stride_b 0 for the packed layout, whose batch
// coordinate is then 0) read in boxes of `box_rows` sequence rows x 64
// elements (128 bytes) of one head, stored in shared memory with the
// 128-byte swizzle: the layout prefill_hopper_kernel.cuh tile_offset
// describes for one 64-column block. Returns false where no map can be made
// (CUDA older than 12, no driver entry point, a shape or stride the hardware
// does not take); the caller then keeps its cp.async loads.
bool encode_kv_tensor_map(TensorMapStorage* map, const void* base, bool bf16, int64_t batch, int64_t seq,
                          int64_t heads, int64_t head_dim, int64_t stride_b, int64_t stride_s, int64_t stride_h,
                          int box_rows);

}  // namespace cuda
}  // namespace pattn
