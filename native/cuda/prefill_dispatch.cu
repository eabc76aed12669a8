// pattn::cuda::prefill: turns validated AttentionArgs into kernel params,
// builds the work list of query tiles (host lengths) and dispatches on
// head_dim x dtype x causal to the instantiations in prefill_<dtype>_hdim<d>.cu.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backends.h"
#include "common/device_state.h"
#include "common/dispatch.h"
#include "common/math_constants.h"
#include "common/staging.h"
#include "common/tuning.h"
#include "cuda_check.h"
#include "errors.h"
#include "mask_rules.h"
#include "prefill_params.h"

namespace pattn {
namespace cuda {
namespace {

// One entry per (batch, kv_head, query tile), heaviest tiles first (counting
// sort by the number of KV tiles a tile visits), so the long causal tiles do
// not start last. Tiles with no real query (padding only, or rows that see no
// key) cost 0: they only write o = 0 / lse = -inf and go at the end.
void build_work_list(const AttentionArgs& a, int block_m, int block_n, int num_q_tiles,
                     std::vector<PrefillWorkItem>* out) {
    const int32_t group = a.num_qo_heads / a.num_kv_heads;
    const int max_cost = (a.kv_len + block_n - 1) / block_n;
    std::vector<int32_t> tile_cost;  // per (batch, tile)
    tile_cost.resize((size_t)a.batch * num_q_tiles);
    std::vector<int64_t> count(max_cost + 2, 0);
    for (int32_t b = 0; b < a.batch; ++b) {
        const int32_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int32_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        const int32_t real_rows = qv * group;
        for (int32_t t = 0; t < num_q_tiles; ++t) {
            const int32_t p0 = t * block_m;
            int cost = 0;
            if (p0 < real_rows) {
                const int32_t p_last = (p0 + block_m < real_rows ? p0 + block_m : real_rows) - 1;
                TileKeyRange r = tile_key_range(p0 / group, p_last / group + 1, qv, kv, a.causal);
                cost = (r.keys_any + block_n - 1) / block_n;
            }
            tile_cost[(size_t)b * num_q_tiles + t] = cost;
            count[cost] += a.num_kv_heads;
        }
    }
    // Offsets for descending cost.
    std::vector<int64_t> offset(max_cost + 2, 0);
    int64_t running = 0;
    for (int c = max_cost + 1; c >= 0; --c) {
        offset[c] = running;
        running += count[c];
    }
    out->resize((size_t)running);
    // Within one cost, the tiles of one (batch, kv_head) stay adjacent so
    // blocks running together share K/V in L2.
    for (int32_t b = 0; b < a.batch; ++b) {
        const int32_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int32_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        for (int32_t h = 0; h < a.num_kv_heads; ++h) {
            for (int32_t t = 0; t < num_q_tiles; ++t) {
                const int cost = tile_cost[(size_t)b * num_q_tiles + t];
                PrefillWorkItem& w = (*out)[(size_t)offset[cost]++];
                w.batch = b;
                w.kv_head = h;
                w.q_tile = t;
                w.q_valid = qv;
                w.kv_valid = kv;
                w.reserved[0] = w.reserved[1] = w.reserved[2] = 0;
            }
        }
    }
}

// Host lengths of a small batch go into the kernel parameters, rows ordered
// by their work (visible query-key pairs, most first, so long rows do not
// start last); the kernel runs the full grid of query tiles as with device
// lengths. No host-to-device copy, no allocation, nothing to wait for.
void fill_param_rows(const AttentionArgs& a, PrefillParams& p) {
    int64_t work[kPrefillParamRows];
    int32_t order[kPrefillParamRows];
    for (int32_t b = 0; b < a.batch; ++b) {
        const int64_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int64_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        // Causal: real query i sees min(kv, i + 1 + kv - qv) keys; twice the
        // sum is close to qv * (2 kv - qv) (exact when kv >= qv).
        work[b] = a.causal ? qv * std::max<int64_t>(2 * kv - qv, 0) : qv * kv;
        order[b] = b;
    }
    std::stable_sort(order, order + a.batch, [&](int32_t x, int32_t y) { return work[x] > work[y]; });
    p.param_rows = a.batch;
    for (int32_t r = 0; r < a.batch; ++r) {
        const int32_t b = order[r];
        p.row_batch[r] = b;
        p.row_q[r] = a.q_lens ? a.q_lens[b] : a.q_len;
        p.row_kv[r] = a.kv_lens ? a.kv_lens[b] : a.kv_len;
    }
}

// The Hopper (wgmma) kernel for head_dim 128 where its sm_90a image runs on
// this device (prefill_params.h), unless PADDEDATTN_PREFILL_MMA_SYNC=1
// (tuning.h); the mma.sync kernel otherwise. Same tiles, same work items and
// row order.
template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_selected(const PrefillParams& p, int num_blocks, const TuningSwitches& tuning,
                             DeviceState& device, cudaStream_t stream) {
    if constexpr (HEAD_DIM == 128) {
        if (!tuning.prefill_mma_sync && prefill_hopper_ready<T>(device))
            return launch_prefill_hopper<T, CAUSAL>(p, num_blocks, device, stream);
    }
    return launch_prefill<HEAD_DIM, T, CAUSAL>(p, num_blocks, device, stream);
}

template <int HEAD_DIM>
pattn_status run_with_head_dim(const AttentionArgs& a, PrefillParams& p, const TuningSwitches& tuning,
                               DeviceState& device, cudaStream_t stream) {
    constexpr int block_m = prefill_block_m(HEAD_DIM);
    constexpr int block_n = prefill_block_n(HEAD_DIM);
    const int64_t total_rows = (int64_t)a.q_len * p.group_size;
    const int64_t num_q_tiles = (total_rows + block_m - 1) / block_m;
    const int64_t grid_blocks = num_q_tiles * a.num_kv_heads * a.batch;
    if (total_rows + block_m > INT32_MAX || grid_blocks > INT32_MAX)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "q_len * (num_qo_heads / num_kv_heads) = %lld packed rows per (batch, kv head) "
                         "(%lld query tiles in all) exceeds the CUDA prefill kernel's 32-bit indexing",
                         (long long)total_rows, (long long)grid_blocks);
    p.num_q_tiles = (int32_t)num_q_tiles;

