// The tensor-core masked prefill kernel (FlashAttention-2 style, sm_80+):
// mma.sync m16n8k16 with f32 accumulation, ldmatrix from a swizzled shared
// memory layout, cp.async loads with zero fill for rows outside the real key
// range, online softmax in registers with exp2.
//
// Block = one query tile of BLOCK_M packed rows (query position x GQA head of
// one KV head) against the KV tiles that tile can see. Each warp owns
// WARP_ROWS consecutive rows. KV tiles are visited from the last visible one
// down to the first, so the tiles that need a per-element mask come first and
// the rest run without mask checks.
//
// PLAIN kernels (no window, no soft cap, rows of at most
// kPrefillPlainMaxKeys keys: prefill_params.h) leave out the window's
// per-row first keys, the soft-cap pass and the compensated softmax sum; the
// host picks them for every call without those features. Rows is
// PrefillLargeRows when grid mode reads a large batch's host lengths from
// the second kernel parameter, else PrefillNoLargeRows.
//
// TILE_SUMS kernels (general only, for rows of more than
// kPrefillPlainMaxKeys keys) move the output accumulator every
// kPrefillFlushKeys keys into an f32 buffer in shared memory with ordinary
// (round-to-nearest) f32 arithmetic and restart it from 0: the tensor cores'
// accumulation does not round to nearest, so adding every 16-key P·V step to
// a running sum millions of times larger loses ~2^-24 of the weight per step
// (a quarter of it at 2^26 keys); between flushes the loss stays below
// 2^-24 per step of one flush period's share (docs/semantics.md, "Limits").
// The row sums restart with it (flush_output), in place of the Kahan
// compensation. The buffer costs BLOCK_M x head_dim floats of shared memory
// (one block per SM instead of two at head_dim 128), which only such rows pay.
#pragma once

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "common/math_constants.h"
#include "common/online_softmax.cuh"
#include "common/paged_kv.cuh"
#include "common/ptx.cuh"
#include "common/softmax.cuh"
#include "common/soft_cap.cuh"
#include "mask_rules.h"
#include "prefill_params.h"
#include "prefill_tile.cuh"

