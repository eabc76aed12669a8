// pattn::cuda::decode: picks the kernel instantiation and the number of KV
// splits, runs the split kernel and, for more than one split, merges the
// partial states (the merge_states math, in base 2): inside the split kernel
// when the splits of a row fit in one thread-block cluster (sm_90), else in
// a combine kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "attention_args.h"
#include "backends.h"
#include "common/capture.h"
#include "common/device_state.h"
#include "common/online_softmax.cuh"
#include "common/dispatch.h"
#include "common/math_constants.h"
#include "common/paged_kv.cuh"
#include "common/tuning.h"
#include "cuda_check.h"
#include "decode_heuristics.h"
#include "decode_launch.cuh"
#include "decode_params.h"
#include "errors.h"
#include "mask_rules.h"

PATTN_DECODE_EXTERN(__half, 64)
PATTN_DECODE_EXTERN(__half, 128)
PATTN_DECODE_EXTERN(__half, 256)
PATTN_DECODE_EXTERN(__nv_bfloat16, 64)
PATTN_DECODE_EXTERN(__nv_bfloat16, 128)
PATTN_DECODE_EXTERN(__nv_bfloat16, 256)
PATTN_DECODE_EXTERN(__half, 32)
PATTN_DECODE_EXTERN(__half, 80)
PATTN_DECODE_EXTERN(__half, 96)
PATTN_DECODE_EXTERN(__nv_bfloat16, 32)
PATTN_DECODE_EXTERN(__nv_bfloat16, 80)
PATTN_DECODE_EXTERN(__nv_bfloat16, 96)
PATTN_DECODE_EXTERN_MMA(__half, 32)
PATTN_DECODE_EXTERN_MMA(__half, 64)
PATTN_DECODE_EXTERN_MMA(__half, 80)
PATTN_DECODE_EXTERN_MMA(__half, 96)
PATTN_DECODE_EXTERN_MMA(__half, 128)
PATTN_DECODE_EXTERN_MMA(__nv_bfloat16, 32)
PATTN_DECODE_EXTERN_MMA(__nv_bfloat16, 64)
PATTN_DECODE_EXTERN_MMA(__nv_bfloat16, 80)
PATTN_DECODE_EXTERN_MMA(__nv_bfloat16, 96)
PATTN_DECODE_EXTERN_MMA(__nv_bfloat16, 128)

