// Which query tile a prefill block runs, its row's lengths, which keys the
// tile sees, and where each packed row of it lives: the work lookup shared
// by the mma.sync kernel (prefill_kernel.cuh) and the Hopper kernel
// (prefill_hopper_kernel.cuh). The rules themselves are mask_rules.h.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "common/ptx.cuh"
#include "mask_rules.h"
#include "prefill_params.h"

namespace pattn {
namespace cuda {
namespace prefill_detail {

// Where packed row p of a tile lives and which keys it sees.
struct RowInfo {
    int32_t position;  // row of q / o / lse
    int32_t head;      // query head
    int32_t visible;   // keys [first, visible) of the real range; 0 for padding rows
    int32_t first;     // 0 without a left window
    bool real;         // a real query (i < qv)
};

__device__ __forceinline__ RowInfo row_info(int32_t p, int32_t group_size, int32_t kv_head, const RowExtent& ext,
                                            bool left_padded, MaskSpec mask) {
    RowInfo r;
    int32_t i = p / group_size;
    r.head = kv_head * group_size + (p - i * group_size);
    r.real = i < ext.qv;
    r.first = 0;
    if (r.real) {
        r.position = ext.q_first + i;
        const KeySpan span = visible_keys(i, ext.qv, ext.kv, mask);
        r.visible = span.end;
        r.first = span.first;
    } else {
        // Padding rows, numbered after the real ones: right padding puts them
        // at [qv, q_len), left padding at [0, q_len - qv).
        int32_t j = i - ext.qv;
        r.position = left_padded ? j : ext.qv + j;
        r.visible = 0;
    }
    return r;
}

__device__ __forceinline__ RowInfo row_info(int32_t p, int32_t group_size, int32_t kv_head, const RowExtent& ext,
                                            bool left_padded, bool causal) {
    return row_info(p, group_size, kv_head, ext, left_padded, mask_spec(causal));
}

// The mask of a call: the kernel's causal flag and the window of the params
// (none in a plain kernel, prefill_params.h kPrefillPlainMaxKeys).
template <bool CAUSAL, bool PLAIN = false>
__device__ __forceinline__ MaskSpec block_mask(const PrefillParams& params) {
    if constexpr (PLAIN) return mask_spec(CAUSAL);
    return mask_spec(CAUSAL, params.window_left, params.window_right);
}

// Where grid mode reads host lengths passed by value: the row_* arrays of
// PrefillParams or of PrefillLargeRows (prefill_params.h).
struct ParamRowArrays {
    const int32_t* row_batch;
    const int32_t* row_q;
    const int32_t* row_kv;
};

// Which tile a block runs, its row's lengths, and which keys the tile sees.
struct BlockTile {
    int32_t batch, kv_head, q_tile, qv, kv;
    RowExtent ext;
    int32_t p0, p_end;            // packed rows [p0, p_end) of the tile
    int32_t keys_all, keys_any;   // tile_key_range of its real rows (0, 0: none)
    int32_t keys_first, keys_all_first;  // ... and its window's first keys (0 without one)
};

template <bool CAUSAL, bool PLAIN = false>
__device__ __forceinline__ BlockTile locate_block_tile(const PrefillParams& params, int32_t block_m,
                                                       const ParamRowArrays& rows, int32_t index) {
    BlockTile t;
    if (params.work != nullptr) {
        const PrefillWorkItem item = params.work[index];
        t.batch = item.batch;
        t.kv_head = item.kv_head;
        t.q_tile = item.q_tile;
        t.qv = item.q_valid;
        t.kv = item.kv_valid;
        t.ext.q_first = item.q_first;
        t.ext.k_first = item.k_first;
    } else {
        // Grid mode (lengths in device memory or in the parameters): the
        // full grid runs, heaviest tiles (the last ones, under a causal mask)
        // first; blocks whose tile holds no real query only write the
        // padding rows.
        int32_t x = index;
        int32_t bh = x / params.num_q_tiles;
        t.q_tile = params.num_q_tiles - 1 - (x - bh * params.num_q_tiles);
        const int32_t rank = bh / params.num_kv_heads;
        t.kv_head = bh - rank * params.num_kv_heads;
        if (params.param_rows > 0 && params.packed) {
            // Packed host offsets by value: row_q / row_kv hold cu_seqlens.
            t.batch = rows.row_batch[rank];
            t.ext = packed_row_extent(rows.row_q, rows.row_kv, t.batch, params.q_len, params.kv_len);
            t.qv = t.ext.qv;
            t.kv = t.ext.kv;
        } else if (params.param_rows > 0) {
            // Host lengths passed by value (already range-checked), rows
            // visited in the order the host chose (most work first).
            t.batch = rows.row_batch[rank];
            t.qv = rows.row_q[rank];
            t.kv = rows.row_kv[rank];
        } else if (params.packed) {
            t.batch = rank;
            t.ext = packed_row_extent(params.cu_q_device, params.cu_kv_device, rank, params.q_len, params.kv_len);
            t.qv = t.ext.qv;
            t.kv = t.ext.kv;
        } else {
            t.batch = rank;
            t.qv = params.q_lens_device ? clamp_len(params.q_lens_device[t.batch], params.q_len) : params.q_len;
            t.kv = params.kv_lens_device ? clamp_len(params.kv_lens_device[t.batch], params.kv_len) : params.kv_len;
        }
    }
    const int32_t group = params.group_size;
    // Packed sequences have no padding rows: their extent is kept as found.
    if (params.packed) {
        t.ext.qv = t.qv;
        t.ext.kv = t.kv;
    } else {
        t.ext = row_extent(params.q_len, params.kv_len, t.qv, t.kv, params.left_padded);
    }
    const int32_t real_rows = t.qv * group;
    t.p0 = t.q_tile * block_m;
    t.p_end = min(t.p0 + block_m, (params.packed ? t.qv : params.q_len) * group);
    t.keys_all = 0;
    t.keys_any = 0;
    t.keys_first = 0;
    t.keys_all_first = 0;
    if (t.p0 < real_rows) {
        int32_t i_begin = t.p0 / group;
        int32_t i_end = (min(t.p_end, real_rows) - 1) / group + 1;
        TileKeyRange range = tile_key_range(i_begin, i_end, t.qv, t.kv, block_mask<CAUSAL, PLAIN>(params));
        t.keys_any = range.keys_any;
        t.keys_first = range.keys_first;
        // Padding rows in the tile see nothing, so every KV tile needs the mask.
        t.keys_all = t.p_end > real_rows ? 0 : range.keys_all;
        t.keys_all_first = range.keys_all_first;
    }
    return t;
}

// The same with the rows of PrefillParams itself.
template <bool CAUSAL>
__device__ __forceinline__ BlockTile locate_block_tile(const PrefillParams& params, int32_t block_m,
                                                       int32_t index) {
    return locate_block_tile<CAUSAL>(params, block_m, ParamRowArrays{params.row_batch, params.row_q, params.row_kv},
                                     index);
}

// A query tile none of whose rows sees a key (padding rows past the real
// ones, rows with no visible key) is o = 0 and lse = -inf for its rows
// [p0, p_end): written directly by the block's THREADS threads with
// streaming 16-byte stores, without a kernel's shared-memory staging of the
// epilogue. In a padded batch of short rows most blocks are such tiles
// (grid mode launches every tile of the padded length). Both prefill
// kernels take it (prefill_kernel.cuh, prefill_hopper_kernel.cuh).
template <typename T, int BLOCK_M, int CHUNKS, int THREADS>
__device__ __forceinline__ void write_keyless_tile(const PrefillParams& params, int32_t batch, int32_t kv_head,
                                                   int32_t p0, int32_t p_end, int32_t group, const RowExtent& ext,
                                                   MaskSpec mask, int tid) {
    T* o_base = static_cast<T*>(params.o) + batch * params.o_stride_b;
    for (int c = tid; c < BLOCK_M * CHUNKS; c += THREADS) {
        const int row = c / CHUNKS;
        const int chunk = c % CHUNKS;
        const int32_t p = p0 + row;
        if (p >= p_end) break;  // rows only grow with c
        const RowInfo ri = row_info(p, group, kv_head, ext, params.left_padded, mask);
        T* out = o_base + (int64_t)ri.position * params.o_stride_s + (int64_t)ri.head * params.o_stride_h;
        st_global_cs_16(out + chunk * 8, make_uint4(0u, 0u, 0u, 0u));
        if (params.lse != nullptr && chunk == 0)
            params.lse[batch * params.lse_stride_b + (int64_t)ri.position * params.lse_stride_s +
                       (int64_t)ri.head * params.lse_stride_h] = -INFINITY;
    }
}

}  // namespace prefill_detail
}  // namespace cuda
}  // namespace pattn