namespace pattn {
namespace cuda {
namespace prefill_detail {

// KV tiles between two flushes of a TILE_SUMS kernel: a power of two (a mask
// test in the KV loop) of at most kPrefillFlushKeys keys.
constexpr int prefill_flush_tiles(int block_n) {
    int tiles = 1;
    while (tiles * 2 * block_n <= kPrefillFlushKeys) tiles *= 2;
    return tiles;
}

// Rows of a shared-memory tile: head_dim rounded up to a power of two of at
// least 64 elements, so that the swizzle below has whole groups of 8 chunks
// and every row starts at a multiple of its size (the XOR addressing of the
// ldmatrix steps needs both). head_dim 32 / 80 / 96 leave the chunks past
// head_dim unused: they are never loaded from global memory nor read.
constexpr int prefill_smem_row(int head_dim) {
    int row = 64;
    while (row < head_dim) row *= 2;
    return row;
}

template <int HEAD_DIM_, int BLOCK_M_, int BLOCK_N_, int NUM_WARPS_, int MIN_BLOCKS_ = 2, int KV_STAGES_ = 1>
struct Traits {
    static constexpr int MIN_BLOCKS = MIN_BLOCKS_;  // blocks per SM the registers must allow
    // K/V buffer pairs (plain kernels only, see the KV loop): 1 = one K and
    // one V buffer, V loading during Q·K^T and the next K during P·V
    // (FlashAttention-2's schedule, two barriers per KV tile); S >= 2 = S
    // (K, V) slots, the first S tiles' loads issued with Q at the block's
    // start and each later tile S - 1 tiles ahead, one barrier per KV tile.
    static constexpr int KV_STAGES = KV_STAGES_;
    static constexpr int HEAD_DIM = HEAD_DIM_;
    static constexpr int SMEM_ROW = prefill_smem_row(HEAD_DIM_);  // elements per tile row
    static constexpr int BLOCK_M = BLOCK_M_;
    static constexpr int BLOCK_N = BLOCK_N_;
    static constexpr int NUM_WARPS = NUM_WARPS_;
    static constexpr int THREADS = NUM_WARPS * 32;
    static constexpr int WARP_ROWS = BLOCK_M / NUM_WARPS;
    static constexpr int M_TILES = WARP_ROWS / 16;       // m16 tiles per warp
    static constexpr int N_TILES = BLOCK_N / 8;          // n8 tiles of scores per row block
    static constexpr int D_TILES = HEAD_DIM / 8;         // n8 tiles of the output
    static constexpr int CHUNKS = HEAD_DIM / 8;          // 16-byte chunks per row (of head_dim)
    static constexpr int Q_ELEMS = BLOCK_M * SMEM_ROW;
    static constexpr int KV_ELEMS = BLOCK_N * SMEM_ROW;
    // Tiles, then the per-block state (16 ints), the two K/V base pointers and
    // per row the end and the start of its visible keys; plus slack to align
    // the tiles to 1 KB (the XOR addressing of the ldmatrix steps relies on it).
    static constexpr int TILE_BYTES = (Q_ELEMS + 2 * KV_STAGES * KV_ELEMS) * 2;
    static constexpr int SLOT_BYTES = 2 * KV_ELEMS * 2;  // one (K, V) slot; a multiple of 1 KB
    static constexpr int STATE_BYTES = 16 * 4;
    static constexpr int SMEM_BYTES = 1024 + TILE_BYTES + STATE_BYTES + 2 * 8 + 2 * BLOCK_M * 4;
    // TILE_SUMS kernels: after those, per thread its output elements
    // (element-major, [i][THREADS]: no bank conflicts), then per row the
    // running max at its last flush and the row sum; a flush every
    // FLUSH_TILES KV tiles (kPrefillFlushKeys keys at most). 64.5 KB at
    // head_dim 256: 162 KB in all, within the A100's 163 KB per block.
    static constexpr int OUT_ELEMS = M_TILES * D_TILES * 4;  // output floats per thread
    static constexpr int FLUSH_BYTES = OUT_ELEMS * THREADS * 4 + 2 * BLOCK_M * 4;
    static constexpr int FLUSH_TILES = prefill_flush_tiles(BLOCK_N);
    // K/V tiles load in whole passes of THREADS / CHUNKS rows when that
    // divides (head_dim 32, 64, 128, 256); otherwise (80, 96) chunk by chunk.
    static constexpr bool WHOLE_LOAD_PASSES = THREADS % CHUNKS == 0 && BLOCK_N % (THREADS / CHUNKS) == 0;
    static_assert(WARP_ROWS % 16 == 0, "a warp owns whole m16 tiles");
    static_assert(HEAD_DIM % 16 == 0, "head_dim comes in k16 steps (and pairs of n8 output tiles)");
    static_assert(BLOCK_N % 16 == 0, "keys come in k16 steps");
    static_assert(SLOT_BYTES % 1024 == 0, "slots keep the 1 KB alignment of the ldmatrix XOR addressing");
};

// The same tile shape with `STAGES` (K, V) slots (Traits::KV_STAGES).
template <class Tr, int STAGES>
using StagedTraits = Traits<Tr::HEAD_DIM, Tr::BLOCK_M, Tr::BLOCK_N, Tr::NUM_WARPS, Tr::MIN_BLOCKS, STAGES>;

// Tile shapes per head_dim (prefill_block_m/n in prefill_params.h agree).
// 32 rows per warp for d64/d128 halve the shared-memory traffic per mma
// compared with 16 (each K/V fragment feeds two m16 tiles); d32/d80/d96 take
// the d64 shape (their accumulators fit the same register budget as d128's).
template <int HEAD_DIM> struct TraitsFor;
template <> struct TraitsFor<32> { using type = Traits<32, 128, 64, 4>; };
template <> struct TraitsFor<64> { using type = Traits<64, 128, 64, 4>; };
template <> struct TraitsFor<80> { using type = Traits<80, 128, 64, 4>; };
template <> struct TraitsFor<96> { using type = Traits<96, 128, 64, 4>; };
template <> struct TraitsFor<128> { using type = Traits<128, 128, PATTN_PREFILL_D128_BLOCK_N, 4>; };
template <> struct TraitsFor<256> { using type = Traits<256, 64, 64, 4>; };
// (K, V) slots of the plain kernels (Traits::KV_STAGES): two, so that a
// short row's whole K/V (up to two tiles) loads with Q at the block's start
// and a longer row's next tile loads a whole tile ahead. One at head_dim
// 256, where a second 64 KB slot pair would leave one block per SM, and for
// the 128-row tiles of head_dim 128, whose 128 output registers per thread
// leave none for it (64 bytes of spills, nvcc 11.8 sm_80).
constexpr int prefill_plain_kv_stages(int head_dim, int block_m) {
    return head_dim == 256 || (head_dim == 128 && block_m == 128) ? 1 : 2;
}
// Short-row tiles (prefill_params.h kPrefillShortBlockM): 16 rows per warp,
// so the accumulators of one m16 tile leave registers for more of the small
// blocks of short rows on an SM: 4 at head_dim 32 / 64 (5 spills with nvcc
// 11.8), 3 at head_dim 80 / 96 / 128.
template <int HEAD_DIM> struct ShortTraitsFor;
template <> struct ShortTraitsFor<32> { using type = Traits<32, kPrefillShortBlockM, 64, 4, 4>; };
template <> struct ShortTraitsFor<64> { using type = Traits<64, kPrefillShortBlockM, 64, 4, 4>; };
template <> struct ShortTraitsFor<80> { using type = Traits<80, kPrefillShortBlockM, 64, 4, 3>; };
template <> struct ShortTraitsFor<96> { using type = Traits<96, kPrefillShortBlockM, 64, 4, 3>; };
template <> struct ShortTraitsFor<128> {
    using type = Traits<128, kPrefillShortBlockM, PATTN_PREFILL_D128_BLOCK_N, 4, 3>;
};

// TILE_SUMS: buf = buf * exp2(m_flush - m) + acc_o, m_flush = m (the running
// max, log2 units), acc_o = 0, and the same for the row sum (summed over the
// four threads of the row); for each of this thread's rows, as the online
// softmax rescales acc_o and the sum itself. The sum restarts with the
// output, so the plain f32 adds of one period's tile sums replace the Kahan
// compensation of the other general kernels (and free its registers). The
// buffer (shared address `buf`) holds OUT_ELEMS x THREADS floats, then
// BLOCK_M maxima and BLOCK_M sums (written by the first thread of a row
// after all four have read them). A row with no key yet has m = -inf: its
// factor is taken against 0 (exp2(-inf) = 0, not NaN) and its buffer is 0.
// FINAL: acc_o = buf * exp2(m_flush - m) + acc_o (the sum in the first
// thread's share) instead, for the epilogue. Every thread of the warp calls it.
template <class Tr, bool FINAL = false>
__device__ __forceinline__ void flush_output(float (&acc_o)[Tr::M_TILES][Tr::D_TILES][4],
                                             const float (&row_max)[Tr::M_TILES][2],
                                             float (&row_sum)[Tr::M_TILES][2], uint32_t buf, int tid) {
    const uint32_t mine = buf + tid * 4;
    const int lane = tid % 32;
    // This thread's first row: the warp's rows, then lane / 4 (softmax.cuh fragment).
    const uint32_t row_max_at = buf + Tr::OUT_ELEMS * Tr::THREADS * 4 + ((tid / 32) * Tr::WARP_ROWS + lane / 4) * 4;
    const uint32_t row_sum_at = row_max_at + Tr::BLOCK_M * 4;
#pragma unroll
    for (int mt = 0; mt < Tr::M_TILES; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row_offset = (mt * 16 + h * 8) * 4;
            const float m = row_max[mt][h];
            const float m_flush = ld_shared_f32(row_max_at + row_offset);
            const float factor = fast_exp2(m_flush - (m == -INFINITY ? 0.f : m));
            if (FINAL) {
                if (lane % 4 == 0) row_sum[mt][h] = fmaf(ld_shared_f32(row_sum_at + row_offset), factor, row_sum[mt][h]);
            } else {
                const float sum = fmaf(ld_shared_f32(row_sum_at + row_offset), factor, row_total(row_sum[mt][h]));
                __syncwarp();  // the row's four threads have read m_flush
                if (lane % 4 == 0) {
                    st_shared_f32(row_max_at + row_offset, m);
                    st_shared_f32(row_sum_at + row_offset, sum);
                }
                row_sum[mt][h] = 0.f;
            }
#pragma unroll
            for (int dt = 0; dt < Tr::D_TILES; ++dt)
#pragma unroll
                for (int e = 2 * h; e < 2 * h + 2; ++e) {
                    const uint32_t b = mine + ((mt * Tr::D_TILES + dt) * 4 + e) * Tr::THREADS * 4;
                    if (FINAL) {
                        acc_o[mt][dt][e] = fmaf(ld_shared_f32(b), factor, acc_o[mt][dt][e]);
                    } else {
                        st_shared_f32(b, fmaf(ld_shared_f32(b), factor, acc_o[mt][dt][e]));
                        acc_o[mt][dt][e] = 0.f;
                    }
                }
        }
}

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows][SMEM_ROW]
// tile. XOR-ing the chunk with row % 8 puts the 8 rows an ldmatrix reads (and
// the 8 chunks a cp.async phase writes) in 8 different bank groups; SMEM_ROW
// is a multiple of 8 chunks, so the XOR stays inside the row.
template <int SMEM_ROW>
__device__ __forceinline__ int swizzle(int row, int chunk) {
    static_assert(SMEM_ROW % 64 == 0, "the swizzle needs >= 8 chunks per row");
    return row * SMEM_ROW + ((chunk ^ (row & 7)) << 3);
}

// Async copy of `rows_valid` rows (the rest zero-filled) of a [BLOCK_N][HEAD_DIM]
// tile. Each thread walks its rows with one pointer and one step, so nothing
// per row stays live across the KV loop. Only the head_dim chunks of a row are
// read from global memory.
template <class Tr, typename T>
__device__ __forceinline__ void load_kv_tile(uint32_t smem_base, const T* src, int64_t stride_s, int rows_valid,
                                             int tid) {
    if constexpr (Tr::WHOLE_LOAD_PASSES) {
        constexpr int ROWS_PER_PASS = Tr::THREADS / Tr::CHUNKS;
        const int row0 = tid / Tr::CHUNKS;
        const int chunk = tid % Tr::CHUNKS;
        const T* g = src + row0 * stride_s + chunk * 8;
        const int64_t step = ROWS_PER_PASS * stride_s;
#pragma unroll
        for (int pass = 0; pass < Tr::BLOCK_N / ROWS_PER_PASS; ++pass) {
            const int row = row0 + pass * ROWS_PER_PASS;
            const bool valid = row < rows_valid;
            cp_async_16(smem_base + swizzle<Tr::SMEM_ROW>(row, chunk) * 2, valid ? g : src, valid);
            g += step;
        }
    } else {
#pragma unroll
        for (int c = tid; c < Tr::BLOCK_N * Tr::CHUNKS; c += Tr::THREADS) {
            const int row = c / Tr::CHUNKS;
            const int chunk = c % Tr::CHUNKS;
            const bool valid = row < rows_valid;
            cp_async_16(smem_base + swizzle<Tr::SMEM_ROW>(row, chunk) * 2, valid ? src + row * stride_s + chunk * 8 : src,
                        valid);
        }
    }
}

// Paged KV cache: the same tile, each row found through the page table of
// the block's batch row (`pages` is k or v offset to the block's KV head).
template <class Tr, typename T>
__device__ __forceinline__ void load_kv_tile_paged(uint32_t smem_base, const PrefillParams& params, const T* pages,
                                                   int64_t page_stride, int64_t slot_stride, int32_t batch, int key0,
                                                   int rows_valid, int tid) {
    const int32_t* row_table = params.page_table + batch * params.page_table_stride;
#pragma unroll
    for (int c = tid; c < Tr::BLOCK_N * Tr::CHUNKS; c += Tr::THREADS) {
        const int row = c / Tr::CHUNKS;
        const int chunk = c % Tr::CHUNKS;
        const bool valid = row < rows_valid;
        const T* g = pages;
        if (valid) {
            const PageSlot at = page_slot(row_table, key0 + row, params.page_size, params.page_shift, params.num_pages);
            g = pages + at.page * page_stride + at.slot * slot_stride + chunk * 8;
        }
        cp_async_16(smem_base + swizzle<Tr::SMEM_ROW>(row, chunk) * 2, g, valid);
    }
}

// The K or V tile of keys [key0, key0 + BLOCK_N) of the block's row (rows
// past rows_valid zero-filled): from the row's contiguous keys at `base`, or
// through the page table when the call has one (base is then the pages
// offset to the KV head).
template <class Tr, typename T>
__device__ __forceinline__ void load_kv_keys(uint32_t smem_base, const PrefillParams& params, const T* base,
                                             int64_t page_stride, int64_t stride_s, int32_t batch, int key0,
                                             int rows_valid, int tid) {
    if (params.page_table != nullptr)
        load_kv_tile_paged<Tr>(smem_base, params, base, page_stride, stride_s, batch, key0, rows_valid, tid);
    else
        load_kv_tile<Tr>(smem_base, base + (int64_t)key0 * stride_s, stride_s, rows_valid, tid);
}

template <class Tr, typename T, bool CAUSAL, bool PLAIN, class Rows, bool TILE_SUMS = false>
__global__ void __launch_bounds__(Tr::THREADS, Tr::MIN_BLOCKS)
    prefill_kernel(const __grid_constant__ PrefillParams params, const __grid_constant__ Rows large_rows) {
    constexpr int HEAD_DIM = Tr::HEAD_DIM;
    constexpr int BLOCK_M = Tr::BLOCK_M;
    constexpr int BLOCK_N = Tr::BLOCK_N;
    constexpr int M_TILES = Tr::M_TILES;
    constexpr int N_TILES = Tr::N_TILES;
    constexpr int D_TILES = Tr::D_TILES;
    constexpr int CHUNKS = Tr::CHUNKS;
    constexpr int SMEM_ROW = Tr::SMEM_ROW;

    extern __shared__ __align__(1024) unsigned char smem_raw[];
    unsigned char* smem_aligned = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
    T* q_smem = reinterpret_cast<T*>(smem_aligned);
    T* k_smem = q_smem + Tr::Q_ELEMS;
    T* v_smem = k_smem + Tr::KV_ELEMS;

    const int tid = threadIdx.x;
    const int warp = tid / 32;
    const int lane = tid % 32;

    // ---- which work, which lengths
    ParamRowArrays rows{params.row_batch, params.row_q, params.row_kv};
    if constexpr (std::is_same_v<Rows, PrefillLargeRows>)
        rows = ParamRowArrays{large_rows.row_batch, large_rows.row_q, large_rows.row_kv};
    const BlockTile tile = locate_block_tile<CAUSAL, PLAIN>(params, BLOCK_M, rows, blockIdx.x);
    const int32_t batch = tile.batch, kv_head = tile.kv_head, q_tile = tile.q_tile;
    const int32_t qv = tile.qv, kv = tile.kv;
    const int32_t keys_all = tile.keys_all, keys_any = tile.keys_any;
    const int32_t p0 = tile.p0, p_end = tile.p_end;
    const RowExtent ext = tile.ext;
    const int32_t group = params.group_size;
    const MaskSpec mask = block_mask<CAUSAL, PLAIN>(params);
    // KV tiles [first_kv_tile, num_kv_tiles): the window's tiles only.
    const int num_kv_tiles = (keys_any + BLOCK_N - 1) / BLOCK_N;
    const int first_kv_tile = PLAIN ? 0 : min(tile.keys_first / BLOCK_N, num_kv_tiles);

    // A tile none of whose rows sees a key: o = 0 and lse = -inf, written
    // directly (prefill_tile.cuh write_keyless_tile). Not at head_dim 256:
    // with this path its kernels spill under nvcc 13 for sm_90a (32-48
    // bytes, H200 build of 2026-12-03); its short rows are rare.
    if constexpr (HEAD_DIM < 256) {
        if (num_kv_tiles <= first_kv_tile) {
            write_keyless_tile<T, BLOCK_M, CHUNKS, Tr::THREADS>(params, batch, kv_head, p0, p_end, group, ext, mask,
                                                                tid);
            return;
        }
    }

    // Values needed only on masked tiles or after the KV loop live in shared
    // memory rather than in registers, which the accumulators need.
    int32_t* block_state = reinterpret_cast<int32_t*>(smem_aligned + Tr::TILE_BYTES);
    const T** kv_bases = reinterpret_cast<const T**>(smem_aligned + Tr::TILE_BYTES + Tr::STATE_BYTES);
    int32_t* row_visible = reinterpret_cast<int32_t*>(smem_aligned + Tr::TILE_BYTES + Tr::STATE_BYTES + 2 * 8);
    int32_t* row_first = row_visible + BLOCK_M;
    // TILE_SUMS only (Tr::FLUSH_BYTES), its shared address formed from the
    // symbol where it is used (a constant), so that nothing about it stays
    // live across the KV loop.
    const auto flush_buffer = []() -> uint32_t {
        const uint32_t base = smem_addr(smem_raw);
        return base + ((1024 - (base & 1023)) & 1023) + Tr::TILE_BYTES + Tr::STATE_BYTES + 2 * 8 + 2 * BLOCK_M * 4;
    };
    enum { S_BATCH, S_KV_HEAD, S_QV, S_KV, S_KEYS_ALL, S_KEYS_ANY, S_Q_TILE, S_Q_FIRST, S_KEYS_ALL_FIRST,
           S_FIRST_KV_TILE };
    // A paged cache has no batch stride (k_stride_b steps pages) and starts at key 0.
    const bool paged = params.page_table != nullptr;
    const T* k_base = static_cast<const T*>(params.k) + (paged ? 0 : batch * params.k_stride_b +
                      (int64_t)ext.k_first * params.k_stride_s) + kv_head * params.k_stride_h;
    const T* v_base = static_cast<const T*>(params.v) + (paged ? 0 : batch * params.v_stride_b +
                      (int64_t)ext.k_first * params.v_stride_s) + kv_head * params.v_stride_h;
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
        block_state[S_FIRST_KV_TILE] = first_kv_tile;
        kv_bases[0] = k_base;
        kv_bases[1] = v_base;
    }
    for (int row = tid; row < BLOCK_M; row += Tr::THREADS) {
        const RowInfo ri = row_info(p0 + row, group, kv_head, ext, params.left_padded, mask);
        row_visible[row] = ri.visible;
        if constexpr (!PLAIN) row_first[row] = ri.first;
        if constexpr (TILE_SUMS) {  // the row's max at the last flush, then its sum
            const uint32_t row_max_at = flush_buffer() + Tr::OUT_ELEMS * Tr::THREADS * 4 + row * 4;
            st_shared_f32(row_max_at, -INFINITY);
            st_shared_f32(row_max_at + BLOCK_M * 4, 0.f);
        }
    }

