// pattn::cuda::decode: picks the kernel instantiation and the number of KV
// splits, runs the split kernel and, for more than one split, merges the
// partial states (the merge_states math, in base 2): inside the split kernel
// when the splits of a row fit in one thread-block cluster (sm_90), else in
// a combine kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "attention_args.h"
#include "backends.h"
#include "cuda_check.h"
#include "decode_heuristics.h"
#include "decode_kernel.cuh"
#include "errors.h"
#include "mask_rules.h"

PATTN_DECODE_EXTERN(__half, 64)
PATTN_DECODE_EXTERN(__half, 128)
PATTN_DECODE_EXTERN(__half, 256)
PATTN_DECODE_EXTERN(__nv_bfloat16, 64)
PATTN_DECODE_EXTERN(__nv_bfloat16, 128)
PATTN_DECODE_EXTERN(__nv_bfloat16, 256)

namespace pattn {
namespace cuda {
namespace decode_detail {

struct CombineParams {
    const float* part_o;    // [splits, rows, head_dim], rows = batch * q_len * num_qo_heads
    const float* part_lse;  // [splits, rows], log2 domain
    void* o;
    float* lse;
    int64_t rows;
    int32_t splits, q_len, num_qo_heads, head_dim;
    int64_t o_stride_b, o_stride_s, o_stride_h;
    int64_t lse_stride_b, lse_stride_s, lse_stride_h;
};

constexpr int kCombineThreads = 128;
// Upper bound on KV splits (forced counts above it are clamped; the result
// is the same, only the grid is smaller).
constexpr int kMaxSplits = 1024;

__device__ __forceinline__ float block_reduce(float x, bool is_max, float* scratch) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
        const float y = __shfl_xor_sync(0xffffffffu, x, off);
        x = is_max ? fmaxf(x, y) : x + y;
    }
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = x;
    __syncthreads();
    float r = scratch[0];
#pragma unroll
    for (int w = 1; w < kCombineThreads / 32; ++w) r = is_max ? fmaxf(r, scratch[w]) : r + scratch[w];
    __syncthreads();  // scratch is reused by the next reduction
    return r;
}

// One block per output row (b, i, h). The split weights 2^(lse_s - max) go
// to shared memory; then groups of threads sum disjoint sets of splits with
// independent 16-byte loads (many in flight), and the groups are added up.
// Empty splits hold o = 0 and lse = -inf, so they need no branch.
template <typename T, int HEAD_DIM>
__global__ void __launch_bounds__(kCombineThreads) decode_combine_kernel(const CombineParams c) {
    constexpr int LANES = HEAD_DIM / 4;               // float4 columns of a row
    constexpr int GROUPS = kCombineThreads / LANES;   // threads summing one column
    static_assert(GROUPS >= 2, "head_dim up to 256");
    extern __shared__ float weights[];                // [splits]
    __shared__ float scratch[kCombineThreads / 32];
    __shared__ float4 partial[GROUPS - 1][LANES];
    const float kNegInf = -__int_as_float(0x7f800000);
    const int tid = threadIdx.x;
    const int64_t row = blockIdx.x;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    // Launched as a programmatic dependent of the split kernel (sm_90): wait
    // until that grid has completed and its partials are visible.
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif

    float m = kNegInf;
    for (int s = tid; s < c.splits; s += kCombineThreads) {
        const float x = c.part_lse[s * c.rows + row];
        weights[s] = x;
        m = fmaxf(m, x);
    }
    m = block_reduce(m, true, scratch);
    const bool seen = m != kNegInf;
    float sum = 0.f;
    for (int s = tid; s < c.splits; s += kCombineThreads) {
        const float w = seen ? exp2f(weights[s] - m) : 0.f;
        weights[s] = w;
        sum += w;
    }
    sum = block_reduce(sum, false, scratch);  // its barrier also publishes the weights

    const int lane = tid % LANES;
    const int group = tid / LANES;
    const float4* po = reinterpret_cast<const float4*>(c.part_o) + row * LANES + lane;
    const int64_t split_stride = c.rows * LANES;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int s = group; s < c.splits; s += GROUPS) {
        const float w = weights[s];
        const float4 x = po[s * split_stride];
        acc.x = fmaf(w, x.x, acc.x);
        acc.y = fmaf(w, x.y, acc.y);
        acc.z = fmaf(w, x.z, acc.z);
        acc.w = fmaf(w, x.w, acc.w);
    }
    if (group > 0) partial[group - 1][lane] = acc;
    __syncthreads();
    if (group != 0) return;
#pragma unroll
    for (int g = 1; g < GROUPS; ++g) {
        const float4 x = partial[g - 1][lane];
        acc.x += x.x;
        acc.y += x.y;
        acc.z += x.z;
        acc.w += x.w;
    }
    const float inv = seen ? 1.f / sum : 0.f;
    const int h = static_cast<int>(row % c.num_qo_heads);
    const int i = static_cast<int>((row / c.num_qo_heads) % c.q_len);
    const int64_t b = row / (static_cast<int64_t>(c.num_qo_heads) * c.q_len);
    T* op = static_cast<T*>(c.o) + b * c.o_stride_b + i * c.o_stride_s + h * c.o_stride_h + lane * 4;
    op[0] = Vec8<T>::from_float(acc.x * inv);
    op[1] = Vec8<T>::from_float(acc.y * inv);
    op[2] = Vec8<T>::from_float(acc.z * inv);
    op[3] = Vec8<T>::from_float(acc.w * inv);
    if (lane == 0 && c.lse)
        c.lse[b * c.lse_stride_b + i * c.lse_stride_s + h * c.lse_stride_h] =
            seen ? (m + log2f(sum)) * 0.69314718055994531f : kNegInf;
}

