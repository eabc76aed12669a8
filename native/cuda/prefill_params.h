// Internal: what the tensor-core prefill kernels receive, and the entry
// points each instantiation file defines: launch_prefill in
// prefill_<dtype>_hdim<d>.cu (mma.sync, sm_80+), launch_prefill_hopper in
// prefill_hopper_<dtype>_hdim<d>.cu (wgmma, sm_90a).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "common/device_state.h"
#include "common/tensor_map.h"
#include "paddedattn.h"
#include "qkv_layout.h"

namespace pattn {
namespace cuda {

// One block of work: query tile `q_tile` of batch row `batch` and KV head
// `kv_head`. The tile covers packed rows [q_tile * BLOCK_M, +BLOCK_M) where a
// packed row p stands for query i = p / group_size of query head
// kv_head * group_size + p % group_size (GQA heads packed into one tile).
// Packed rows past qv * group_size are padding rows (written as o = 0,
// lse = -inf). Host-built work lists carry the row's lengths so the kernel
// never reads host memory; 32 bytes so an entry is two 16-byte loads.
struct PrefillWorkItem {
    int32_t batch;
    int32_t kv_head;
    int32_t q_tile;
    int32_t q_valid;
    int32_t kv_valid;
    int32_t q_first, k_first;  // packed layout: the sequence's first token in q / k (0 otherwise)
    int32_t reserved;
};

// Rows whose lengths can travel in the kernel parameters (host lengths,
// batch <= this): no work list, no copy, no allocation per call. The whole
// struct must stay below the 4 KB kernel-parameter limit of CUDA 11.x.
constexpr int kPrefillParamRows = 256;

// The QkvLayout base holds q/k/v/o/lse (lse null: not written) and strides.
struct PrefillParams : QkvLayout {
    // Work-list mode (work != null): block x runs work[x].
    // Grid mode (work == null): block x runs tile (num_q_tiles - 1 -
    // x % num_q_tiles) of (rank, kv_head) = divmod(x / num_q_tiles,
    // num_kv_heads). With param_rows > 0 the row of rank r is row_batch[r]
    // and its lengths are row_q[r], row_kv[r] (host lengths, checked);
    // otherwise the row is r and the lengths come from device memory (null =
    // full) and are clamped.
    const PrefillWorkItem* work;
    const int32_t* q_lens_device;
    const int32_t* kv_lens_device;

    int32_t batch, q_len, kv_len;
    int32_t num_kv_heads, group_size;
    int32_t num_q_tiles;   // tiles per (batch, kv_head) over q_len * group_size rows
    // Persistent kernels (the Hopper short-row tiles with
    // PADDEDATTN_PREFILL_HOPPER_PERSISTENT=1): the tiles (or work items) in
    // all; block x runs x, x + gridDim.x, ... (the launch sets it).
    int32_t num_tiles;
    float scale_log2;      // softmax scale * log2(e): scores go through exp2
    bool left_padded;

    // Attention variants (mask_rules.h MaskSpec): window sides, -1 =
    // unlimited. Soft cap: scores s become soft_cap_post * tanh(s *
    // soft_cap_pre) (= cap/scale and scale/cap, so that s * scale is capped);
    // soft_cap_pre == 0: off.
    int32_t window_left, window_right;
    float soft_cap_pre, soft_cap_post;
    // Packed layout: grid mode reads sequence b's extent from these device
    // offsets (mask_rules.h packed_row_extent); work-list mode carries it in
    // the items. q_len / kv_len are then the total token counts.
    bool packed;
    const int32_t* cu_q_device;
    const int32_t* cu_kv_device;

    // Paged KV cache (page_table != null, right padding; mma.sync kernel
    // only): k/v are [num_pages, page_size, heads, head_dim], k_stride_b /
    // v_stride_b step pages and k_stride_s / v_stride_s slots; real key j of
    // row b is slot j % page_size of page page_table[b * page_table_stride +
    // j / page_size] (common/paged_kv.cuh). kv_len is a row's capacity.
    const int32_t* page_table;
    int64_t page_table_stride;
    int32_t page_size, num_pages;
    int32_t page_shift;    // log2(page_size) when it is a power of two, else -1

    // K / V through the tensor-memory accelerator (the Hopper kernel's
    // 128-row tiles, CUDA 12+): set by the dispatch to ask for it, and by
    // the launch (prefill_hopper_launch.cuh) to 1 only where the kernel
    // takes PrefillTmaParams and both tensor maps were made.
    int32_t tma_kv;