    // ---- prologue: the Q tile and the first K tile (one stage) or the
    // first KV_STAGES (K, V) tiles (staged), each tile one cp.async group,
    // Q in the first. Tiles are visited from the last visible one down.
    constexpr int STAGES = Tr::KV_STAGES;
    static_assert(STAGES == 1 || (PLAIN && !TILE_SUMS), "staged K/V slots are a plain-kernel schedule");
    if (num_kv_tiles > first_kv_tile) {
        const T* q_base = static_cast<const T*>(params.q) + batch * params.q_stride_b;
#pragma unroll 4
        for (int c = tid; c < BLOCK_M * CHUNKS; c += Tr::THREADS) {
            int row = c / CHUNKS;
            int chunk = c % CHUNKS;
            RowInfo ri = row_info(p0 + row, group, kv_head, ext, params.left_padded, mask);
            bool valid = ri.real && (p0 + row) < p_end;
            const T* g = q_base + (valid ? ri.position * params.q_stride_s + ri.head * params.q_stride_h : 0) + chunk * 8;
            cp_async_16(smem_addr(q_smem + swizzle<SMEM_ROW>(row, chunk)), g, valid);
        }
        if constexpr (STAGES == 1) {
            int kt = num_kv_tiles - 1;
            load_kv_keys<Tr>(smem_addr(k_smem), params, k_base, params.k_stride_b, params.k_stride_s,
                             batch, kt * BLOCK_N, min(BLOCK_N, keys_any - kt * BLOCK_N), tid);
            cp_async_commit();
        }
    }
    if constexpr (STAGES > 1) {
        // Always STAGES groups (empty past the last tile), so that the waits
        // in the KV loop count the same for every block.
#pragma unroll
        for (int s = 0; s < STAGES; ++s) {
            const int kt = num_kv_tiles - 1 - s;
            if (kt >= 0) {
                const uint32_t slot = smem_addr(k_smem) + s * Tr::SLOT_BYTES;
                const int rows = min(BLOCK_N, keys_any - kt * BLOCK_N);
                load_kv_keys<Tr>(slot, params, k_base, params.k_stride_b, params.k_stride_s, batch, kt * BLOCK_N,
                                 rows, tid);
                load_kv_keys<Tr>(slot + Tr::KV_ELEMS * 2, params, v_base, params.v_stride_b, params.v_stride_s,
                                 batch, kt * BLOCK_N, rows, tid);
            }
            cp_async_commit();
        }
    }
    __syncthreads();  // block_state, kv_bases, row_visible, row_first