// PADDEDATTN_UPLOAD_LENGTHS=1: host lengths always go through the workspace
// copy (for comparing the two paths); read on every call.
bool upload_forced() {
    const char* v = std::getenv("PADDEDATTN_UPLOAD_LENGTHS");
    return v != nullptr && v[0] == '1';
}

// PADDEDATTN_DECODE_CLUSTER (read on every call, for comparisons): unset,
// the cluster merge runs where it was measured faster (see run_decode); 0
// never (split kernel + combine kernel); "all" for every split count up to
// kMaxClusterSplits.
enum class ClusterMode { Auto, Off, All };
ClusterMode cluster_mode() {
    const char* v = std::getenv("PADDEDATTN_DECODE_CLUSTER");
    if (v != nullptr && v[0] == '0') return ClusterMode::Off;
    if (v != nullptr && v[0] == 'a') return ClusterMode::All;
    return ClusterMode::Auto;
}

// PADDEDATTN_DECODE_STAGES=2..8 (read on every call, for comparisons):
// forces the cp.async pipeline depth of the split kernel; 0 when unset.
int forced_stages() {
    const char* v = std::getenv("PADDEDATTN_DECODE_STAGES");
    if (v == nullptr || v[0] < '2' || v[0] > '9' || v[1] != '\0') return 0;
    return std::min(v[0] - '0', kMaxStages);
}

// Pipeline depth, from a sweep of depths 2 to 8 on an H200
// (docs/performance.md, Decode): grids of many rows (at least one block per
// two SMs before splitting: throughput bound) take the 3-stage pipeline when
// its smaller shared memory buys another resident block per SM (d128 with 4
// packed rows: 4 blocks instead of 3; 64 x 1k 77.4 -> 68.9 us, 64 x 8k
// 451.9 -> 432.6, 64 x 32k 1693 -> 1619, 16 x 32k 413.0 -> 406.6); small
// batches keep kDefaultStages (latency bound: equal within 0.4 us).
// throughput_bound() is in decode_heuristics.cpp.