    int32_t param_rows;    // 0, or batch when the lengths below are used
                           // (packed: row_q / row_kv hold cu_seqlens_q / _kv, batch + 1 entries)
    int32_t row_batch[kPrefillParamRows];
    int32_t row_q[kPrefillParamRows];
    int32_t row_kv[kPrefillParamRows];
};
static_assert(sizeof(PrefillParams) <= 4000, "kernel parameters are limited to 4 KB (CUDA 11.x)");

// The parameters of the Hopper kernel's warp-specialised 128-row tiles:
// with tma_kv set, tma_k / tma_v map k / v in boxes of one KV tile's rows
// (common/tensor_map.h), full KV tiles load by TMA and a row's partial tile
// keeps the cp.async copies that zero-fill past its keys, so the padding of
// k / v is never read. A derived struct, so that every other kernel's
// parameters (and the cost of their launch) stay as they were.
struct PrefillTmaParams : PrefillParams {
    TensorMapStorage tma_k, tma_v;
};
static_assert(sizeof(PrefillTmaParams) <= 4000, "kernel parameters are limited to 4 KB (CUDA 11.x)");

// Host lengths of batches of up to kPrefillLargeParamRows rows (or packed
// host offsets of fewer sequences) by value in a second kernel parameter,
// where CUDA 12.1+ runtime and driver allow 32 KB of kernel parameters
// (prefill_dispatch.cu, large_kernel_params): no work list, no staging copy,
// and captured into a CUDA graph like any parameter. Same meaning as the
// row_* arrays of PrefillParams (row_q / row_kv hold cu_seqlens when packed).
constexpr int kPrefillLargeParamRows = 2048;
struct PrefillLargeRows {
    int32_t row_batch[kPrefillLargeParamRows];
    int32_t row_q[kPrefillLargeParamRows + 1];
    int32_t row_kv[kPrefillLargeParamRows + 1];
};
// The second parameter of the kernels that read their rows from PrefillParams.
struct PrefillNoLargeRows {
    int32_t unused;
};
static_assert(sizeof(PrefillParams) + sizeof(PrefillLargeRows) <= 32000,
              "kernel parameters are limited to 32 KB (CUDA 12.1+)");

// The plain mma.sync kernels (no sliding window, no soft cap) run rows of at
// most this many keys: their running softmax sum adds one partial sum per KV
// tile without Kahan compensation (at most 1024 adds of 64 keys: relative
// error below 2^-14, under a tenth of a bf16 ulp). Longer rows and the
// variants take the general kernels (common/online_softmax.cuh).
constexpr int32_t kPrefillPlainMaxKeys = 65536;

// Rows of more than kPrefillPlainMaxKeys keys take the general kernel with
// TILE_SUMS (prefill_kernel.cuh): its output accumulator moves into an f32
// shared-memory buffer at least every this many keys, so the tensor cores'
// truncating accumulation loses at most ~2^-24 per 16-key step of one
// period (2^15 / 16 steps: ~1e-4 of the weight) instead of of the row.
constexpr int32_t kPrefillFlushKeys = 32768;

// Keys per KV tile at head_dim 128 (a tuning knob: 32, 48 or 64). It sets
// the size of the score accumulators that live next to the 128-register
// output accumulator of a 32-row warp: 64 is ~3% faster on long causal rows
// but spills with nvcc 13 for sm_90a, so 48; see docs/performance.md.
#ifndef PATTN_PREFILL_D128_BLOCK_N
#define PATTN_PREFILL_D128_BLOCK_N 48
#endif

// Query rows and keys per block, per head_dim (the kernel traits in
// prefill_kernel.cuh use the same numbers; the host needs BLOCK_M to build
// work lists and BLOCK_N to rank tiles by cost).
constexpr int prefill_block_m(int head_dim) { return head_dim == 256 ? 64 : 128; }
constexpr int prefill_block_n(int head_dim) { return head_dim == 128 ? PATTN_PREFILL_D128_BLOCK_N : 64; }

// Short-row tiles of the plain mma.sync kernel (head_dim 32 to 128): 64
// query rows per block (16 per warp), so that rows shorter than a 128-row
// tile waste less of it on padding and more, smaller blocks share an SM
// (prefill_kernel.cuh ShortTraitsFor). The dispatch takes them at the
// head_dims of prefill_default_short_tiles where no row has more than
// kPrefillShortTileMaxQueries queries (prefill_dispatch.cu use_short_tiles):
// on the H200 they were 1.03-1.14x the 128-row tiles on every such case
// measured at head_dim 64 and 128 (GQA 4 and 7 included, rows up to 1024),
// but 0.79x at head_dim 96 (docs/performance.md, "Short rows").
constexpr bool prefill_has_short_tiles(int head_dim) { return head_dim <= 128; }
constexpr bool prefill_default_short_tiles(int head_dim) {
    return head_dim == 32 || head_dim == 64 || head_dim == 128;
}
constexpr int kPrefillShortBlockM = 64;
constexpr int64_t kPrefillShortTileMaxQueries = 1024;

// Defined once per (head_dim, element type, causal) in the instantiation
// files; launches the kernel on `stream` (the device of `device`, current)
// and checks the launch.
// `plain`: the kernel without window / soft cap / compensation (see
// kPrefillPlainMaxKeys); `short_tiles` (plain only): kPrefillShortBlockM
// rows per tile; `large_rows` (plain only, null otherwise): the rows of a
// large batch by value (PrefillLargeRows); `tile_sums` (general only): the
// kernel that adds each KV tile's P·V to the output with f32 adds, for rows
// of more than kPrefillPlainMaxKeys keys (prefill_kernel.cuh TILE_SUMS);
// `single_stage` (plain only): one K and one V buffer instead of the staged
// (K, V) slots (prefill_kernel.cuh Traits::KV_STAGES), for A/B runs.
template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_prefill(const PrefillParams& params, const PrefillLargeRows* large_rows, bool plain,
                            bool short_tiles, bool tile_sums, bool single_stage, int num_blocks, DeviceState& device,
                            cudaStream_t stream);

// Packed query rows per block and keys per KV tile of the Hopper kernels
// (the host builds tiles and work items with these; the kernel traits in
// prefill_hopper_kernel.cuh use the same numbers). At head_dim 256 the
// 128-column f32 output per thread leaves room for 64-key score tiles only.
constexpr int prefill_hopper_block_m(int /*head_dim*/) { return 128; }
constexpr int prefill_hopper_block_n(int head_dim) { return head_dim == 256 ? 64 : 128; }
// Keys per KV tile of the 128-row tiles at head_dim 128 without a causal
// mask for A/B runs (PADDEDATTN_PREFILL_HOPPER_WIDE=1, the ping-pong
// mainloop only): FlashAttention-3 takes 176 there, so that the fixed costs
// of one KV step (barriers, the turn hand-over, the row max) are spread over
// more keys; 208 KB of shared memory.
constexpr int kPrefillHopperWideBlockN = 176;
// The short-row tiles of the Hopper kernel (head_dim 64 and 128): one
// consumer warpgroup of 64 rows, loading its own K/V, so that several blocks
// share an SM and one block's load and epilogue latency runs under
// another's GEMMs (prefill_hopper_kernel.cuh SHORT_N). 64-key tiles: 4
// blocks per SM at head_dim 64 (41 KB of shared memory each), 2 at 128.
// The alternative key count of prefill_hopper_short_alt_block_n: 128-key
// tiles at head_dim 64 (3 blocks per SM of 73 KB, for A/B runs with
// PADDEDATTN_PREFILL_HOPPER_SHORT=2), 48-key tiles at 128 (3 blocks per SM
// of 65 KB, the default there: prefill_dispatch.cu hopper_short_block_n).
constexpr bool prefill_hopper_has_short_tiles(int head_dim) { return head_dim == 64 || head_dim == 128; }
constexpr int kPrefillHopperShortBlockM = 64;
constexpr int kPrefillHopperShortBlockN = 64;
constexpr int prefill_hopper_short_alt_block_n(int head_dim) { return head_dim == 64 ? 128 : 48; }
constexpr int prefill_hopper_short_blocks_per_sm(int head_dim, int block_n) {
    return block_n == kPrefillHopperShortBlockN ? (head_dim == 64 ? 4 : 2) : 3;
}

// True when `device` is compute capability 9.0 and the library holds the
// sm_90a image of the Hopper kernel for (HEAD_DIM, T) (decided once per device).
template <int HEAD_DIM, typename T>
bool prefill_hopper_ready(DeviceState& device);

// The KV mainloops of the Hopper kernel (prefill_hopper_kernel.cuh): lock
// step (the first version, kept for A/B runs), intra-warpgroup overlap of
// softmax and P V, warp-specialised (producer warpgroup, mbarriers), and
// warp-specialised with ping-pong of the two consumer warpgroups.
// PADDEDATTN_PREFILL_HOPPER_MAINLOOP (tuning.h) picks one; -1 = default.
// Ping-pong is the default: 1.12-1.18x lock step on the 16k rows, 1.08-1.17x
// on b4 s8192, b16 s2048 and d256 b8 s4096; the overlap alone measured no
// gain (docs/performance.md, "Hopper mainloops").
constexpr int kHopperMainloopLockStep = 0;
constexpr int kHopperMainloopOverlap = 1;
constexpr int kHopperMainloopWarpSpecialized = 2;
constexpr int kHopperMainloopPingPong = 3;
constexpr int kHopperDefaultMainloop = kHopperMainloopPingPong;

// Launches the Hopper kernel on the tiles / work items of `params`, built
// with prefill_hopper_block_m rows per tile, with `mainloop` (-1: default);
// tiles.short_block_n > 0: the short-row tiles (kPrefillHopperShortBlockM
// rows per tile) with that many keys per KV tile (kPrefillHopperShortBlockN,
// or prefill_hopper_short_alt_block_n), whose own mainloop `mainloop` does
// not change; tiles.tall_block_n: 0, or kPrefillHopperWideBlockN for the
// 128-row tiles (head_dim 128, no causal mask, ping-pong mainloop).
// `persistent` (short-row tiles only): a grid of as many blocks as the SMs
// hold, each running every gridDim.x-th tile from its own index on, so that
// the most work still starts first.
struct HopperTiles {
    int short_block_n;  // 0: the 128-row tiles
    int tall_block_n;   // 0: their default key count
    bool persistent;
};
template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_prefill_hopper(const PrefillParams& params, int num_blocks, int mainloop, HopperTiles tiles,
                                   DeviceState& device, cudaStream_t stream);

}  // namespace cuda
}  // namespace pattn