    const int warp_row0 = warp * Tr::WARP_ROWS;
    float acc_o[M_TILES][D_TILES][4];
    float row_max[M_TILES][2];  // running max of scale_log2 * score (-inf: none yet)
    float row_sum[M_TILES][2];  // this thread's share of the running exp2 sum
    float row_comp[M_TILES][2];  // its Kahan compensation (common/online_softmax.cuh; general kernels only)
#pragma unroll
    for (int mt = 0; mt < M_TILES; ++mt) {
#pragma unroll
        for (int dt = 0; dt < D_TILES; ++dt)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc_o[mt][dt][e] = 0.f;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            row_max[mt][h] = -INFINITY;
            row_sum[mt][h] = 0.f;
            row_comp[mt][h] = 0.f;
        }
    }
    if constexpr (TILE_SUMS) {
        const uint32_t mine = flush_buffer() + tid * 4;
#pragma unroll 4
        for (int i = 0; i < Tr::OUT_ELEMS; ++i) st_shared_f32(mine + i * Tr::THREADS * 4, 0.f);
    }

    // ldmatrix lane addresses. Every ldmatrix row this lane addresses has
    // row % 8 == lane % 8, so the swizzle term is chunk ^ (lane % 8).
    // With chunk = 2 * step + c (c in {0, 1}), (chunk ^ x) = 2 * step ^ (c ^ x);
    // rows are >= 128-byte aligned, so the address of k16 step `step` is the
    // step-0 address XOR (step << 5): one instruction, no extra registers.
    // (K, V) slots are whole KB apart, so adding a slot's offset commutes
    // with that XOR.
    const int lane_xor = lane & 7;
    const uint32_t q_lane = smem_addr(q_smem) + (warp_row0 + (lane % 16)) * SMEM_ROW * 2 +
                            (((lane / 16) ^ lane_xor) << 4);
    const uint32_t k_lane = smem_addr(k_smem) + ((lane % 8) + (lane / 16) * 8) * SMEM_ROW * 2 +
                            ((((lane / 8) % 2) ^ lane_xor) << 4);
    const uint32_t v_lane = smem_addr(v_smem) + ((lane % 8) + ((lane / 8) % 2) * 8) * SMEM_ROW * 2 +
                            (((lane / 16) ^ lane_xor) << 4);
    const float scale_log2 = params.scale_log2;