template <typename T, int HEAD_DIM, int ROWS>
cudaError_t choose_stages(int64_t base_blocks, int sms, int device, int* stages) {
    *stages = kDefaultStages;
    if (!throughput_bound(base_blocks, sms)) return cudaSuccess;
    int per_sm_3 = 1, per_sm_default = 1;
    cudaError_t e = decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, 3, &per_sm_3);
    if (e == cudaSuccess) e = decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, kDefaultStages, &per_sm_default);
    if (e == cudaSuccess && per_sm_3 > per_sm_default) *stages = 3;
    return e;
}

int multiprocessor_count(int device, cudaError_t* error) {
    static std::atomic<int> cached[kMaxCachedDevices];
    const bool cacheable = device >= 0 && device < kMaxCachedDevices;
    if (cacheable) {
        const int c = cached[device].load(std::memory_order_relaxed);
        if (c > 0) return c;
    }
    int n = 0;
    *error = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device);
    if (*error != cudaSuccess) return 1;
    if (n < 1) n = 1;
    if (cacheable) cached[device].store(n, std::memory_order_relaxed);
    return n;
}

// Whether the combine kernel may be launched as a programmatic dependent of
// the split kernel (Hopper's programmatic dependent launch: its blocks start
// while the split kernel's last blocks run, and wait in griddepcontrol.wait).
// Needs compute capability >= 9.0 and the kernel compiled for it (PTX
// version >= 90, so that the wait is in the code); per device, computed once.
template <typename T, int HEAD_DIM>
bool combine_pdl_supported(int device) {
    static std::atomic<int> cached[kMaxCachedDevices];  // 0 unknown, 1 no, 2 yes
    const bool cacheable = device >= 0 && device < kMaxCachedDevices;
    if (cacheable) {
        const int c = cached[device].load(std::memory_order_relaxed);
        if (c != 0) return c == 2;
    }
    int major = 0;
    cudaFuncAttributes attributes{};
    bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
              cudaFuncGetAttributes(&attributes, decode_combine_kernel<T, HEAD_DIM>) == cudaSuccess &&
              major >= 9 && attributes.ptxVersion >= 90;
    (void)cudaGetLastError();
    if (cacheable) cached[device].store(ok ? 2 : 1, std::memory_order_relaxed);
    return ok;
}

