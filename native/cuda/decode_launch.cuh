// The host side of one decode kernel instantiation (element type, head_dim,
// rows per block): what it can run with on a device (pipeline depth,
// occupancy, cluster size; each computed once per device and kept in its
// DeviceState) and its launches. The split kernels are instantiated in
// decode_<dtype>_hdim<d>.cu; the combine kernel in decode_dispatch.cu.
#pragma once

#include <cuda_runtime.h>

#include "common/device_state.h"
#include "decode_kernel.cuh"
#include "decode_params.h"

namespace pattn {
namespace cuda {
namespace decode_detail {

// The kernel of a row pack: the tensor-core one for kMmaRows, else the
// CUDA-core one (decode_kernel.cuh).
template <typename T, int HEAD_DIM, int ROWS>
constexpr auto decode_kernel_ptr() {
    if constexpr (ROWS == kMmaRows) {
        return decode_mma_kernel<T, HEAD_DIM>;
    } else {
        return decode_split_kernel<T, HEAD_DIM, ROWS>;
    }
}

// The deepest pipeline (2..kMaxStages) whose shared memory the device
// grants one block of this kernel (opt-in limit).
template <typename T, int HEAD_DIM, int ROWS>
int decode_max_stages(const DeviceState& device) {
    int stages = kMaxStages;
    while (stages > kDefaultStages && decode_smem_bytes<ROWS, HEAD_DIM>(stages) > device.smem_optin) --stages;
    return stages;
}

// Opts the kernel into the shared memory of a `stages`-deep pipeline (the
// opt-in only ever grows, so launches captured earlier with more stay valid)
// and reports how many blocks of it fit on one SM; per device and depth,
// computed once.
template <typename T, int HEAD_DIM, int ROWS>
cudaError_t decode_blocks_per_sm(DeviceState& device, int stages, int* blocks_per_sm) {
    static const int opt_in_slot = reserve_kernel_values(1);
    static const int occupancy_slots = reserve_kernel_values(kMaxStages + 1);  // [stages]: 0 = not computed
    const int slot = occupancy_slots >= 0 && stages >= 2 && stages <= kMaxStages ? occupancy_slots + stages : -1;
    const int c = device.cached(slot);
    if (c > 0) {
        *blocks_per_sm = c;
        return cudaSuccess;
    }
    auto kernel = decode_kernel_ptr<T, HEAD_DIM, ROWS>();
    const int smem = decode_smem_bytes<ROWS, HEAD_DIM>(stages);
    cudaError_t e = device.opt_in_shared_memory(opt_in_slot, reinterpret_cast<const void*>(kernel), smem);
    if (e != cudaSuccess) return e;
    int n = 0;
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, smem);
    if (e != cudaSuccess) return e;
    if (n < 1) n = 1;
    device.cache(slot, n);
    *blocks_per_sm = n;
    return cudaSuccess;
}

// Grid: x = KV split, y = KV head * row chunk, z = batch row.
template <typename T, int HEAD_DIM, int ROWS>
cudaError_t launch_decode_split(const DecodeParams& p, cudaStream_t stream) {
    const dim3 grid(p.num_splits, p.num_kv_heads * p.row_chunks, p.batch);
    auto kernel = decode_kernel_ptr<T, HEAD_DIM, ROWS>();
    kernel<<<grid, kThreads, decode_smem_bytes<ROWS, HEAD_DIM>(p.stages), stream>>>(p);
    return cudaGetLastError();
}

// The largest cluster of split blocks this kernel can run with on `device`
// (kMaxClusterSplits, 8, or 1 when clusters are not available: compute
// capability below 9.0 or no sm_90 code), queried with the default
// pipeline depth's shared memory; per device, computed once.
template <typename T, int HEAD_DIM, int ROWS>
int decode_max_cluster(DeviceState& device) {
    static const int slot = reserve_kernel_values(1);  // 0: not computed yet
    const int c = device.cached(slot);
    if (c > 0) return c;
    auto kernel = decode_kernel_ptr<T, HEAD_DIM, ROWS>();
    int result = 1;
    int per_sm = 0;  // opts the kernel into the shared memory queried below
    (void)decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, kDefaultStages, &per_sm);
    cudaFuncAttributes attributes{};
    if (device.cc_major >= 9 && cudaFuncGetAttributes(&attributes, kernel) == cudaSuccess &&
        attributes.ptxVersion >= 90) {
        (void)cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
        for (int size = kMaxClusterSplits; size >= 8 && result == 1; size /= 2) {
            cudaLaunchConfig_t config{};
            config.gridDim = dim3(size);
            config.blockDim = dim3(kThreads);
            config.dynamicSmemBytes = decode_smem_bytes<ROWS, HEAD_DIM>(kDefaultStages);
            cudaLaunchAttribute attribute[1];
            attribute[0].id = cudaLaunchAttributeClusterDimension;
            attribute[0].val.clusterDim.x = size;
            attribute[0].val.clusterDim.y = 1;
            attribute[0].val.clusterDim.z = 1;
            config.attrs = attribute;
            config.numAttrs = 1;
            int clusters = 0;
            if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &config) == cudaSuccess && clusters > 0)
                result = size;
        }
    }
    (void)cudaGetLastError();
    device.cache(slot, result);
    return result;
}

