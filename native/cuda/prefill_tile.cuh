// Which query tile a prefill block runs, its row's lengths, which keys the
// tile sees, and where each packed row of it lives: the work lookup shared
// by the mma.sync kernel (prefill_kernel.cuh) and the Hopper kernel
// (prefill_hopper_kernel.cuh). The rules themselves are mask_rules.h.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "mask_rules.h"
#include "prefill_params.h"

namespace pattn {
namespace cuda {
namespace prefill_detail {

// Where packed row p of a tile lives and which keys it sees.
struct RowInfo {
    int32_t position;  // row of q / o / lse
    int32_t head;      // query head
    int32_t visible;   // keys [0, visible) of the real range; 0 for padding rows
    bool real;         // a real query (i < qv)
};

__device__ __forceinline__ RowInfo row_info(int32_t p, int32_t group_size, int32_t kv_head, const RowExtent& ext,
                                            bool left_padded, bool causal) {
    RowInfo r;
    int32_t i = p / group_size;
    r.head = kv_head * group_size + (p - i * group_size);
    r.real = i < ext.qv;
    if (r.real) {
        r.position = ext.q_first + i;
        r.visible = visible_key_count(i, ext.qv, ext.kv, causal);
    } else {
        // Padding rows, numbered after the real ones: right padding puts them
        // at [qv, q_len), left padding at [0, q_len - qv).
        int32_t j = i - ext.qv;
        r.position = left_padded ? j : ext.qv + j;
        r.visible = 0;
    }
    return r;
}

// Which tile a block runs, its row's lengths, and which keys the tile sees.
struct BlockTile {
    int32_t batch, kv_head, q_tile, qv, kv;
    RowExtent ext;
    int32_t p0, p_end;            // packed rows [p0, p_end) of the tile
    int32_t keys_all, keys_any;   // tile_key_range of its real rows (0, 0: none)
};

template <bool CAUSAL>
__device__ __forceinline__ BlockTile locate_block_tile(const PrefillParams& params, int32_t block_m) {
    BlockTile t;
    if (params.work != nullptr) {
        const PrefillWorkItem item = params.work[blockIdx.x];
        t.batch = item.batch;
        t.kv_head = item.kv_head;
        t.q_tile = item.q_tile;
        t.qv = item.q_valid;
        t.kv = item.kv_valid;
    } else {
        // Grid mode (lengths in device memory or in the parameters): the
        // full grid runs, heaviest tiles (the last ones, under a causal mask)
        // first; blocks whose tile holds no real query only write the
        // padding rows.
        int32_t x = blockIdx.x;
        int32_t bh = x / params.num_q_tiles;
        t.q_tile = params.num_q_tiles - 1 - (x - bh * params.num_q_tiles);
        const int32_t rank = bh / params.num_kv_heads;
        t.kv_head = bh - rank * params.num_kv_heads;
        if (params.param_rows > 0) {
            // Host lengths passed by value (already range-checked), rows
            // visited in the order the host chose (most work first).
            t.batch = params.row_batch[rank];
            t.qv = params.row_q[rank];
            t.kv = params.row_kv[rank];
        } else {
            t.batch = rank;
            t.qv = params.q_lens_device ? clamp_len(params.q_lens_device[t.batch], params.q_len) : params.q_len;
            t.kv = params.kv_lens_device ? clamp_len(params.kv_lens_device[t.batch], params.kv_len) : params.kv_len;
        }
    }
    const int32_t group = params.group_size;
    t.ext = row_extent(params.q_len, params.kv_len, t.qv, t.kv, params.left_padded);
    const int32_t real_rows = t.qv * group;
    t.p0 = t.q_tile * block_m;
    t.p_end = min(t.p0 + block_m, params.q_len * group);
    t.keys_all = 0;
    t.keys_any = 0;
    if (t.p0 < real_rows) {
        int32_t i_begin = t.p0 / group;
        int32_t i_end = (min(t.p_end, real_rows) - 1) / group + 1;
        TileKeyRange range = tile_key_range(i_begin, i_end, t.qv, t.kv, CAUSAL);
        t.keys_any = range.keys_any;
        // Padding rows in the tile see nothing, so every KV tile needs the mask.
        t.keys_all = t.p_end > real_rows ? 0 : range.keys_all;
    }
    return t;
}

}  // namespace prefill_detail
}  // namespace cuda
}  // namespace pattn