template <typename T, int HEAD_DIM>
cudaError_t launch_combine(const CombineParams& c, unsigned rows, size_t smem, int device, cudaStream_t stream) {
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

// The split workspace comes from a pool of the library's own, per device,
// that keeps up to kPoolKeepBytes reserved across synchronizations (the
// default pool returns everything to the driver at each one, so the next
// call would map memory again). Null when pools are not supported: then the
// device's current pool serves cudaMallocAsync.
cudaMemPool_t workspace_pool(int device) {
    constexpr uint64_t kPoolKeepBytes = 256ull << 20;
    static std::mutex mutex;
    static cudaMemPool_t pools[kMaxCachedDevices];
    static bool tried[kMaxCachedDevices];
    if (device < 0 || device >= kMaxCachedDevices) return nullptr;
    std::lock_guard<std::mutex> lock(mutex);
    if (!tried[device]) {
        tried[device] = true;
        cudaMemPoolProps props{};
        props.allocType = cudaMemAllocationTypePinned;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = device;
        cudaMemPool_t pool = nullptr;
        if (cudaMemPoolCreate(&pool, &props) == cudaSuccess) {
            uint64_t keep = kPoolKeepBytes;
            cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
            pools[device] = pool;
        } else {
            (void)cudaGetLastError();  // not fatal: fall back to the current pool
        }
    }
    return pools[device];
}

// The split count comes from choose_num_splits (decode_heuristics.cpp, host-only, unit-tested).

template <typename T, int HEAD_DIM, int ROWS>
pattn_status run_decode(const AttentionArgs& a, DecodeParams p, cudaStream_t stream) {
    using Shape = DecodeShape<HEAD_DIM>;
    p.row_chunks = (p.rows_per_kv_head + ROWS - 1) / ROWS;

    int max_kv = a.kv_len;
    const bool host_lens = a.kv_lens != nullptr && !a.lens_on_device;
    if (host_lens) {
        max_kv = 0;
        for (int b = 0; b < a.batch; ++b) max_kv = std::max(max_kv, clamp_len(a.kv_lens[b], a.kv_len));
    }

    // Small batches carry host lengths in the kernel parameters; larger ones
    // (or PADDEDATTN_UPLOAD_LENGTHS=1, a diagnostic switch) copy them to the
    // workspace.
    const bool lens_by_value = host_lens && a.batch <= kDecodeParamRows && !upload_forced();
    if (lens_by_value) {
        p.kv_lens = nullptr;
        p.lens_in_params = 1;
        for (int b = 0; b < a.batch; ++b) p.param_lens[b] = clamp_len(a.kv_lens[b], a.kv_len);
    }

    const int64_t base_blocks = static_cast<int64_t>(a.batch) * a.num_kv_heads * p.row_chunks;
    cudaError_t sm_error = cudaSuccess;
    const int sms = multiprocessor_count(a.device_id, &sm_error);
    PATTN_CUDA_TRY(sm_error);
    int stages = forced_stages();
    if (stages == 0) PATTN_CUDA_TRY((choose_stages<T, HEAD_DIM, ROWS>(base_blocks, sms, a.device_id, &stages)));
    p.stages = std::min(stages, decode_max_stages<T, HEAD_DIM, ROWS>(a.device_id));
    int per_sm = 1;  // also opts the kernel into its shared memory size
    PATTN_CUDA_TRY((decode_blocks_per_sm<T, HEAD_DIM, ROWS>(a.device_id, p.stages, &per_sm)));
    const int slots = sms * per_sm;
    int splits = a.num_splits;
    if (splits <= 0) {
        splits = choose_num_splits(SplitInputs{base_blocks, max_kv, Shape::kTileKeys, sms, slots});
    } else {
        // More splits than tiles only adds empty blocks; the result is the same.
        const int max_useful = std::max(1, (max_kv + Shape::kTileKeys - 1) / Shape::kTileKeys);
        splits = std::min(std::min(a.num_splits, max_useful), kMaxSplits);
    }
    p.num_splits = splits;

    // Cluster merge (sm_90): the splits of a row run as one thread-block
    // cluster and the first merges them, in the split kernel (one launch, no
    // workspace). Measured on an H200 (docs/performance.md, Decode): faster
    // than split kernel + combine kernel only for a grid of one wave of
    // resident blocks with 2 splits (16 x 1k: 25.1 -> 24.4 us; with 4 splits
    // it was slower at every pipeline depth, 3 stages 23.7 -> 29.3 us);
    // slower for clusters of 16 (1 x 8k: 14.0 -> 18.1 us) and for grids of
    // several waves, where a cluster's finished blocks hold their SM slots
    // until the whole cluster is done (16 x 32k: 396 -> 509 us).
    const ClusterMode mode = cluster_mode();
    const int max_cluster =
        mode == ClusterMode::Off ? 1 : decode_max_cluster<T, HEAD_DIM, ROWS>(a.device_id);
    const int64_t grid_blocks = base_blocks * splits;
    const bool cluster_fits = mode == ClusterMode::All ? splits <= max_cluster
                                                       : splits <= std::min(max_cluster, 2) &&
                                                             grid_blocks <= static_cast<int64_t>(slots);
    const bool lens_uploaded = host_lens && !lens_by_value;  // needs the workspace copy
    if (splits >= 2 && cluster_fits && !lens_uploaded) {
        p.cluster_merge = 1;
        const cudaError_t ce = launch_decode_cluster<T, HEAD_DIM, ROWS>(p, stream);
        if (ce == cudaSuccess) return PATTN_STATUS_SUCCESS;
        (void)cudaGetLastError();  // not accepted here: split kernel and combine instead
        p.cluster_merge = 0;
    }

    // Stream-ordered workspace: split partials and a device copy of host lengths.
    const int64_t rows = static_cast<int64_t>(a.batch) * a.q_len * a.num_qo_heads;
    const size_t part_o_bytes = splits > 1 ? static_cast<size_t>(splits) * rows * HEAD_DIM * 4 : 0;
    const size_t part_lse_bytes = splits > 1 ? static_cast<size_t>(splits) * rows * 4 : 0;
    const size_t lens_bytes = host_lens && !lens_by_value ? static_cast<size_t>(a.batch) * 4 : 0;
    const size_t total = part_o_bytes + ((part_lse_bytes + 15) / 16 * 16) + lens_bytes;
    unsigned char* workspace = nullptr;
    if (total > 0) {
        cudaMemPool_t pool = workspace_pool(a.device_id);
        void** out = reinterpret_cast<void**>(&workspace);
        PATTN_CUDA_TRY(pool ? cudaMallocFromPoolAsync(out, total, pool, stream)
                            : cudaMallocAsync(out, total, stream));
    }

    cudaError_t e = cudaSuccess;
    if (splits > 1) {
        p.part_o = reinterpret_cast<float*>(workspace);
        p.part_lse = reinterpret_cast<float*>(workspace + part_o_bytes);
    }
    if (host_lens && !lens_by_value) {
        int32_t* lens = reinterpret_cast<int32_t*>(workspace + part_o_bytes +
                                                   (part_lse_bytes + 15) / 16 * 16);
        // Pageable host memory is staged before this returns, so the caller
        // may reuse its array right away.
        e = cudaMemcpyAsync(lens, a.kv_lens, lens_bytes, cudaMemcpyHostToDevice, stream);
        p.kv_lens = lens;
    }
    if (e == cudaSuccess) e = launch_decode_split<T, HEAD_DIM, ROWS>(p, stream);
    if (e == cudaSuccess && splits > 1) {
        CombineParams c;
        c.part_o = p.part_o;
        c.part_lse = p.part_lse;
        c.o = a.o;
        c.lse = a.lse;
        c.rows = rows;
        c.splits = splits;
        c.q_len = a.q_len;
        c.num_qo_heads = a.num_qo_heads;
        c.head_dim = HEAD_DIM;
        c.o_stride_b = a.o_stride_b;
        c.o_stride_s = a.o_stride_s;
        c.o_stride_h = a.o_stride_h;
        c.lse_stride_b = a.lse_stride_b;
        c.lse_stride_s = a.lse_stride_s;
        c.lse_stride_h = a.lse_stride_h;
        e = launch_combine<T, HEAD_DIM>(c, static_cast<unsigned>(rows), splits * sizeof(float), a.device_id,
                                        stream);
    }
    if (workspace) {
        const cudaError_t f = cudaFreeAsync(workspace, stream);
        if (e == cudaSuccess) e = f;
    }
    return cuda_error(e, "decode kernel launch");
}

template <typename T, int HEAD_DIM>
pattn_status run_decode_rows(const AttentionArgs& a, const DecodeParams& p, cudaStream_t stream) {
    if (p.rows_per_kv_head == 1) return run_decode<T, HEAD_DIM, 1>(a, p, stream);
    if (p.rows_per_kv_head <= 4) return run_decode<T, HEAD_DIM, 4>(a, p, stream);
    return run_decode<T, HEAD_DIM, 8>(a, p, stream);
}

template <typename T>
pattn_status run_decode_head_dim(const AttentionArgs& a, const DecodeParams& p, cudaStream_t stream) {
    switch (a.head_dim) {
        case 64: return run_decode_rows<T, 64>(a, p, stream);
        case 128: return run_decode_rows<T, 128>(a, p, stream);
        case 256: return run_decode_rows<T, 256>(a, p, stream);
        default:
            return set_error(PATTN_STATUS_UNSUPPORTED,
                             "decode: head_dim = %d is not supported on CUDA (64, 128 or 256)",
                             a.head_dim);
    }
}

bool aligned16(const void* ptr, int64_t sb, int64_t ss, int64_t sh) {
    // 16-byte loads of 8 elements of 2 bytes each.
    return reinterpret_cast<uintptr_t>(ptr) % 16 == 0 && sb % 8 == 0 && ss % 8 == 0 && sh % 8 == 0;
}

}  // namespace decode_detail