namespace pattn {
namespace cuda {
namespace decode_detail {

// Pipeline depth, from a sweep of depths 2 to 8 on an H200
// (docs/performance.md, Decode): grids of many rows (at least one block per
// two SMs before splitting: throughput bound) take the 3-stage pipeline when
// its smaller shared memory buys another resident block per SM (d128 with 4
// packed rows: 4 blocks instead of 3; 64 x 1k 77.4 -> 68.9 us, 64 x 8k
// 451.9 -> 432.6, 64 x 32k 1693 -> 1619, 16 x 32k 413.0 -> 406.6); small
// batches keep kDefaultStages (latency bound: equal within 0.4 us).
// throughput_bound() is in decode_heuristics.cpp.

template <typename T, int HEAD_DIM, int ROWS>
cudaError_t choose_stages(int64_t base_blocks, int sms, DeviceState& device, int* stages) {
    *stages = kDefaultStages;
    if (!throughput_bound(base_blocks, sms)) return cudaSuccess;
    int per_sm_3 = 1, per_sm_default = 1;
    cudaError_t e = decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, 3, &per_sm_3);
    if (e == cudaSuccess) e = decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, kDefaultStages, &per_sm_default);
    if (e == cudaSuccess && per_sm_3 > per_sm_default) *stages = 3;
    return e;
}

// The split count comes from choose_num_splits (decode_heuristics.cpp, host-only, unit-tested).

template <typename T, int HEAD_DIM, int ROWS>
pattn_status run_decode(const AttentionArgs& a, DecodeParams p, const TuningSwitches& tuning, DeviceState& device,
                        bool capturing, cudaStream_t stream) {
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
    const bool lens_by_value = host_lens && a.batch <= kDecodeParamRows && !tuning.upload_lengths;
    if (lens_by_value) {
        p.kv_lens = nullptr;
        p.lens_in_params = 1;
        for (int b = 0; b < a.batch; ++b) p.param_lens[b] = clamp_len(a.kv_lens[b], a.kv_len);
    }

    const int64_t base_blocks = static_cast<int64_t>(a.batch) * a.num_kv_heads * p.row_chunks;
    const int sms = device.sm_count;
    int stages = std::min(tuning.decode_stages, kMaxStages);  // 0: choose
    if (stages == 0) PATTN_CUDA_TRY((choose_stages<T, HEAD_DIM, ROWS>(base_blocks, sms, device, &stages)));
    p.stages = std::min(stages, decode_max_stages<T, HEAD_DIM, ROWS>(device));
    int per_sm = 1;  // also opts the kernel into its shared memory size
    PATTN_CUDA_TRY((decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, p.stages, &per_sm)));
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
    const DecodeClusterMode mode = tuning.decode_cluster;
    const int max_cluster =
        mode == DecodeClusterMode::Off ? 1 : decode_max_cluster<T, HEAD_DIM, ROWS>(device);
    const int64_t grid_blocks = base_blocks * splits;
    const bool cluster_fits = mode == DecodeClusterMode::All ? splits <= max_cluster
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
    const size_t part_lse_bytes = splits > 1 ? 2 * static_cast<size_t>(splits) * rows * 4 : 0;  // max and sum
    const size_t lens_bytes = host_lens && !lens_by_value ? static_cast<size_t>(a.batch) * 4 : 0;
    const size_t total = part_o_bytes + ((part_lse_bytes + 15) / 16 * 16) + lens_bytes;
    unsigned char* workspace = nullptr;
    if (total > 0) PATTN_CUDA_TRY(device.malloc_async(reinterpret_cast<void**>(&workspace), total, stream));

    cudaError_t e = cudaSuccess;
    if (splits > 1) {
        p.part_o = reinterpret_cast<float*>(workspace);
        p.part_state = reinterpret_cast<float*>(workspace + part_o_bytes);
    }
    if (host_lens && !lens_by_value) {
        int32_t* lens = reinterpret_cast<int32_t*>(workspace + part_o_bytes +
                                                   (part_lse_bytes + 15) / 16 * 16);
        p.kv_lens = lens;
        if (capturing) {
            // A graph may not copy from pageable memory (common/capture.h).
            const pattn_status us = upload_by_kernel(lens, a.kv_lens, lens_bytes, stream, "decode kv_valid_lens upload");
            if (us != PATTN_STATUS_SUCCESS) {
                cudaFreeAsync(workspace, stream);
                return us;
            }
        } else {
            // Pageable host memory is staged before this returns, so the
            // caller may reuse its array right away.
            e = cudaMemcpyAsync(lens, a.kv_lens, lens_bytes, cudaMemcpyHostToDevice, stream);
        }
    }
    if (e == cudaSuccess) e = launch_decode_split<T, HEAD_DIM, ROWS>(p, stream);
    if (e == cudaSuccess && splits > 1) {
        CombineParams c{};
        c.set_output(a);
        c.part_o = p.part_o;
        c.part_state = p.part_state;
        c.rows = rows;
        c.splits = splits;
        c.q_len = a.q_len;
        c.num_qo_heads = a.num_qo_heads;
        c.head_dim = HEAD_DIM;
        e = launch_combine<T, HEAD_DIM>(c, static_cast<unsigned>(rows), splits * sizeof(float), device, stream);
    }
    if (workspace) {
        const cudaError_t f = cudaFreeAsync(workspace, stream);
        if (e == cudaSuccess) e = f;
    }
    return cuda_error(e, "decode kernel launch");
}

