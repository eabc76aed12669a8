// pattn::cuda::prefill: turns validated AttentionArgs into kernel params,
// places host lengths (kernel parameters, or a copy to the device; a work
// list of query tiles on request, prefill_rows.h) and dispatches on
// head_dim x dtype x causal to the instantiations in prefill_<dtype>_hdim<d>.cu.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backends.h"
#include "common/capture.h"
#include "common/device_state.h"
#include "common/online_softmax.cuh"
#include "common/dispatch.h"
#include "common/math_constants.h"
#include "common/paged_kv.cuh"
#include "common/staging.h"
#include "common/tuning.h"
#include "cuda_check.h"
#include "errors.h"
#include "mask_rules.h"
#include "prefill_params.h"
#include "prefill_rows.h"

namespace pattn {
namespace cuda {
namespace {

// Host lengths of a small batch go into the kernel parameters, rows ordered
// by their work (visible query-key pairs, most first, so long rows do not
// start last); the kernel runs the full grid of query tiles as with device
// lengths. No host-to-device copy, no allocation, nothing to wait for.
// The arrays are PrefillParams' own (batch <= kPrefillParamRows) or those of
// PrefillLargeRows (batch <= kPrefillLargeParamRows).
void fill_param_rows(const AttentionArgs& a, PrefillParams& p, int32_t* row_batch, int32_t* row_q, int32_t* row_kv) {
    thread_local int64_t work[kPrefillLargeParamRows];  // 16 KB: off the caller's stack
    thread_local PlanScratch scratch;
    p.param_rows = a.batch;
    // prefill_rows.h: where one array holds both lengths (the work is then
    // L^2) a counting sort by length that writes the lengths as it goes,
    // else an order by the work itself.
    if (a.q_lens != nullptr && a.kv_lens == a.q_lens &&
        order_rows_by_length(a.q_lens, a.batch, a.longest_q, row_batch, scratch, row_q)) {
        std::memcpy(row_kv, row_q, sizeof(int32_t) * static_cast<size_t>(a.batch));
        return;
    }
    for (int32_t b = 0; b < a.batch; ++b) {
        const int64_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int64_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        work[b] = row_work(qv, kv, a.causal);
    }
    order_rows_by_work(work, a.batch, row_batch, scratch);
    for (int32_t r = 0; r < a.batch; ++r) {
        const int32_t b = row_batch[r];
        row_q[r] = a.q_lens ? a.q_lens[b] : a.q_len;
        row_kv[r] = a.kv_lens ? a.kv_lens[b] : a.kv_len;
    }
}

// Packed host offsets of a small batch by value: row_q / row_kv carry
// cu_seqlens (batch + 1 entries), row_batch the visiting order (most work
// first), as fill_param_rows does for lengths.
void fill_packed_param_rows(const AttentionArgs& a, PrefillParams& p, int32_t* row_batch, int32_t* row_q,
                            int32_t* row_kv) {
    thread_local int64_t work[kPrefillLargeParamRows];  // 16 KB: off the caller's stack
    thread_local int32_t length[kPrefillLargeParamRows];
    thread_local PlanScratch scratch;
    bool ordered = false;
    if (a.cu_kv == a.cu_q) {  // one length per sequence: by length (prefill_rows.h)
        for (int32_t b = 0; b < a.batch; ++b) length[b] = a.cu_q[b + 1] - a.cu_q[b];
        ordered = order_rows_by_length(length, a.batch, a.longest_q, row_batch, scratch);
    }
    if (!ordered) {
        for (int32_t b = 0; b < a.batch; ++b) {
            const RowExtent ext = host_row_extent(a, b);
            work[b] = row_work(ext.qv, ext.kv, a.causal);
        }
        order_rows_by_work(work, a.batch, row_batch, scratch);
    }
    p.param_rows = a.batch;
    std::memcpy(row_q, a.cu_q, sizeof(int32_t) * (static_cast<size_t>(a.batch) + 1));
    std::memcpy(row_kv, a.cu_kv, sizeof(int32_t) * (static_cast<size_t>(a.batch) + 1));
}

// Where the Hopper kernel is the default: the longest row (host lengths; the
// padded length when the lengths are on the device or absent) must reach
// this many tokens. Measured on the H200 in one process against the mma.sync
// kernel (docs/performance.md, "Optimisations: prediction -> result"): at
// head_dim 128 and 256 it is 1.3-1.6x faster on rows of 2k-16k tokens but
// 6-13% slower on batches of short rows (most below 300 tokens), whose
// blocks are mostly padding and where one 160-192 KB block per SM hides
// less latency than two mma.sync blocks; at head_dim 64 its 128-row tiles
// were slower on every case measured (0.26-0.95x), so only its short-row
// tiles are a default there (hopper_short_tiles_default).
int32_t hopper_min_row_len(int head_dim) {
    return head_dim == 64 ? INT32_MAX : 1024;
}

// The longest query count of a call: host lengths / offsets read once by
// validate.cpp (AttentionArgs longest_q), else the padded q_len (device
// offsets: the query total).
int64_t longest_queries(const AttentionArgs& a) { return a.longest_q; }

// Host lengths or host offsets: the longest real row, from validate.cpp's
// one pass (AttentionArgs longest_q / longest_kv); lengths on the device or
// absent: the padded lengths (device offsets: the totals).
int32_t longest_row(const AttentionArgs& a) { return std::max(a.longest_q, a.longest_kv); }

// Where the Hopper kernel's short-row tiles (prefill_params.h
// kPrefillHopperShortBlockM) are the default: head_dims whose rows of at
// most kPrefillShortTileMaxQueries queries measured faster on them than on
// the mma.sync kernel's 64-row tiles (docs/performance.md, "Hopper
// short-row tiles" and the H100 run's tile-shape A/B). head_dim 64, with
// 64-key tiles and four blocks per SM: 1.03-1.17x on every case (BERT-like,
// b64 s512, b32 s1024, GQA 7:1, packed b64 s512; H200 and H100). head_dim
// 128, with 48-key tiles and three blocks per SM: 1.10-1.19x on b64 s512
// causal, b256 s256 and log-normal b128 s1024 in three invocations (its
// 64-key tiles, two blocks per SM, ran 0.77-0.95x), but slower than the
// 128-row ping-pong tiles on rows of 2k tokens, so at 128 they replace only
// the mma.sync default: rows shorter than hopper_min_row_len.
constexpr bool hopper_short_tiles_default(int head_dim) { return head_dim == 64 || head_dim == 128; }

// The Hopper kernel takes its short-row tiles at the head_dims of
// hopper_short_tiles_default where no row has more than
// kPrefillShortTileMaxQueries queries (at head_dim 128 also no row of
// hopper_min_row_len keys or queries), unless PADDEDATTN_PREFILL_HOPPER_SHORT=0;
// with =1 (64-key tiles) or =2 (the alternative key count, prefill_params.h
// prefill_hopper_short_alt_block_n) at head_dim 64 / 128 whatever the row
// lengths.
template <int HEAD_DIM>
bool use_hopper_short_tiles(const AttentionArgs& a, const TuningSwitches& tuning) {
    if (!prefill_hopper_has_short_tiles(HEAD_DIM) || tuning.prefill_hopper_short == 0) return false;
    if (tuning.prefill_hopper_short > 0) return true;
    if (!hopper_short_tiles_default(HEAD_DIM) || longest_queries(a) > kPrefillShortTileMaxQueries) return false;
    return HEAD_DIM == 64 || longest_row(a) < hopper_min_row_len(HEAD_DIM);
}

// Keys per KV tile of the short-row tiles (prefill_params.h): by default
// 64 at head_dim 64 and the alternative count (48) at 128, the two measured
// defaults; =1 / =2 pick one for both head_dims.
int hopper_short_block_n(int head_dim, const TuningSwitches& tuning) {
    if (tuning.prefill_hopper_short == 1) return kPrefillHopperShortBlockN;
    if (tuning.prefill_hopper_short == 2 || head_dim == 128) return prefill_hopper_short_alt_block_n(head_dim);
    return kPrefillHopperShortBlockN;
}

// The Hopper (wgmma) kernel where its sm_90a image runs on this device
// (prefill_params.h) and the shape is one where it was measured faster, or
// everywhere it runs with PADDEDATTN_PREFILL_HOPPER=1; never with
// PADDEDATTN_PREFILL_MMA_SYNC=1 (tuning.h). The two kernels differ in tile
// height at head_dim 256, so the choice is made before the tiles are built.
// The head_dims with a Hopper (sm_90a) instantiation (prefill_hopper_*_hdim*.cu).
template <int HEAD_DIM>
constexpr bool kHopperHeadDim = HEAD_DIM == 64 || HEAD_DIM == 128 || HEAD_DIM == 256;

// Whether some row may see more than kPrefillPlainMaxKeys keys: the padded
// kv_len, or with packed host offsets the longest sequence; a sliding window
// bounds the keys of every row. Such rows take the mma.sync kernel that adds
// each KV tile's P·V with f32 adds (prefill_kernel.cuh TILE_SUMS).
bool has_long_rows(const AttentionArgs& a) {
    // A causal mask closes the window's right side at the query's own key.
    if (a.window_left >= 0 && (a.window_right >= 0 || a.causal) &&
        (int64_t)a.window_left + std::max<int32_t>(a.window_right, 0) + 1 <= kPrefillPlainMaxKeys)
        return false;
    if (a.kv_len <= kPrefillPlainMaxKeys) return false;
    if (!a.packed || a.cu_on_device) return true;
    return a.longest_kv > kPrefillPlainMaxKeys;  // the longest host sequence (validate.cpp)
}

template <int HEAD_DIM, typename T>
bool use_hopper(const AttentionArgs& a, const TuningSwitches& tuning, DeviceState& device) {
    // A sliding window, a soft cap and the packed layout take the same
    // rule as a plain padded call (the Hopper kernel runs them all); a paged
    // KV cache always takes the mma.sync kernel (its tile loads read the page
    // table, prefill_kernel.cuh load_kv_keys).
    if (a.page_table != nullptr) return false;
    if constexpr (!kHopperHeadDim<HEAD_DIM>) {
        return false;  // head_dim 32/80/96: mma.sync only
    } else {
        if (tuning.prefill_mma_sync || !prefill_hopper_ready<HEAD_DIM, T>(device)) return false;
        // The Hopper kernel accumulates P·V on the tensor cores across the
        // whole row and loses weight on rows past ~2^17 keys (docs/semantics.md,
        // "Limits"): long rows take it only when PADDEDATTN_PREFILL_HOPPER=1.
        if (has_long_rows(a)) return tuning.prefill_hopper;
        if (tuning.prefill_hopper || longest_row(a) >= hopper_min_row_len(HEAD_DIM)) return true;
        // Short rows where the short-row tiles are the measured default.
        return hopper_short_tiles_default(HEAD_DIM) && use_hopper_short_tiles<HEAD_DIM>(a, tuning);
    }
}

// The mma.sync kernel without window, soft cap and compensated sum
// (prefill_params.h kPrefillPlainMaxKeys) for every call that needs none of
// them, unless PADDEDATTN_PREFILL_GENERAL=1 (tuning.h).
bool use_plain_kernel(const AttentionArgs& a, const TuningSwitches& tuning) {
    const bool variant = a.window_left >= 0 || a.window_right >= 0 || a.soft_cap != 0.f;
    if (variant || tuning.prefill_general) return false;
    // No window here, so has_long_rows is the row-length rule alone.
    return !has_long_rows(a);
}

// Short-row tiles (prefill_params.h kPrefillShortBlockM) at the head_dims of
// prefill_default_short_tiles where no row has more than
// kPrefillShortTileMaxQueries queries (host lengths or offsets, else the
// padded length), unless PADDEDATTN_PREFILL_TALL_TILES=1; wherever the
// head_dim has them with PADDEDATTN_PREFILL_SHORT_TILES=1.
template <int HEAD_DIM>
bool use_short_tiles(const AttentionArgs& a, const TuningSwitches& tuning) {
    if (!prefill_has_short_tiles(HEAD_DIM) || tuning.prefill_tall_tiles) return false;
    if (tuning.prefill_short_tiles) return true;
    if (!prefill_default_short_tiles(HEAD_DIM)) return false;
    return longest_queries(a) <= kPrefillShortTileMaxQueries;
}

// Whether kernels may take more than 4 KB of parameters: built with CUDA
// 12.1+ and a driver of 12.1+ (decided once per process).
bool large_kernel_params() {
#if CUDART_VERSION >= 12010
    static const bool supported = [] {
        int driver = 0;
        return cudaDriverGetVersion(&driver) == cudaSuccess && driver >= 12010;
    }();
    return supported;
#else
    return false;
#endif
}

// The kernel the dispatch chose for one call.
struct KernelChoice {
    bool hopper, plain, short_tiles;  // short_tiles: of the kernel chosen (Hopper or mma.sync plain)
    bool tile_sums;       // general mma.sync kernel for long rows (has_long_rows)
    bool single_stage;    // plain: one K/V buffer pair (PADDEDATTN_PREFILL_SINGLE_STAGE=1)
    int hopper_mainloop;  // PADDEDATTN_PREFILL_HOPPER_MAINLOOP, -1 = default
    HopperTiles hopper_tiles;  // the Hopper kernel's tile shape (prefill_params.h)
};

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_selected(const PrefillParams& p, const PrefillLargeRows* large_rows, int num_blocks,
                             KernelChoice k, DeviceState& device, cudaStream_t stream) {
    if constexpr (kHopperHeadDim<HEAD_DIM>) {
        if (k.hopper)
            return launch_prefill_hopper<HEAD_DIM, T, CAUSAL>(p, num_blocks, k.hopper_mainloop, k.hopper_tiles, device,
                                                              stream);
    }
    return launch_prefill<HEAD_DIM, T, CAUSAL>(p, large_rows, k.plain, k.short_tiles, k.tile_sums, k.single_stage,
                                               num_blocks, device, stream);
}

// The end of a call that staged its own device buffer (uploaded lengths or
// a work list): launches when the upload succeeded (s), then releases the
// buffer stream-ordered, after the kernel has read it.
template <int HEAD_DIM>
pattn_status launch_and_free(const AttentionArgs& a, const PrefillParams& p, pattn_status s, int64_t num_blocks,
                             KernelChoice kernel, DeviceState& device, void* buffer, cudaStream_t stream) {
    if (s == PATTN_STATUS_SUCCESS) {
        PATTN_DISPATCH_DTYPE("prefill", a.dtype, T, {
            PATTN_DISPATCH_BOOL(a.causal, CAUSAL, {
                s = launch_selected<HEAD_DIM, T, CAUSAL>(p, nullptr, (int)num_blocks, kernel, device, stream);
            })
        })
    }
    const cudaError_t free_error = cudaFreeAsync(buffer, stream);
    if (s != PATTN_STATUS_SUCCESS) return s;
    PATTN_CUDA_TRY(free_error);
    return PATTN_STATUS_SUCCESS;
}

// Host lengths (or host packed offsets) that do not fit in the kernel
// parameters: copied to stream-ordered device memory, and the grid runs as
// with device lengths / offsets (the kernel clamps what it reads, and these
// were checked). Outside a capture the copy goes through the page-locked
// staging ring (common/staging.h: one cudaMemcpyAsync of bytes written in
// place, nothing to wait for); inside one, the ring may not be read at
// replay time, so kernels copy the lengths by parameter into graph-owned
// memory (common/capture.h). kv_lens == q_lens (kv_valid_lens absent) or
// cu_kv == cu_q: one array serves both.
template <int HEAD_DIM>
pattn_status run_with_uploaded_lengths(const AttentionArgs& a, PrefillParams& p, int64_t grid_blocks,
                                       KernelChoice kernel, DeviceState& device, bool capturing,
                                       cudaStream_t stream) {
    const int32_t* first = a.packed ? a.cu_q : a.q_lens;
    const int32_t* second = a.packed ? a.cu_kv : a.kv_lens;
    if (second == first) second = nullptr;
    const size_t row_bytes = (static_cast<size_t>(a.batch) + (a.packed ? 1 : 0)) * sizeof(int32_t);
    const size_t bytes = row_bytes * ((first ? 1 : 0) + (second ? 1 : 0));
    unsigned char* lens = nullptr;
    PATTN_CUDA_TRY(device.malloc_async(reinterpret_cast<void**>(&lens), bytes, stream));
    const int32_t* first_device = first ? reinterpret_cast<const int32_t*>(lens) : nullptr;
    const int32_t* second_device = second ? reinterpret_cast<const int32_t*>(lens + (first ? row_bytes : 0)) : nullptr;
    pattn_status s = PATTN_STATUS_SUCCESS;
    if (capturing) {
        if (first) s = upload_by_kernel(lens, first, row_bytes, stream, "prefill q_valid_lens upload");
        if (s == PATTN_STATUS_SUCCESS && second)
            s = upload_by_kernel(const_cast<int32_t*>(second_device), second, row_bytes, stream,
                                 "prefill kv_valid_lens upload");
    } else {
        StagingChunk chunk;
        s = reserve_staging(a.device_id, bytes, &chunk, "prefill lengths upload");
        if (s == PATTN_STATUS_SUCCESS) {
            unsigned char* host = static_cast<unsigned char*>(chunk.host());
            if (first) std::memcpy(host, first, row_bytes);
            if (second) std::memcpy(host + (first ? row_bytes : 0), second, row_bytes);
            s = chunk.upload(lens, stream, "prefill lengths upload");
        }
    }
    if (a.packed) {
        p.cu_q_device = first_device;
        p.cu_kv_device = second ? second_device : first_device;
    } else {
        p.q_lens_device = a.q_lens ? first_device : nullptr;
        p.kv_lens_device = !a.kv_lens ? nullptr : (a.kv_lens == a.q_lens ? first_device : second_device);
    }
    p.work = nullptr;
    p.param_rows = 0;
    return launch_and_free<HEAD_DIM>(a, p, s, grid_blocks, kernel, device, lens, stream);
}

// PADDEDATTN_PREFILL_WORK_LIST=1 (tuning.h): the host-built work list of
// query tiles (prefill_rows.h), written straight into the staging ring.
template <int HEAD_DIM>
pattn_status run_with_work_list(const AttentionArgs& a, PrefillParams& p, int block_m, int block_n, int num_q_tiles,
                                KernelChoice kernel, DeviceState& device, cudaStream_t stream) {
    thread_local PlanScratch scratch;
    const int64_t count = work_list_size(a, block_m, block_n, num_q_tiles, scratch);
    if (count == 0) return PATTN_STATUS_SUCCESS;
    const size_t bytes = static_cast<size_t>(count) * sizeof(PrefillWorkItem);
    void* device_items = nullptr;
    PATTN_CUDA_TRY(device.malloc_async(&device_items, bytes, stream));
    pattn_status s = PATTN_STATUS_SUCCESS;
    {
        StagingChunk chunk;
        s = reserve_staging(a.device_id, bytes, &chunk, "prefill work list upload");
        if (s == PATTN_STATUS_SUCCESS) {
            build_work_list(a, block_m, block_n, num_q_tiles, scratch, static_cast<PrefillWorkItem*>(chunk.host()));
            s = chunk.upload(device_items, stream, "prefill work list upload");
        }
    }
    p.work = static_cast<const PrefillWorkItem*>(device_items);
    p.q_lens_device = nullptr;
    p.kv_lens_device = nullptr;
    return launch_and_free<HEAD_DIM>(a, p, s, count, kernel, device, device_items, stream);
}

template <int HEAD_DIM>
pattn_status run_with_head_dim(const AttentionArgs& a, PrefillParams& p, const TuningSwitches& tuning,
                               DeviceState& device, bool capturing, cudaStream_t stream) {
    bool hopper = false;
    PATTN_DISPATCH_DTYPE("prefill", a.dtype, T, { hopper = use_hopper<HEAD_DIM, T>(a, tuning, device); })
    const bool plain = !hopper && use_plain_kernel(a, tuning);
    const bool short_tiles =
        hopper ? use_hopper_short_tiles<HEAD_DIM>(a, tuning) : plain && use_short_tiles<HEAD_DIM>(a, tuning);
    const int block_m = hopper ? (short_tiles ? kPrefillHopperShortBlockM : prefill_hopper_block_m(HEAD_DIM))
                        : short_tiles ? kPrefillShortBlockM
                                      : prefill_block_m(HEAD_DIM);
    const int hopper_short_n = hopper && short_tiles ? hopper_short_block_n(HEAD_DIM, tuning) : 0;
    // PADDEDATTN_PREFILL_HOPPER_WIDE=1: the wide KV tiles where they exist (prefill_params.h).
    const int hopper_tall_n = hopper && !short_tiles && tuning.prefill_hopper_wide && HEAD_DIM == 128 && !a.causal &&
                                      (tuning.prefill_hopper_mainloop < 0 ||
                                       tuning.prefill_hopper_mainloop == kHopperMainloopPingPong)
                                  ? kPrefillHopperWideBlockN
                                  : 0;
    const int block_n = !hopper       ? prefill_block_n(HEAD_DIM)
                        : short_tiles   ? hopper_short_n
                        : hopper_tall_n ? hopper_tall_n
                                        : prefill_hopper_block_n(HEAD_DIM);
    // Packed: tiles per sequence cover its longest query count.
    const int64_t total_rows = (int64_t)(a.packed ? a.longest_q : a.q_len) * p.group_size;
    const int64_t num_q_tiles = (total_rows + block_m - 1) / block_m;
    // validate.cpp limits batch * q_len * num_qo_heads to 2^30, which bounds
    // both the packed rows (plus a tile) and the grid below 2^31.
    const int64_t grid_blocks = num_q_tiles * a.num_kv_heads * a.batch;
    p.num_q_tiles = (int32_t)num_q_tiles;
    const bool tile_sums = !hopper && !plain && has_long_rows(a);
    const HopperTiles hopper_tiles{hopper_short_n, hopper_tall_n,
                                   hopper_short_n > 0 && tuning.prefill_hopper_persistent};
    const KernelChoice kernel{hopper, plain, short_tiles, tile_sums, plain && tuning.prefill_single_stage,
                              tuning.prefill_hopper_mainloop, hopper_tiles};

    const bool no_lens = a.q_lens == nullptr && a.kv_lens == nullptr && !a.packed;
    // Packed offsets: on the device, read by the grid; on the host, by value
    // for a small batch, else copied to the device for the grid
    // (run_with_uploaded_lengths).
    // Host lengths of larger batches are copied to the device too; during
    // stream capture they travel in a second, 32 KB kernel parameter instead
    // (one graph node) where the plain mma.sync kernel runs and runtime and
    // driver allow it. Outside capture the copy wins: on an H200 it took
    // 12-15 us of host time per call at 512-2048 rows against 20 us with the
    // 32 KB parameter, and the kernels ran 3-4 % faster (docs/performance.md).
    const bool host_rows = a.packed ? !a.cu_on_device : !a.lens_on_device && !no_lens;
    const bool large_rows = host_rows && plain && !tuning.upload_lengths && !tuning.prefill_small_params &&
                            (capturing || tuning.prefill_large_params) &&
                            (a.packed ? a.batch >= kPrefillParamRows && a.batch < kPrefillLargeParamRows
                                      : a.batch > kPrefillParamRows && a.batch <= kPrefillLargeParamRows) &&
                            large_kernel_params();
    const bool grid = large_rows ||
                      (a.packed ? a.cu_on_device || (a.batch < kPrefillParamRows && !tuning.upload_lengths)
                                : a.lens_on_device || ((no_lens || a.batch <= kPrefillParamRows) && !tuning.upload_lengths));
    if (grid) {
        // Lengths on the device (only known there), absent (every row full)
        // or by value in the parameters: launch every tile; blocks of tiles
        // without real queries just write their padding rows.
        p.work = nullptr;
        p.q_lens_device = a.lens_on_device ? a.q_lens : nullptr;
        p.kv_lens_device = a.lens_on_device ? a.kv_lens : nullptr;
        p.param_rows = 0;
        p.cu_q_device = a.packed && a.cu_on_device ? a.cu_q : nullptr;
        p.cu_kv_device = a.packed && a.cu_on_device ? a.cu_kv : nullptr;
        // 24 KB: kept off the stack of the caller's thread.
        thread_local PrefillLargeRows rows;
        int32_t* row_batch = large_rows ? rows.row_batch : p.row_batch;
        int32_t* row_q = large_rows ? rows.row_q : p.row_q;
        int32_t* row_kv = large_rows ? rows.row_kv : p.row_kv;
        if (a.packed && !a.cu_on_device) fill_packed_param_rows(a, p, row_batch, row_q, row_kv);
        if (!a.packed && !a.lens_on_device && !no_lens) fill_param_rows(a, p, row_batch, row_q, row_kv);
        pattn_status s = PATTN_STATUS_SUCCESS;
        PATTN_DISPATCH_DTYPE("prefill", a.dtype, T, {
            PATTN_DISPATCH_BOOL(a.causal, CAUSAL, {
                s = launch_selected<HEAD_DIM, T, CAUSAL>(p, large_rows ? &rows : nullptr, (int)grid_blocks, kernel,
                                                         device, stream);
            })
        })
        return s;
    }

    if (capturing && a.packed)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "cu_seqlens_q",
                                  "cu_seqlens_q in host memory with a batch of %d sequences (more than %d) cannot "
                                  "be captured into a CUDA graph: pass the offsets in device memory",
                                  (int)a.batch, (int)kPrefillParamRows - 1);
    if (capturing || !tuning.prefill_work_list)
        return run_with_uploaded_lengths<HEAD_DIM>(a, p, grid_blocks, kernel, device, capturing, stream);
    return run_with_work_list<HEAD_DIM>(a, p, block_m, block_n, (int)num_q_tiles, kernel, device, stream);
}

}  // namespace

pattn_status prefill(const AttentionArgs& a, void* stream_ptr) {
    if (a.batch == 0 || a.q_len == 0) return PATTN_STATUS_SUCCESS;
    // The caller (api.cpp) has made a.device_id current.
    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
    bool capturing = false;
    pattn_status status = query_capture(stream, &capturing);  // before anything touches a stream
    if (status != PATTN_STATUS_SUCCESS) return status;
    const CaptureScope capture_scope(capturing);
    DeviceState* device = device_state(a.device_id, &status);
    if (device == nullptr) return status;
    const TuningSwitches tuning = read_tuning_switches();

    PrefillParams p;
    std::memset(&p, 0, sizeof(p));
    static_cast<QkvLayout&>(p) = a;
    p.batch = a.batch;
    p.q_len = a.q_len;
    p.kv_len = a.kv_len;
    p.num_kv_heads = a.num_kv_heads;
    p.group_size = a.num_qo_heads / a.num_kv_heads;
    p.scale_log2 = softmax_scale_log2(a.scale);  // common/online_softmax.cuh
    p.left_padded = a.left_padded;
    p.window_left = a.window_left;
    p.window_right = a.window_right;
    p.soft_cap_pre = a.soft_cap > 0.0f ? a.scale / a.soft_cap : 0.0f;
    p.soft_cap_post = a.soft_cap > 0.0f ? a.soft_cap / a.scale : 0.0f;
    p.packed = a.packed;
    if (a.page_table) set_page_table(p, a);  // common/paged_kv.cuh
    // A request: the Hopper launch makes the tensor maps where its kernel
    // loads with them, and clears it where it cannot (prefill_hopper_launch.cuh).
    p.tma_kv = tuning.prefill_hopper_tma && a.page_table == nullptr ? 1 : 0;

    PATTN_DISPATCH_PREFILL_HEAD_DIM(a.head_dim, HEAD_DIM,
                                    { return run_with_head_dim<HEAD_DIM>(a, p, tuning, *device, capturing, stream); })
    return PATTN_STATUS_INTERNAL_ERROR;  // unreachable: every case returns
}

}  // namespace cuda
}  // namespace pattn