    const bool no_lens = a.q_lens == nullptr && a.kv_lens == nullptr;
    if (a.lens_on_device || ((no_lens || a.batch <= kPrefillParamRows) && !tuning.upload_lengths)) {
        // Lengths on the device (only known there), absent (every row full)
        // or by value in the parameters: launch every tile; blocks of tiles
        // without real queries just write their padding rows.
        p.work = nullptr;
        p.q_lens_device = a.lens_on_device ? a.q_lens : nullptr;
        p.kv_lens_device = a.lens_on_device ? a.kv_lens : nullptr;
        p.param_rows = 0;
        if (!a.lens_on_device && !no_lens) fill_param_rows(a, p);
        pattn_status s = PATTN_STATUS_SUCCESS;
        PATTN_DISPATCH_DTYPE("prefill", a.dtype, T, {
            PATTN_DISPATCH_BOOL(a.causal, CAUSAL, {
                s = launch_selected<HEAD_DIM, T, CAUSAL>(p, (int)grid_blocks, tuning, device, stream);
            })
        })
        return s;
    }

    std::vector<PrefillWorkItem> items;
    build_work_list(a, block_m, block_n, (int)num_q_tiles, &items);
    if (items.empty()) return PATTN_STATUS_SUCCESS;
    const size_t bytes = items.size() * sizeof(PrefillWorkItem);

    void* device_items = nullptr;
    PATTN_CUDA_TRY(device.malloc_async(&device_items, bytes, stream));
    pattn_status s = upload_async(a.device_id, device_items, items.data(), bytes, stream, "prefill work list upload");
    if (s != PATTN_STATUS_SUCCESS) {
        cudaFreeAsync(device_items, stream);
        return s;
    }

    p.work = static_cast<const PrefillWorkItem*>(device_items);
    p.q_lens_device = nullptr;
    p.kv_lens_device = nullptr;
    s = [&]() -> pattn_status {
        PATTN_DISPATCH_DTYPE("prefill", a.dtype, T, {
            PATTN_DISPATCH_BOOL(a.causal, CAUSAL, {
                s = launch_selected<HEAD_DIM, T, CAUSAL>(p, (int)items.size(), tuning, device, stream);
            })
        })
        return s;
    }();
    // Stream-ordered: the buffer is released after the kernel has read it.
    cudaError_t free_error = cudaFreeAsync(device_items, stream);
    if (s != PATTN_STATUS_SUCCESS) return s;
    PATTN_CUDA_TRY(free_error);
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status prefill(const AttentionArgs& a, void* stream_ptr) {
    if (a.batch == 0 || a.q_len == 0) return PATTN_STATUS_SUCCESS;
    // The caller (api.cpp) has made a.device_id current.
    pattn_status status = PATTN_STATUS_SUCCESS;
    DeviceState* device = device_state(a.device_id, &status);
    if (device == nullptr) return status;
    const TuningSwitches tuning = read_tuning_switches();
    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);

    PrefillParams p;
    std::memset(&p, 0, sizeof(p));
    static_cast<QkvLayout&>(p) = a;
    p.batch = a.batch;
    p.q_len = a.q_len;
    p.kv_len = a.kv_len;
    p.num_kv_heads = a.num_kv_heads;
    p.group_size = a.num_qo_heads / a.num_kv_heads;
    p.scale_log2 = a.scale * kLog2e;
    p.left_padded = a.left_padded;

    PATTN_DISPATCH_PREFILL_HEAD_DIM(a.head_dim, HEAD_DIM,
                                    { return run_with_head_dim<HEAD_DIM>(a, p, tuning, *device, stream); })
    return PATTN_STATUS_INTERNAL_ERROR;  // unreachable: every case returns
}

}  // namespace cuda
}  // namespace pattn