    // ---- one KV tile, first half: S = Q K^T (K at k_at, this lane's
    // address), soft cap, mask, online softmax, rescale of O.
    const auto tile_scores = [&](float (&acc_s)[M_TILES][N_TILES][4], int key0, uint32_t k_at) {
#pragma unroll
        for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
            for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc_s[mt][nt][e] = 0.f;

#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
            uint32_t a[M_TILES][4];
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt)
                ldmatrix_x4(a[mt], (q_lane ^ (kk << 5)) + mt * 16 * SMEM_ROW * 2);
#pragma unroll
            for (int np = 0; np < N_TILES / 2; ++np) {
                uint32_t b[4];
                ldmatrix_x4(b, (k_at ^ (kk << 5)) + np * 16 * SMEM_ROW * 2);
#pragma unroll
                for (int mt = 0; mt < M_TILES; ++mt) {
                    Mma<T>::run(acc_s[mt][2 * np], a[mt], b[0], b[1]);
                    Mma<T>::run(acc_s[mt][2 * np + 1], a[mt], b[2], b[3]);
                }
            }
        }

        // ---- soft cap (before the mask): s * scale becomes cap * tanh(s * scale / cap)
        if (!PLAIN && params.soft_cap_pre != 0.f) {
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
                for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
                    for (int e = 0; e < 4; ++e)
                        acc_s[mt][nt][e] = soft_cap_tanh(acc_s[mt][nt][e], params.soft_cap_pre, params.soft_cap_post);
        }

        // ---- mask (only tiles reaching outside the keys every row sees)
        if (key0 + BLOCK_N > block_state[S_KEYS_ALL] || (!PLAIN && key0 < block_state[S_KEYS_ALL_FIRST])) {
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
                for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        int key = key0 + nt * 8 + (lane % 4) * 2 + (e & 1);
                        const int row = warp_row0 + mt * 16 + lane / 4 + (e >> 1) * 8;
                        if (key >= row_visible[row] || (!PLAIN && key < row_first[row])) acc_s[mt][nt][e] = -INFINITY;
                    }
        }

        // ---- online softmax (common/softmax.cuh)
