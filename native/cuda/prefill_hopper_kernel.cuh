// The Hopper (sm_90a) prefill kernels for head_dim 64, 128 and 256: wgmma.mma_async
// with f32 accumulators, Q and K/V tiles in 128-byte-swizzled shared memory
// described by matrix descriptors, P fed from registers for O = P V.
//
// Block = 128 packed query rows (the host builds the tiles and work items
// with prefill_hopper_block_m, prefill_params.h) run by two consumer
// warpgroups of 64 rows each, or for short rows (SHORT_N) 64 rows run by one
// warpgroup that also loads K/V, several blocks per SM (prefill_params.h
// kPrefillHopperShortBlockM), against KV tiles (128 keys; 64 at head_dim
// 256, where the 128-column f32 output of each thread leaves room for 32
// score registers only) visited from the last visible one down; K and V
// each have two shared-memory stages, rows outside the real key range are
// zero-filled, and only tiles reaching past the keys every row sees are
// masked (mask_rules.h). How the K/V loads, the two GEMMs and the softmax
// are scheduled is the mainloop (below, "The KV mainloops"): by default a
// third, producer warpgroup loads K/V and the consumer warpgroups take
// turns on the tensor cores.
//
// The packed layout (cu_seqlens) runs in every instantiation: its row
// lookup (prefill_tile.cuh locate_block_tile) happens once per block. The
// sliding window (KV tiles outside the tile's window skipped, the others
// masked on both sides) and the soft cap (common/soft_cap.cuh) are the
// VARIANTS instantiation only, so the plain KV loop carries none of them.
//
// Everything of sm_90a sits inside __CUDA_ARCH_FEAT_SM90_ALL: other device
// passes compile an empty kernel without static shared memory, which is how
// the host tells that the sm_90a image is the one loaded
// (prefill_hopper_launch.cuh).
#pragma once

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "common/math_constants.h"
#include "common/online_softmax.cuh"
#include "common/ptx.cuh"
#include "common/softmax.cuh"
#include "common/wgmma.cuh"
#include "common/mbarrier.cuh"
#include "common/tma.cuh"
#include "common/soft_cap.cuh"
#include "mask_rules.h"
#include "prefill_params.h"
#include "prefill_tile.cuh"