// The same grid as launch_decode_split, its num_splits blocks along x one
// cluster (p.cluster_merge = 1, 2 <= num_splits <= decode_max_cluster).
template <typename T, int HEAD_DIM, int ROWS>
cudaError_t launch_decode_cluster(const DecodeParams& p, cudaStream_t stream) {
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(p.num_splits, p.num_kv_heads * p.row_chunks, p.batch);
    config.blockDim = dim3(kThreads);
    config.dynamicSmemBytes = decode_smem_bytes<ROWS, HEAD_DIM>(p.stages);
    config.stream = stream;
    cudaLaunchAttribute attribute[1];
    attribute[0].id = cudaLaunchAttributeClusterDimension;
    attribute[0].val.clusterDim.x = p.num_splits;
    attribute[0].val.clusterDim.y = 1;
    attribute[0].val.clusterDim.z = 1;
    config.attrs = attribute;
    config.numAttrs = 1;
    return cudaLaunchKernelEx(&config, decode_kernel_ptr<T, HEAD_DIM, ROWS>(), p);
}

// Whether the combine kernel may be launched as a programmatic dependent of
// the split kernel (Hopper's programmatic dependent launch: its blocks start
// while the split kernel's last blocks run, and wait in griddepcontrol.wait).
// Needs compute capability >= 9.0 and the kernel compiled for it (PTX
// version >= 90, so that the wait is in the code); per device, computed once.
template <typename T, int HEAD_DIM>
bool combine_pdl_supported(DeviceState& device) {
    static const int slot = reserve_kernel_values(1);  // 0 unknown, 1 no, 2 yes
    const int c = device.cached(slot);
    if (c != 0) return c == 2;
    cudaFuncAttributes attributes{};
    const bool ok = device.cc_major >= 9 &&
                    cudaFuncGetAttributes(&attributes, decode_combine_kernel<T, HEAD_DIM>) == cudaSuccess &&
                    attributes.ptxVersion >= 90;
    (void)cudaGetLastError();
    device.cache(slot, ok ? 2 : 1);
    return ok;
}

template <typename T, int HEAD_DIM>
cudaError_t launch_combine(const CombineParams& c, unsigned rows, size_t smem, DeviceState& device,
                           cudaStream_t stream) {
    if (combine_pdl_supported<T, HEAD_DIM>(device)) {
        cudaLaunchConfig_t config{};
        config.gridDim = dim3(rows);
        config.blockDim = dim3(kCombineThreads);
        config.dynamicSmemBytes = smem;
        config.stream = stream;
        cudaLaunchAttribute attribute[1];
        attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attribute[0].val.programmaticStreamSerializationAllowed = 1;
        config.attrs = attribute;
        config.numAttrs = 1;
        if (cudaLaunchKernelEx(&config, decode_combine_kernel<T, HEAD_DIM>, c) == cudaSuccess) return cudaSuccess;
        (void)cudaGetLastError();  // not accepted here: launch it the ordinary way
    }
    decode_combine_kernel<T, HEAD_DIM><<<rows, kCombineThreads, smem, stream>>>(c);
    return cudaGetLastError();
}

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn

// One .cu file per (dtype, head_dim) instantiates the row-pack sizes.
#define PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, ROWS)                                   \
    template cudaError_t pattn::cuda::decode_detail::decode_blocks_per_sm<T, HEAD_DIM, ROWS>( \
        pattn::cuda::DeviceState&, int, int*);                                             \
    template cudaError_t pattn::cuda::decode_detail::launch_decode_split<T, HEAD_DIM, ROWS>(  \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                     \
    template cudaError_t pattn::cuda::decode_detail::launch_decode_cluster<T, HEAD_DIM, ROWS>( \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                     \
    template int pattn::cuda::decode_detail::decode_max_cluster<T, HEAD_DIM, ROWS>(pattn::cuda::DeviceState&);

#define PATTN_DECODE_INSTANTIATE(T, HEAD_DIM)     \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 1) \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 4) \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 6) \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 8)
// The tensor-core row pack (head_dim <= 128: decode_params.h mma_decode_supported).
#define PATTN_DECODE_INSTANTIATE_MMA(T, HEAD_DIM) PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 16)

// For the dispatching translation unit: the instantiations live elsewhere.
#define PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, ROWS)                                              \
    extern template cudaError_t pattn::cuda::decode_detail::decode_blocks_per_sm<T, HEAD_DIM, ROWS>( \
        pattn::cuda::DeviceState&, int, int*);                                                   \
    extern template cudaError_t pattn::cuda::decode_detail::launch_decode_split<T, HEAD_DIM, ROWS>(  \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                            \
    extern template cudaError_t pattn::cuda::decode_detail::launch_decode_cluster<T, HEAD_DIM, ROWS>( \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                            \
    extern template int pattn::cuda::decode_detail::decode_max_cluster<T, HEAD_DIM, ROWS>(         \
        pattn::cuda::DeviceState&);

#define PATTN_DECODE_EXTERN(T, HEAD_DIM)     \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 1) \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 4) \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 6) \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 8)
#define PATTN_DECODE_EXTERN_MMA(T, HEAD_DIM) PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 16)