#pragma unroll
        for (int mt = 0; mt < M_TILES; ++mt) {
            float correction[2];
            online_softmax_tile<N_TILES, !PLAIN && !TILE_SUMS>(acc_s[mt], row_max[mt], row_sum[mt], row_comp[mt],
                                                               scale_log2, correction);
            rescale_rows<D_TILES>(acc_o[mt], correction);
        }
    };

    // ---- second half: O += P V (V at v_at); the score accumulators of two
    // adjacent n8 tiles are exactly the A fragment of one k16 step.
    const auto tile_values = [&](const float (&acc_s)[M_TILES][N_TILES][4], uint32_t v_at) {
#pragma unroll
        for (int ks = 0; ks < BLOCK_N / 16; ++ks) {
            uint32_t a[M_TILES][4];
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt) {
                a[mt][0] = Mma<T>::pack(acc_s[mt][2 * ks][0], acc_s[mt][2 * ks][1]);
                a[mt][1] = Mma<T>::pack(acc_s[mt][2 * ks][2], acc_s[mt][2 * ks][3]);
                a[mt][2] = Mma<T>::pack(acc_s[mt][2 * ks + 1][0], acc_s[mt][2 * ks + 1][1]);
                a[mt][3] = Mma<T>::pack(acc_s[mt][2 * ks + 1][2], acc_s[mt][2 * ks + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < D_TILES / 2; ++dp) {
                uint32_t b[4];
                ldmatrix_x4_trans(b, (v_at ^ (dp << 5)) + ks * 16 * SMEM_ROW * 2);
#pragma unroll
                for (int mt = 0; mt < M_TILES; ++mt) {
                    Mma<T>::run(acc_o[mt][2 * dp], a[mt], b[0], b[1]);
                    Mma<T>::run(acc_o[mt][2 * dp + 1], a[mt], b[2], b[3]);
                }
            }
        }
    };

    if constexpr (STAGES > 1) {
        // Staged: the i-th tile visited (kt = num_kv_tiles - 1 - i) is group
        // i, in slot i % STAGES. Before visit i >= 1 the block has committed
        // STAGES + i - 1 groups, so at most STAGES - 2 may still be pending
        // (STAGES - 1 before visit 0). After the barrier every warp is done
        // with visit i - 1, so its slot takes the tile of visit i - 1 + STAGES
        // (kt + 1 - STAGES), or an empty group.
        uint32_t slot_off = 0;  // this visit's slot
        bool first_visit = true;
        for (int kt = num_kv_tiles - 1; kt >= 0; --kt) {
            if (first_visit)
                cp_async_wait<STAGES - 1>();
            else
                cp_async_wait<STAGES - 2>();
            __syncthreads();  // this tile visible; the previous visit done in every warp
            if (!first_visit) {
                const int kt_next = kt + 1 - STAGES;
                if (kt_next >= 0) {
                    const uint32_t prev_off = slot_off == 0 ? (STAGES - 1) * Tr::SLOT_BYTES : slot_off - Tr::SLOT_BYTES;
                    const uint32_t slot = smem_addr(k_smem) + prev_off;
                    const int key_next = kt_next * BLOCK_N;  // a full tile: only the last one is partial
                    load_kv_keys<Tr>(slot, params, kv_bases[0], params.k_stride_b, params.k_stride_s,
                                     block_state[S_BATCH], key_next, BLOCK_N, tid);
                    load_kv_keys<Tr>(slot + Tr::KV_ELEMS * 2, params, kv_bases[1], params.v_stride_b,
                                     params.v_stride_s, block_state[S_BATCH], key_next, BLOCK_N, tid);
                }
                cp_async_commit();
            }
            first_visit = false;
            float acc_s[M_TILES][N_TILES][4];
            tile_scores(acc_s, kt * BLOCK_N, k_lane + slot_off);
            tile_values(acc_s, v_lane + slot_off);
            slot_off = slot_off == (STAGES - 1) * Tr::SLOT_BYTES ? 0 : slot_off + Tr::SLOT_BYTES;
        }
    } else {
        const auto first_tile = [&]() -> int { return PLAIN ? 0 : block_state[S_FIRST_KV_TILE]; };
        for (int kt = num_kv_tiles - 1; kt >= first_tile(); --kt) {
            const int key0 = kt * BLOCK_N;  // first real key of this tile
            // ---- long rows: after every FLUSH_TILES KV tiles, O moves into the
            // f32 buffer (see the top of this file); each thread its own
            // elements, each row's four threads in step (__syncwarp), so no
            // block barrier.
            if constexpr (TILE_SUMS) {
                if (((kt + 1) & (Tr::FLUSH_TILES - 1)) == 0)
                    flush_output<Tr>(acc_o, row_max, row_sum, flush_buffer(), tid);
            }
            cp_async_wait_all();
            __syncthreads();  // K tile visible; every warp is done with the V buffer
            load_kv_keys<Tr>(smem_addr(v_smem), params, kv_bases[1], params.v_stride_b, params.v_stride_s,
                             block_state[S_BATCH], key0, min(BLOCK_N, block_state[S_KEYS_ANY] - key0), tid);
            cp_async_commit();

            float acc_s[M_TILES][N_TILES][4];
            tile_scores(acc_s, key0, k_lane);

            cp_async_wait_all();
            __syncthreads();  // V tile visible; every warp is done with the K buffer
            if (kt > first_tile()) {
                load_kv_keys<Tr>(smem_addr(k_smem), params, kv_bases[0], params.k_stride_b, params.k_stride_s,
                                 block_state[S_BATCH], key0 - BLOCK_N, BLOCK_N, tid);
                cp_async_commit();
            }

            tile_values(acc_s, v_lane);
        }
    }

    // The output so far is in the buffer: the last tiles' share joins it.
    if constexpr (TILE_SUMS) flush_output<Tr, true>(acc_o, row_max, row_sum, flush_buffer(), tid);

    // ---- epilogue: normalize, stage this warp's rows in its own part of the
    // Q buffer (no other warp reads them), then 16-byte coalesced stores.
    {
        // Reload what the epilogue needs from shared memory (see block_state).
        const int32_t batch = block_state[S_BATCH];
        const int32_t kv_head = block_state[S_KV_HEAD];
        RowExtent ext = row_extent(params.q_len, params.kv_len, block_state[S_QV], block_state[S_KV],
                                   params.left_padded);
        if (params.packed) ext.q_first = block_state[S_Q_FIRST];
        const int32_t group = params.group_size;
        const int32_t p0 = block_state[S_Q_TILE] * BLOCK_M;
        const int32_t p_end = min(p0 + BLOCK_M, (params.packed ? ext.qv : params.q_len) * group);
        const MaskSpec mask = block_mask<CAUSAL, PLAIN>(params);
        T* o_stage = q_smem;
        __syncwarp();  // every lane's ldmatrix reads of these rows are done
#pragma unroll
        for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const float sum = row_total(row_sum[mt][h]);
                const float inv = row_inverse(sum);
                const int row = warp_row0 + mt * 16 + lane / 4 + h * 8;
#pragma unroll
                for (int dt = 0; dt < D_TILES; ++dt) {
                    uint32_t packed = Mma<T>::pack(acc_o[mt][dt][2 * h] * inv, acc_o[mt][dt][2 * h + 1] * inv);
                    *reinterpret_cast<uint32_t*>(o_stage + swizzle<SMEM_ROW>(row, dt) + (lane % 4) * 2) = packed;
                }
                if (params.lse != nullptr && (lane % 4) == 0) {
                    const int32_t p = p0 + row;
                    if (p < p_end) {
                        RowInfo ri = row_info(p, group, kv_head, ext, params.left_padded, mask);
                        const float lse = row_lse(row_max[mt][h], sum);
                        params.lse[batch * params.lse_stride_b + (int64_t)ri.position * params.lse_stride_s +
                                   (int64_t)ri.head * params.lse_stride_h] = lse;
                    }
                }
            }
        __syncwarp();

        T* o_base = static_cast<T*>(params.o) + batch * params.o_stride_b;
#pragma unroll 4
        for (int c = lane; c < Tr::WARP_ROWS * CHUNKS; c += 32) {
            const int row = warp_row0 + c / CHUNKS;
            const int chunk = c % CHUNKS;
            const int32_t p = p0 + row;
            if (p < p_end) {
                RowInfo ri = row_info(p, group, kv_head, ext, params.left_padded, mask);
                *reinterpret_cast<uint4*>(o_base + (int64_t)ri.position * params.o_stride_s +
                                          (int64_t)ri.head * params.o_stride_h + chunk * 8) =
                    *reinterpret_cast<const uint4*>(o_stage + swizzle<SMEM_ROW>(row, chunk));
            }
        }
    }
}

}  // namespace prefill_detail
}  // namespace cuda
}  // namespace pattn