pattn_status decode(const AttentionArgs& a, void* stream_ptr) {
    using namespace decode_detail;
    if (a.batch == 0 || a.q_len == 0) return PATTN_STATUS_SUCCESS;
    if (a.dtype != PATTN_DTYPE_F16 && a.dtype != PATTN_DTYPE_BF16)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "decode: dtype = %d is not supported on CUDA (f16 or bf16)",
                         static_cast<int>(a.dtype));
    if (static_cast<int64_t>(a.batch) * a.q_len * a.num_qo_heads > 0x7fffffffLL)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "decode: batch * q_len * num_qo_heads = %lld exceeds 2^31 - 1 on CUDA",
                         static_cast<long long>(a.batch) * a.q_len * a.num_qo_heads);
    if (a.batch > 65535)
        return set_error(PATTN_STATUS_UNSUPPORTED, "decode: batch = %d exceeds 65535 on CUDA", a.batch);
    if (a.num_kv_heads <= 0 || a.num_qo_heads % a.num_kv_heads != 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "decode: num_qo_heads = %d is not a multiple of num_kv_heads = %d",
                         a.num_qo_heads, a.num_kv_heads);
    if (!aligned16(a.q, a.q_stride_b, a.q_stride_s, a.q_stride_h))
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "decode: q must be 16-byte aligned with strides that are multiples of 8 elements on CUDA");
    if (!aligned16(a.k, a.k_stride_b, a.k_stride_s, a.k_stride_h))
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "decode: k_cache must be 16-byte aligned with strides that are multiples of 8 elements on CUDA");
    if (!aligned16(a.v, a.v_stride_b, a.v_stride_s, a.v_stride_h))
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "decode: v_cache must be 16-byte aligned with strides that are multiples of 8 elements on CUDA");

    ScopedDevice device(a.device_id);
    PATTN_CUDA_TRY(device.status());

    DecodeParams p{};
    p.q = a.q;
    p.k = a.k;
    p.v = a.v;
    p.o = a.o;
    p.lse = a.lse;
    p.kv_lens = a.kv_lens;  // replaced by a device copy when the lengths are on the host
    p.batch = a.batch;
    p.q_len = a.q_len;
    p.cache_len = a.kv_len;
    p.num_qo_heads = a.num_qo_heads;
    p.num_kv_heads = a.num_kv_heads;
    p.group = a.num_qo_heads / a.num_kv_heads;
    p.rows_per_kv_head = p.group * a.q_len;
    p.left_padded = a.left_padded ? 1 : 0;
    p.scale_log2 = a.scale * 1.4426950408889634f;
    p.q_stride_b = a.q_stride_b;
    p.q_stride_s = a.q_stride_s;
    p.q_stride_h = a.q_stride_h;
    p.k_stride_b = a.k_stride_b;
    p.k_stride_s = a.k_stride_s;
    p.k_stride_h = a.k_stride_h;
    p.v_stride_b = a.v_stride_b;
    p.v_stride_s = a.v_stride_s;
    p.v_stride_h = a.v_stride_h;
    p.o_stride_b = a.o_stride_b;
    p.o_stride_s = a.o_stride_s;
    p.o_stride_h = a.o_stride_h;
    p.lse_stride_b = a.lse_stride_b;
    p.lse_stride_s = a.lse_stride_s;
    p.lse_stride_h = a.lse_stride_h;
    if (a.page_table) {
        p.page_table = a.page_table;
        p.page_table_stride = a.page_table_stride;
        p.page_size = a.page_size;
        p.num_pages = a.num_pages;
        p.page_shift = -1;
        for (int shift = 0; shift < 31; ++shift)
            if ((1 << shift) == a.page_size) p.page_shift = shift;
    }

    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
    if (a.dtype == PATTN_DTYPE_F16) return run_decode_head_dim<__half>(a, p, stream);
    return run_decode_head_dim<__nv_bfloat16>(a, p, stream);
}

}  // namespace cuda
}  // namespace pattn