namespace pattn {
namespace cuda {
namespace prefill_hopper_detail {

using prefill_detail::row_info;
using prefill_detail::write_keyless_tile;
using prefill_detail::block_mask;
using prefill_detail::BlockTile;
using prefill_detail::locate_block_tile;
using prefill_detail::RowInfo;

constexpr int kThreads = 256;    // the consumers of a 128-row tile: two warpgroups, 64 rows each

// Tile shape per head_dim. Shared memory: Q, then K stage 0/1, then V stage
// 0/1, plus 1 KB slack for the alignment the 128-byte swizzle needs (80 KB
// at d64, 160 KB at d128, 192 KB at d256; short-row tiles: 41 KB at d64, 81
// KB at d128; 73 / 65 KB with the alternative 128 / 48-key tiles at d64 /
// d128; 209 KB with the wide 176-key tiles at d128). SHORT_N: 0 for the
// 128-row tiles, else the keys per KV tile of the short-row tiles. TALL_N:
// 0, or the keys per KV tile of the 128-row tiles where not the default
// (prefill_params.h kPrefillHopperWideBlockN).
template <int HEAD_DIM, int SHORT_N = 0, int TALL_N = 0>
struct HopperTraits {
    static constexpr bool kShort = SHORT_N != 0;
    static constexpr int kHeadDim = HEAD_DIM;
    static constexpr int kBlockM = kShort ? kPrefillHopperShortBlockM : prefill_hopper_block_m(HEAD_DIM);
    static constexpr int kBlockN = kShort ? SHORT_N : TALL_N != 0 ? TALL_N : prefill_hopper_block_n(HEAD_DIM);
    static constexpr int kConsumerThreads = kBlockM * 2;          // one warpgroup per 64 rows
    static constexpr int kMinBlocks = kShort ? prefill_hopper_short_blocks_per_sm(HEAD_DIM, SHORT_N) : 1;
    static constexpr int kChunks = HEAD_DIM / 8;                 // 16-byte chunks per row
    static constexpr int kQTileBytes = kBlockM * HEAD_DIM * 2;
    static constexpr int kKvTileBytes = kBlockN * HEAD_DIM * 2;
    static constexpr int kSmemBytes = 1024 + kQTileBytes + 4 * kKvTileBytes;
    static_assert((kBlockM == 128 || (kShort && kBlockM == 64)) && kBlockN % (kShort || TALL_N ? 16 : 64) == 0 &&
                      HEAD_DIM % 64 == 0,
                  "tile shape");
    static_assert(!kShort || prefill_hopper_has_short_tiles(HEAD_DIM), "short tiles at head_dim 64 / 128");
    static_assert(kSmemBytes <= 227 * 1024, "shared memory of one block");
    static_assert(kMinBlocks * (kSmemBytes + 1024) <= 228 * 1024, "blocks per SM the shared memory allows");
};

// Byte offset of 16-byte chunk `chunk` of row `row` in a [ROWS][head_dim]
// tile stored as the canonical 128-byte-swizzle layout: column blocks of 64
// elements, each [ROWS rows][128 bytes], chunk XOR (row % 8) within a row.
template <int ROWS>
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk) {
    return (uint32_t)((chunk >> 3) * (ROWS * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// S = Q K^T of one KV tile: HEAD_DIM / 16 k16 steps; step kk is column
// block kk / 4, 32 bytes per step inside the 128-byte rows. Issued, not
// waited for.
template <typename T, int HEAD_DIM, int BLOCK_M, int BLOCK_N>
__device__ __forceinline__ void issue_qk(float (&acc_s)[BLOCK_N / 2], uint64_t q_desc, uint64_t k_desc) {
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
        const uint64_t q_off = (uint64_t)(((kk >> 2) * BLOCK_M * 128 + (kk & 3) * 32) >> 4);
        const uint64_t k_off = (uint64_t)(((kk >> 2) * BLOCK_N * 128 + (kk & 3) * 32) >> 4);
        Wgmma<T, BLOCK_N>::ss(acc_s, q_desc + q_off, k_desc + k_off, kk > 0);
    }
}

// O += P V: score n8 tiles 2ks, 2ks+1 are the A fragment of k16 step ks; V
// rows (keys) 16 ks.. of the tile, N-major (d contiguous). Issued, not waited for.
template <typename T, int HEAD_DIM, int BLOCK_N>
__device__ __forceinline__ void issue_pv(float (&acc_o)[HEAD_DIM / 2], const uint32_t (&p)[BLOCK_N / 16][4],
                                         uint64_t v_desc) {
#pragma unroll
    for (int ks = 0; ks < BLOCK_N / 16; ++ks)
        Wgmma<T, HEAD_DIM>::rs(acc_o, p[ks], v_desc + (uint64_t)((ks * 16 * 128) >> 4));
}

// Scores at or past a row's visible-key count, and with WINDOW before its
// first visible key (both relative to this tile), to -inf.
template <int BLOCK_N, bool WINDOW>
__device__ __forceinline__ void mask_scores(float (&acc_s)[BLOCK_N / 2], int vis0, int vis1, int first0, int first1,
                                            int lane) {
#pragma unroll
    for (int j = 0; j < BLOCK_N / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int key = j * 8 + (lane & 3) * 2 + (e & 1);
            if (key >= ((e & 2) ? vis1 : vis0) || (WINDOW && key < ((e & 2) ? first1 : first0)))
                acc_s[j * 4 + e] = -INFINITY;
        }
}

// The flat wgmma accumulators as n8 tiles of the fragment common/softmax.cuh
// works on (same registers, compile-time indices only).
template <int N>
__device__ __forceinline__ float (&as_n8_tiles(float (&acc)[N]))[N / 4][4] {
    return reinterpret_cast<float (&)[N / 4][4]>(acc);
}

// The probabilities as the register A fragments of the P V steps.
template <typename T, int BLOCK_N>
__device__ __forceinline__ void pack_probs(const float (&acc_s)[BLOCK_N / 2], uint32_t (&p)[BLOCK_N / 16][4]) {
#pragma unroll
    for (int ks = 0; ks < BLOCK_N / 16; ++ks)
#pragma unroll
        for (int r = 0; r < 4; ++r) p[ks][r] = Mma<T>::pack(acc_s[8 * ks + 2 * r], acc_s[8 * ks + 2 * r + 1]);
}

// A K or V tile: `rows_valid` rows (the rest zero-filled, never read) into
// one stage by THREADS threads; each copies chunk tid % CHUNKS of rows
// tid / CHUNKS + (THREADS / CHUNKS) * pass.
template <typename T, int ROWS, int CHUNKS, int THREADS>
__device__ __forceinline__ void load_tile(uint32_t dst, const T* src, int64_t stride_s, int rows_valid, int tid) {
    constexpr int kRowsPerPass = THREADS / CHUNKS;
    static_assert(ROWS % kRowsPerPass == 0, "whole passes");
    const int row0 = tid / CHUNKS;
    const int chunk = tid % CHUNKS;
    const T* g = src + row0 * stride_s + chunk * 8;
    const int64_t step = kRowsPerPass * stride_s;
    const uint32_t d0 = dst + tile_offset<ROWS>(row0, chunk);
#pragma unroll
    for (int pass = 0; pass < ROWS / kRowsPerPass; ++pass) {
        const int row = row0 + pass * kRowsPerPass;
        const bool valid = row < rows_valid;
        // A pass of 8k rows keeps row % 8, so the swizzle of row0 holds; 4
        // rows per pass (128 producer threads at head_dim 256) flip it.
        const uint32_t d =
            kRowsPerPass % 8 == 0 ? d0 + pass * kRowsPerPass * 128 : dst + tile_offset<ROWS>(row, chunk);
        cp_async_16(d, valid ? g : src, valid);
        g += step;
    }
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// The KV mainloops (prefill_params.h; tuning.h PADDEDATTN_PREFILL_HOPPER_MAINLOOP):
//   kHopperMainloopLockStep: per tile S = Q K^T, wait, softmax, O += P V, wait;
//     one __syncthreads per tile, nothing overlaps the softmax.
//   kHopperMainloopOverlap: per step S_i = Q K_i^T and O += P_{i-1} V_{i-1} are
//     issued together, the softmax of S_i runs while P V is on the tensor
//     cores (wgmma.wait_group 1), then O is rescaled and P_i packed. K of
//     tile i+1 and V of tile i load during step i, so K and V use their
//     two stages out of phase; still one __syncthreads per step.
//   kHopperMainloopWarpSpecialized: the same steps in two consumer
//     warpgroups, with a third (producer) warpgroup issuing the K/V
//     cp.async copies; stages are handed over with mbarriers (full: the
//     producer's copies landed; empty: all 8 consumer warps are done
//     reading), registers go to the consumers (setmaxnreg).
//   kHopperMainloopPingPong: as warp-specialised, and the two consumer
//     warpgroups take turns issuing their GEMMs (named barriers 2 and 3), so
//     one's softmax runs under the other's GEMMs.
//   short-row tiles (SHORT_N > 0): the overlap mainloop in the one warpgroup.
constexpr int block_threads(int mainloop, bool short_tiles) {
    return short_tiles ? 128 : mainloop >= kHopperMainloopWarpSpecialized ? kThreads + 128 : kThreads;
}
// Registers per thread after setmaxnreg: 128 x 40 + 256 x 232 <= 64K.
constexpr int kProducerRegs = 40;
constexpr int kConsumerRegs = 232;
// Named barriers: 0 is __syncthreads; 1 the two consumer warpgroups
// (warp-specialised epilogue); 2 + w the turn of consumer warpgroup w.
constexpr int kConsumerBarrier = 1;
constexpr int kTurnBarrier = 2;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// One tile (or work item) `work` of the grid (prefill_params.h), run by the
// whole block: the kernel below runs one, or with PERSISTENT a strided
// sequence of them. `maps`: the kernel's PrefillTmaParams when it takes
// them (tensor maps of k / v, valid where tma_kv is set), else null.
template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS, int MAINLOOP, int SHORT_N, int TALL_N>
__device__ __forceinline__ void run_tile(const PrefillParams& params, int32_t work, const PrefillTmaParams* maps) {
    using Tr = HopperTraits<HEAD_DIM, SHORT_N, TALL_N>;
    constexpr int kBlockM = Tr::kBlockM, kBlockN = Tr::kBlockN, kChunks = Tr::kChunks;
    constexpr int kConsumerThreads = Tr::kConsumerThreads;
    static_assert(!Tr::kShort || MAINLOOP == kHopperMainloopOverlap, "short tiles: the overlap mainloop");
    constexpr int kOutRegs = HEAD_DIM / 2;   // m64nHEAD_DIM accumulators per thread
    constexpr int kScoreRegs = kBlockN / 2;  // m64nBLOCK_N accumulators per thread
    constexpr bool kWs = MAINLOOP >= kHopperMainloopWarpSpecialized;
    constexpr bool kPingPong = MAINLOOP == kHopperMainloopPingPong;
    __shared__ int32_t row_visible[kBlockM];
    __shared__ int32_t row_first[VARIANTS ? kBlockM : 1];  // first visible key per row (window)
    __shared__ int32_t block_state[16];
    // Warp-specialised stage barriers: full K 0/1, full V 0/1, empty K 0/1, empty V 0/1.
    __shared__ __align__(8) uint64_t stage_bars[kWs ? 8 : 1];
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t smem_base = (smem_addr(smem_raw) + 1023) & ~1023u;
    unsigned char* smem_aligned = smem_raw + (smem_base - smem_addr(smem_raw));
    const uint32_t q_smem = smem_base;
    const uint32_t k_smem = smem_base + Tr::kQTileBytes;                         // + stage * kKvTileBytes
    const uint32_t v_smem = smem_base + Tr::kQTileBytes + 2 * Tr::kKvTileBytes;  // + stage * kKvTileBytes
    const uint32_t bars = smem_addr(stage_bars);
    const uint32_t full_k = bars, full_v = bars + 16, empty_k = bars + 32, empty_v = bars + 48;  // + 8 * stage

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp_in_wg = (tid >> 5) & 3;

    // ---- which work, which lengths (shared with prefill_kernel.cuh)
    const BlockTile tile = locate_block_tile<CAUSAL>(params, kBlockM, work);
    const int32_t batch = tile.batch, kv_head = tile.kv_head, q_tile = tile.q_tile;
    const int32_t qv = tile.qv, kv = tile.kv;
    const int32_t keys_all = tile.keys_all, keys_any = tile.keys_any;
    const int32_t p0 = tile.p0, p_end = tile.p_end;
    const RowExtent ext = tile.ext;
    const int32_t group = params.group_size;
    const MaskSpec mask = VARIANTS ? block_mask<CAUSAL>(params) : mask_spec(CAUSAL);
    // KV tiles [first_kv_tile, num_kv_tiles): with a window, its tiles only.
    const int num_kv_tiles = (keys_any + kBlockN - 1) / kBlockN;
    const int first_kv_tile = VARIANTS ? min(tile.keys_first / kBlockN, num_kv_tiles) : 0;
    const int num_steps = num_kv_tiles - first_kv_tile;  // tiles visited, from the last one down

    // A tile none of whose rows sees a key: o = 0 and lse = -inf, written
    // directly by every thread of the block, without the epilogue's staging
    // and barriers (prefill_tile.cuh write_keyless_tile). The condition is
    // the block's, so the whole block returns here. Not at head_dim 256,
    // whose warp-specialised kernels already spill.
    if constexpr (HEAD_DIM < 256) {
        if (num_steps <= 0) {
            write_keyless_tile<T, kBlockM, kChunks, block_threads(MAINLOOP, Tr::kShort)>(
                params, batch, kv_head, p0, p_end, group, ext, mask, tid);
            return;
        }
    }
    enum { S_BATCH, S_KV_HEAD, S_QV, S_KV, S_KEYS_ALL, S_KEYS_ANY, S_Q_TILE, S_Q_FIRST, S_KEYS_ALL_FIRST };
    if (tid == 0) {
        block_state[S_BATCH] = batch;
        block_state[S_KV_HEAD] = kv_head;
        block_state[S_QV] = qv;
        block_state[S_KV] = kv;
        block_state[S_KEYS_ALL] = keys_all;
        block_state[S_KEYS_ANY] = keys_any;
        block_state[S_Q_TILE] = q_tile;
        block_state[S_Q_FIRST] = ext.q_first;
        block_state[S_KEYS_ALL_FIRST] = tile.keys_all_first;
        if constexpr (kWs) {
#pragma unroll
            for (int s = 0; s < 2; ++s) {
                mbarrier_init(full_k + 8 * s, 128);  // one cp.async arrival per producer thread
                mbarrier_init(full_v + 8 * s, 128);
                mbarrier_init(empty_k + 8 * s, 8);   // one arrival per consumer warp
                mbarrier_init(empty_v + 8 * s, 8);
            }
            mbarrier_init_fence();
        }
    }
    if (tid < kBlockM) {
        const RowInfo ri = row_info(p0 + tid, group, kv_head, ext, params.left_padded, mask);
        row_visible[tid] = ri.visible;
        if constexpr (VARIANTS) row_first[tid] = ri.first;
    }

    const T* k_base = static_cast<const T*>(params.k) + batch * params.k_stride_b +
                      (int64_t)ext.k_first * params.k_stride_s + kv_head * params.k_stride_h;
    const T* v_base = static_cast<const T*>(params.v) + batch * params.v_stride_b +
                      (int64_t)ext.k_first * params.v_stride_s + kv_head * params.v_stride_h;
    // Keys of step 0's tile (the last one, possibly partial); every other tile is full.
    const int first_rows = min(kBlockN, keys_any - (num_kv_tiles - 1) * kBlockN);

    // ---- producer warpgroup (warp-specialised): K then V of each step's tile
    // A full tile (every row a real key of this row) goes by TMA when the
    // launch made tensor maps: thread 0 raises the stage's transaction count
    // and issues one box per 64-column block, the other 127 threads arrive
    // plainly, so the barrier's 128 arrivals per phase hold for both kinds
    // of tile. Every thread still waits for the stage to be empty, so that
    // none arrives for a phase before the last one has completed.
    auto produce = [&]() {
        const int ptid = tid;  // 0..127
        const bool tma = maps != nullptr && params.tma_kv != 0;
        const int32_t k_batch = params.k_stride_b != 0 ? batch : 0, v_batch = params.v_stride_b != 0 ? batch : 0;
        auto load_kv = [&](uint32_t dst, uint32_t full, const void* map, const T* base, int64_t stride_s,
                           int32_t batch_coord, int kt, int rows) {
            if (tma && rows == kBlockN) {
                if (ptid == 0) {
                    mbarrier_arrive_expect_tx(full, (uint32_t)Tr::kKvTileBytes);
#pragma unroll
                    for (int c = 0; c < HEAD_DIM / 64; ++c)
                        tma_load_4d(dst + c * kBlockN * 128, map, c * 64, kv_head, ext.k_first + kt * kBlockN,
                                    batch_coord, full);
                } else {
                    mbarrier_arrive(full);
                }
            } else {
                load_tile<T, kBlockN, kChunks, 128>(dst, base + (int64_t)kt * kBlockN * stride_s, stride_s, rows,
                                                    ptid);
                cp_async_mbarrier_arrive(full);
            }
        };
        for (int i = 0; i < num_steps; ++i) {
            const int kt = num_kv_tiles - 1 - i;
            const int rows = i == 0 ? first_rows : kBlockN;
            const uint32_t s = (uint32_t)(i & 1);
            const uint32_t parity = (uint32_t)((i >> 1) & 1) ^ 1u;  // round 0 passes at once
            mbarrier_wait(empty_k + 8 * s, parity);
            load_kv(k_smem + s * Tr::kKvTileBytes, full_k + 8 * s, tma ? &maps->tma_k : nullptr, k_base, params.k_stride_s, k_batch,
                    kt, rows);
            mbarrier_wait(empty_v + 8 * s, parity);
            load_kv(v_smem + s * Tr::kKvTileBytes, full_v + 8 * s, tma ? &maps->tma_v : nullptr, v_base, params.v_stride_s, v_batch,
                    kt, rows);
        }
    };

    // ---- the two consumer warpgroups (all of the block unless warp-specialised)
    auto consume = [&]() {
        const int ctid = kWs ? tid - 128 : tid;  // 0..kConsumerThreads - 1
        const int cwg = ctid >> 7;
        auto consumer_sync = [&]() {
            if constexpr (kWs) named_barrier_sync(kConsumerBarrier, kThreads);
            else __syncthreads();
        };
        // ---- prologue: Q (and, unless a producer loads them, the first K/V tile)
        if (num_steps > 0) {
            const T* q_base = static_cast<const T*>(params.q) + batch * params.q_stride_b;
            const int chunk = ctid % kChunks;
            constexpr int kRowsPerPass = kConsumerThreads / kChunks;
#pragma unroll 2
            for (int pass = 0; pass < kBlockM / kRowsPerPass; ++pass) {
                const int row = ctid / kChunks + pass * kRowsPerPass;
                RowInfo ri = row_info(p0 + row, group, kv_head, ext, params.left_padded, CAUSAL);
                bool valid = ri.real && (p0 + row) < p_end;
                const T* g = q_base + (valid ? ri.position * params.q_stride_s + ri.head * params.q_stride_h : 0) +
                             chunk * 8;
                cp_async_16(q_smem + tile_offset<kBlockM>(row, chunk), g, valid);
            }
            if constexpr (!kWs) {
                const int kt = num_kv_tiles - 1;
                const uint32_t stage = MAINLOOP == kHopperMainloopLockStep ? (uint32_t)(kt & 1) * Tr::kKvTileBytes : 0u;
                load_tile<T, kBlockN, kChunks, kConsumerThreads>(
                    k_smem + stage, k_base + (int64_t)kt * kBlockN * params.k_stride_s, params.k_stride_s,
                    first_rows, ctid);
                load_tile<T, kBlockN, kChunks, kConsumerThreads>(
                    v_smem + stage, v_base + (int64_t)kt * kBlockN * params.v_stride_s, params.v_stride_s,
                    first_rows, ctid);
            }
            cp_async_commit();
            if constexpr (kWs) {
                cp_async_wait_all();
                fence_proxy_async();
                consumer_sync();  // Q visible to both consumer warpgroups' wgmma
            }
        }

        float acc_o[kOutRegs];
#pragma unroll
        for (int i = 0; i < kOutRegs; ++i) acc_o[i] = 0.f;
        float row_max[2] = {-INFINITY, -INFINITY};  // running max of scale_log2 * score
        float row_sum[2] = {0.f, 0.f};              // this thread's share of the exp2 sum
        float row_comp[2] = {0.f, 0.f};             // its Kahan compensation (common/online_softmax.cuh)
        const float scale_log2 = params.scale_log2;
        const int row_local = cwg * 64 + warp_in_wg * 16 + (lane >> 2);  // rows row_local, row_local + 8
        // Q rows of this warpgroup (K-major); K (K-major) and V (N-major: the
        // leading offset steps over 64-column blocks of V) of stage 0, stage 1
        // is + kKvTileBytes.
        const uint64_t q_desc = make_desc(q_smem + cwg * 64 * 128, 16, 1024);
        const uint64_t k_desc = make_desc(k_smem, 16, 1024);
        const uint64_t v_desc = make_desc(v_smem, kBlockN * 128, 1024);
        constexpr uint64_t kStageDesc = Tr::kKvTileBytes >> 4;

        // Soft cap, mask, online softmax of one score tile; returns the output's correction.
        auto softmax_scores = [&](float (&acc_s)[kScoreRegs], int key0, float (&correction)[2]) {
            // soft cap before the mask: s * scale becomes cap * tanh(s * scale / cap)
            if constexpr (VARIANTS) {
                if (params.soft_cap_pre != 0.f) {
#pragma unroll
                    for (int i = 0; i < kScoreRegs; ++i)
                        acc_s[i] = soft_cap_tanh(acc_s[i], params.soft_cap_pre, params.soft_cap_post);
                }
            }
            // mask only tiles reaching outside the keys every row sees
            if (key0 + kBlockN > block_state[S_KEYS_ALL] || (VARIANTS && key0 < block_state[S_KEYS_ALL_FIRST])) {
                if constexpr (VARIANTS)
                    mask_scores<kBlockN, true>(acc_s, row_visible[row_local] - key0, row_visible[row_local + 8] - key0,
                                               row_first[row_local] - key0, row_first[row_local + 8] - key0, lane);
                else
                    mask_scores<kBlockN, false>(acc_s, row_visible[row_local] - key0,
                                                row_visible[row_local + 8] - key0, 0, 0, lane);
            }
            online_softmax_tile<kBlockN / 8>(as_n8_tiles(acc_s), row_max, row_sum, row_comp, scale_log2, correction);
        };

        if constexpr (MAINLOOP == kHopperMainloopLockStep) {
            for (int kt = num_kv_tiles - 1; kt >= first_kv_tile; --kt) {
                const int key0 = kt * kBlockN;
                cp_async_wait_all();
                fence_proxy_async();
                __syncthreads();  // tile kt (and Q) visible; every warpgroup is done with the other stage
                if (kt > first_kv_tile) {
                    const int next = kt - 1;
                    const uint32_t stage = (uint32_t)(next & 1) * Tr::kKvTileBytes;
                    load_tile<T, kBlockN, kChunks, kConsumerThreads>(
                        k_smem + stage, k_base + (int64_t)next * kBlockN * params.k_stride_s, params.k_stride_s,
                        kBlockN, ctid);
                    load_tile<T, kBlockN, kChunks, kConsumerThreads>(
                        v_smem + stage, v_base + (int64_t)next * kBlockN * params.v_stride_s, params.v_stride_s,
                        kBlockN, ctid);
                    cp_async_commit();
                }
                const uint64_t stage_desc = (uint64_t)(kt & 1) * kStageDesc;

                float acc_s[kScoreRegs];
                wgmma_fence();
                issue_qk<T, HEAD_DIM, kBlockM, kBlockN>(acc_s, q_desc, k_desc + stage_desc);
                wgmma_commit();
                wgmma_wait_all();
                fence_regs(acc_s);

                float correction[2];
                softmax_scores(acc_s, key0, correction);
                rescale_rows<HEAD_DIM / 8>(as_n8_tiles(acc_o), correction);

                uint32_t p[kBlockN / 16][4];
                pack_probs<T, kBlockN>(acc_s, p);
                fence_regs(acc_o);
                wgmma_fence();
                issue_pv<T, HEAD_DIM, kBlockN>(acc_o, p, v_desc + stage_desc);
                wgmma_commit();
                wgmma_wait_all();
                fence_regs(acc_o);
            }
        } else {
            // Step i (0..num_steps): S of tile num_kv_tiles - 1 - i (i < num_steps)
            // from K stage i % 2, P V of the step before (i > 0) from V stage
            // (i - 1) % 2. Steps 0 and num_steps are peeled off, so that the
            // steps between issue and wait their wgmma groups without branches.
            float acc_s[kScoreRegs];
            uint32_t p[kBlockN / 16][4];
            // This step's K and the last step's V resident, the stages they leave free refilled.
            auto begin_step = [&](int i) {
                const int kt = num_kv_tiles - 1 - i;
                const uint32_t ks = (uint32_t)(i & 1), vs = (uint32_t)((i + 1) & 1);
                if constexpr (kWs) {
                    if (i < num_steps) mbarrier_wait(full_k + 8 * ks, (uint32_t)((i >> 1) & 1));
                    if (i > 0) mbarrier_wait(full_v + 8 * vs, (uint32_t)(((i - 1) >> 1) & 1));
                    fence_proxy_async();  // the producer's cp.async writes, seen through the barrier, to wgmma
                    if constexpr (kPingPong) named_barrier_sync(kTurnBarrier + cwg, kThreads);  // our turn
                } else {
                    cp_async_wait_all();
                    fence_proxy_async();
                    __syncthreads();  // K of this step, V of the last one visible; the other stages are free
                    if (i + 1 < num_steps)
                        load_tile<T, kBlockN, kChunks, kConsumerThreads>(
                            k_smem + (ks ^ 1u) * Tr::kKvTileBytes,
                            k_base + (int64_t)(kt - 1) * kBlockN * params.k_stride_s, params.k_stride_s, kBlockN,
                            ctid);
                    if (i > 0 && i < num_steps)  // step 0's V came with the prologue
                        load_tile<T, kBlockN, kChunks, kConsumerThreads>(
                            v_smem + ks * Tr::kKvTileBytes, v_base + (int64_t)kt * kBlockN * params.v_stride_s,
                            params.v_stride_s, kBlockN, ctid);
                    cp_async_commit();
                }
            };
            // After issuing: the other consumer warpgroup's turn (its last
            // turn has no successor, so that no arrival is left over).
            auto end_issue = [&](bool last) {
                if constexpr (kPingPong) {
                    if (!(last && cwg == 1)) named_barrier_arrive(kTurnBarrier + (cwg ^ 1), kThreads);
                }
            };
            // The stage is read by this warp's finished wgmma groups only: hand it back.
            auto release = [&](uint32_t bar) {
                if constexpr (kWs) {
                    if (lane == 0) mbarrier_arrive(bar);
                }
            };
            if (num_steps > 0) {
                if constexpr (kPingPong) {
                    if (cwg == 0) named_barrier_arrive(kTurnBarrier, kThreads);  // warpgroup 0 starts
                }
                float correction[2];
                // step 0: S of the last tile only (the output is still zero: no rescale)
                begin_step(0);
                wgmma_fence();
                issue_qk<T, HEAD_DIM, kBlockM, kBlockN>(acc_s, q_desc, k_desc);
                wgmma_commit();
                end_issue(false);
                wgmma_wait<0>();
                fence_regs(acc_s);
                release(empty_k);
                softmax_scores(acc_s, (num_kv_tiles - 1) * kBlockN, correction);
                pack_probs<T, kBlockN>(acc_s, p);
                for (int i = 1; i < num_steps; ++i) {
                    const int kt = num_kv_tiles - 1 - i;
                    const uint32_t ks = (uint32_t)(i & 1), vs = (uint32_t)((i + 1) & 1);
                    begin_step(i);
                    wgmma_fence();
                    issue_qk<T, HEAD_DIM, kBlockM, kBlockN>(acc_s, q_desc, k_desc + ks * kStageDesc);
                    wgmma_commit();
                    issue_pv<T, HEAD_DIM, kBlockN>(acc_o, p, v_desc + vs * kStageDesc);
                    wgmma_commit();
                    end_issue(false);
                    wgmma_wait<1>();  // S done, P V still running under the softmax
                    fence_regs(acc_s);
                    release(empty_k + 8 * ks);
                    softmax_scores(acc_s, kt * kBlockN, correction);
                    wgmma_wait<0>();
                    fence_regs(acc_o);
                    fence_regs(p);
                    release(empty_v + 8 * vs);
                    rescale_rows<HEAD_DIM / 8>(as_n8_tiles(acc_o), correction);
                    pack_probs<T, kBlockN>(acc_s, p);
                }
                // step num_steps: P V of the first tile (nothing refills its stage)
                begin_step(num_steps);
                wgmma_fence();
                issue_pv<T, HEAD_DIM, kBlockN>(acc_o, p, v_desc + (uint64_t)((num_steps + 1) & 1) * kStageDesc);
                wgmma_commit();
                end_issue(true);
                wgmma_wait<0>();
                fence_regs(acc_o);
            }
        }

        // ---- epilogue: normalize, stage in the Q buffer, 16-byte coalesced stores
        consumer_sync();  // every warpgroup's reads of Q are done
        {
            const int32_t batch = block_state[S_BATCH];
            const int32_t kv_head = block_state[S_KV_HEAD];
            RowExtent ext = row_extent(params.q_len, params.kv_len, block_state[S_QV], block_state[S_KV],
                                       params.left_padded);
            if (params.packed) ext.q_first = block_state[S_Q_FIRST];  // a packed sequence has no padding rows
            const int32_t group = params.group_size;
            const int32_t p0 = block_state[S_Q_TILE] * kBlockM;
            const int32_t p_end = min(p0 + kBlockM, (params.packed ? ext.qv : params.q_len) * group);
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const float sum = row_total(row_sum[h]);
                const float inv = row_inverse(sum);
                const int row = row_local + 8 * h;
#pragma unroll
                for (int j = 0; j < HEAD_DIM / 8; ++j) {
                    const uint32_t packed = Mma<T>::pack(acc_o[j * 4 + 2 * h] * inv, acc_o[j * 4 + 2 * h + 1] * inv);
                    *reinterpret_cast<uint32_t*>(smem_aligned + tile_offset<kBlockM>(row, j) + (lane & 3) * 4) = packed;
                }
                if (params.lse != nullptr && (lane & 3) == 0) {
                    const int32_t pr = p0 + row;
                    if (pr < p_end) {
                        RowInfo ri = row_info(pr, group, kv_head, ext, params.left_padded, CAUSAL);
                        const float lse = row_lse(row_max[h], sum);
                        params.lse[batch * params.lse_stride_b + (int64_t)ri.position * params.lse_stride_s +
                                   (int64_t)ri.head * params.lse_stride_h] = lse;
                    }
                }
            }
            consumer_sync();
            T* o_base = static_cast<T*>(params.o) + batch * params.o_stride_b;
            const int chunk = ctid % kChunks;
            constexpr int kRowsPerPass = kConsumerThreads / kChunks;
#pragma unroll 2
            for (int pass = 0; pass < kBlockM / kRowsPerPass; ++pass) {
                const int row = ctid / kChunks + pass * kRowsPerPass;
                const int32_t pr = p0 + row;
                if (pr < p_end) {
                    RowInfo ri = row_info(pr, group, kv_head, ext, params.left_padded, CAUSAL);
                    *reinterpret_cast<uint4*>(o_base + (int64_t)ri.position * params.o_stride_s +
                                              (int64_t)ri.head * params.o_stride_h + chunk * 8) =
                        *reinterpret_cast<const uint4*>(smem_aligned + tile_offset<kBlockM>(row, chunk));
                }
            }
        }
    };

    if constexpr (kWs) {
        __syncthreads();  // barriers initialised, row_visible / block_state written
        // One branch per role, so that setmaxnreg applies (docs: HOPPER habits).
        if (tid < 128) {
            setmaxnreg_dec<kProducerRegs>();
            produce();
        } else {
            setmaxnreg_inc<kConsumerRegs>();
            consume();
        }
    } else {
        consume();
    }
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// The warp-specialised 128-row tiles take PrefillTmaParams (their producer
// may load by TMA), every other instantiation PrefillParams.
template <int MAINLOOP, int SHORT_N>
constexpr bool hopper_takes_tma() {
    return MAINLOOP >= kHopperMainloopWarpSpecialized && SHORT_N == 0;
}
template <int MAINLOOP, int SHORT_N>
using HopperKernelParams = typename std::conditional<hopper_takes_tma<MAINLOOP, SHORT_N>(), PrefillTmaParams,
                                                     PrefillParams>::type;

// VARIANTS: the params may hold a sliding window and a soft cap (the launch
// picks this instantiation only then, prefill_hopper_launch.cuh).
// PERSISTENT (short-row tiles only): the grid is what the SMs hold at once
// (prefill_hopper_launch.cuh), block x runs tiles x, x + gridDim.x, ... of
// params.num_tiles: the heaviest tiles (the first ones) still start first,
// and no block is launched per tile.

template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS, int MAINLOOP, int SHORT_N, int TALL_N = 0,
          bool PERSISTENT = false>
__global__ void __launch_bounds__(block_threads(MAINLOOP, SHORT_N != 0),
                                  HopperTraits<HEAD_DIM, SHORT_N, TALL_N>::kMinBlocks)
    prefill_hopper_kernel(const __grid_constant__ HopperKernelParams<MAINLOOP, SHORT_N> params) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(!PERSISTENT || SHORT_N != 0, "persistent: the short-row tiles (no producer warpgroup)");
    if constexpr (PERSISTENT) {
        for (int32_t work = blockIdx.x; work < params.num_tiles; work += gridDim.x) {
            run_tile<HEAD_DIM, T, CAUSAL, VARIANTS, MAINLOOP, SHORT_N, TALL_N>(params, work, nullptr);
            // The next tile rewrites the row table, the block state and the
            // Q / output staging buffer that this one's epilogue read.
            __syncthreads();
        }
    } else {
        if constexpr (hopper_takes_tma<MAINLOOP, SHORT_N>())
            run_tile<HEAD_DIM, T, CAUSAL, VARIANTS, MAINLOOP, SHORT_N, TALL_N>(params, blockIdx.x, &params);
        else
            run_tile<HEAD_DIM, T, CAUSAL, VARIANTS, MAINLOOP, SHORT_N, TALL_N>(params, blockIdx.x, nullptr);
    }
#endif  // __CUDA_ARCH_FEAT_SM90_ALL
}

}  // namespace prefill_hopper_detail
}  // namespace cuda
}  // namespace pattn