template <typename T, int HEAD_DIM>
pattn_status run_decode_rows(const AttentionArgs& a, const DecodeParams& p, const TuningSwitches& tuning,
                             DeviceState& device, bool capturing, cudaStream_t stream) {
    if constexpr (mma_decode_supported<HEAD_DIM>()) {
        // Packs of several rows take the tensor-core kernel (decode_params.h
        // kMmaRows): its cost per key does not grow with the rows, and rows
        // of up to 16 read each K/V row once (the CUDA-core packs of 8 read
        // a 14-row pack twice).
        const int min_rows = tuning.decode_mma_min_rows == 0 ? kMmaMinRows : tuning.decode_mma_min_rows;
        if (min_rows > 0 && p.rows_per_kv_head >= min_rows)
            return run_decode<T, HEAD_DIM, kMmaRows>(a, p, tuning, device, capturing, stream);
    }
    if (p.rows_per_kv_head == 1) return run_decode<T, HEAD_DIM, 1>(a, p, tuning, device, capturing, stream);
    if (p.rows_per_kv_head <= 4) return run_decode<T, HEAD_DIM, 4>(a, p, tuning, device, capturing, stream);
    // 5 or 6 rows (GQA groups of 5 or 6, e.g. 40/8 heads; q_len 3 x group 2)
    // in blocks of 8 would spend a quarter to three eighths of the dot
    // products and accumulators on empty rows.
    if (p.rows_per_kv_head <= 6) return run_decode<T, HEAD_DIM, 6>(a, p, tuning, device, capturing, stream);
    return run_decode<T, HEAD_DIM, 8>(a, p, tuning, device, capturing, stream);
}

template <typename T>
pattn_status decode_with_type(const AttentionArgs& a, void* stream_ptr) {
    // native/core/validate.cpp has checked everything this path relies on:
    // batch <= 65535 and batch * q_len * num_qo_heads <= 2^30 (the grids),
    // num_qo_heads a multiple of num_kv_heads, 16-byte aligned q/k/v/o
    // with strides of multiples of 8 elements.
    // The caller (api.cpp) has made a.device_id current.
    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
    bool capturing = false;
    pattn_status status = query_capture(stream, &capturing);  // before anything touches a stream
    if (status != PATTN_STATUS_SUCCESS) return status;
    const CaptureScope capture_scope(capturing);
    DeviceState* device = device_state(a.device_id, &status);
    if (device == nullptr) return status;
    const TuningSwitches tuning = read_tuning_switches();

    DecodeParams p{};
    static_cast<QkvLayout&>(p) = a;
    p.kv_lens = a.kv_lens;  // replaced by a device copy when the lengths are on the host
    p.batch = a.batch;
    p.q_len = a.q_len;
    p.cache_len = a.kv_len;
    p.num_qo_heads = a.num_qo_heads;
    p.num_kv_heads = a.num_kv_heads;
    p.group = a.num_qo_heads / a.num_kv_heads;
    p.rows_per_kv_head = p.group * a.q_len;
    p.left_padded = a.left_padded ? 1 : 0;
    p.scale_log2 = softmax_scale_log2(a.scale);  // common/online_softmax.cuh
    if (a.page_table) set_page_table(p, a);  // common/paged_kv.cuh
    p.window_left = a.window_left;
    p.window_span = causal_window_span(a.window_left);
    p.soft_cap_log2 = a.soft_cap * kLog2e;
    p.soft_cap_inv_log2 = a.soft_cap > 0.0f ? 1.0f / p.soft_cap_log2 : 0.0f;

    PATTN_DISPATCH_HEAD_DIM("decode", a.head_dim, HEAD_DIM,
                            { return run_decode_rows<T, HEAD_DIM>(a, p, tuning, *device, capturing, stream); })
    return PATTN_STATUS_INTERNAL_ERROR;  // unreachable: every case returns
}

}  // namespace decode_detail

pattn_status decode(const AttentionArgs& a, void* stream_ptr) {
    if (a.batch == 0 || a.q_len == 0) return PATTN_STATUS_SUCCESS;
    PATTN_DISPATCH_DTYPE("decode", a.dtype, T, { return decode_detail::decode_with_type<T>(a, stream_ptr); })
    return PATTN_STATUS_INTERNAL_ERROR;  // unreachable: every case returns
}

}  // namespace cuda
}  // namespace pattn
