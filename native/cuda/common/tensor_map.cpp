// Encoding of the K/V tensor maps (tensor_map.h) through the driver's
// cuTensorMapEncodeTiled, fetched once through the runtime (no link-time
// dependency on libcuda). A pure host computation: no stream, no device
// state, so it is allowed during stream capture.
#include "tensor_map.h"

#include <cuda_runtime.h>

#if CUDART_VERSION >= 12000
#include <cuda.h>
#endif

#include <cstring>

namespace pattn {
namespace cuda {

#if CUDART_VERSION >= 12000
namespace {

// The hardware descriptor of sm_90 is the first 128 bytes (newer toolkits
// may declare a larger CUtensorMap); it is encoded in place and copied.
static_assert(sizeof(CUtensorMap) >= sizeof(TensorMapStorage), "a CUtensorMap holds the 128-byte descriptor");

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled encode_tiled() {
    static const EncodeTiled fn = [] {
        void* p = nullptr;
        cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
#if CUDART_VERSION >= 12050
        const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000,
                                                               cudaEnableDefault, &found);
#else
        const cudaError_t e = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &p, cudaEnableDefault, &found);
#endif
        (void)cudaGetLastError();  // a failed lookup leaves no error for the launch checks
        return e == cudaSuccess && found == cudaDriverEntryPointSuccess ? reinterpret_cast<EncodeTiled>(p)
                                                                        : nullptr;
    }();
    return fn;
}

}  // namespace
#endif

bool encode_kv_tensor_map(TensorMapStorage* map, const void* base, bool bf16, int64_t batch, int64_t seq,
                          int64_t heads, int64_t head_dim, int64_t stride_b, int64_t stride_s, int64_t stride_h,
                          int box_rows) {
    std::memset(map, 0, sizeof(*map));
#if CUDART_VERSION >= 12000
    const EncodeTiled encode = encode_tiled();
    if (encode == nullptr || base == nullptr || batch < 1 || seq < 1 || heads < 1 || head_dim < 64 ||
        head_dim % 64 != 0 || box_rows < 1 || box_rows > 256)
        return false;
    constexpr int64_t kElem = 2;
    // A packed tensor (stride_b 0) is one batch entry; its stride is never used.
    const bool one_batch = stride_b == 0 || batch == 1;
    const cuuint64_t dims[4] = {(cuuint64_t)head_dim, (cuuint64_t)heads, (cuuint64_t)seq,
                                (cuuint64_t)(one_batch ? 1 : batch)};
    const cuuint64_t strides[3] = {(cuuint64_t)(stride_h * kElem), (cuuint64_t)(stride_s * kElem),
                                   (cuuint64_t)(one_batch ? stride_s * kElem * seq : stride_b * kElem)};
    for (const cuuint64_t s : strides)
        if (s == 0 || s % 16 != 0 || s >= (1ull << 40)) return false;
    const cuuint32_t box[4] = {64, 1, (cuuint32_t)box_rows, 1};
    const cuuint32_t element_strides[4] = {1, 1, 1, 1};
    CUtensorMap m;
    const CUresult r = encode(&m, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4,
                              const_cast<void*>(base), dims, strides, box, element_strides,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) return false;
    std::memcpy(map, &m, sizeof(*map));
    return true;
#else
    (void)base, (void)bf16, (void)batch, (void)seq, (void)heads, (void)head_dim, (void)stride_b, (void)stride_s,
        (void)stride_h, (void)box_rows;
    return false;
#endif
}

}  // namespace cuda
}  // namespace pattn
