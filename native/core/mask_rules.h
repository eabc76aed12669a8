// The mask rules of docs/semantics.md ("Valid lengths and padding", "Mask
// modes"), in one place, for the CPU backend and the CUDA kernels alike.
// Every "which rows are real, which keys does a query see" question is
// answered here and nowhere else.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define PATTN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PATTN_HOST_DEVICE inline
#endif

namespace pattn {

// Lengths read from device memory are not checked on the host; they are
// clamped into [0, hi] wherever they are read.
PATTN_HOST_DEVICE int32_t clamp_len(int32_t len, int32_t hi) {
    return len < 0 ? 0 : (len > hi ? hi : len);
}

// Where one batch row's real queries and keys sit in the padded tensors:
// rows [q_first, q_first + qv) of q/o and [k_first, k_first + kv) of k/v.
struct RowExtent {
    int32_t q_first, qv;
    int32_t k_first, kv;
};

PATTN_HOST_DEVICE RowExtent row_extent(int32_t q_len, int32_t kv_len, int32_t qv,
                                       int32_t kv, bool left_padded) {
    RowExtent r;
    r.qv = qv;
    r.kv = kv;
    r.q_first = left_padded ? q_len - qv : 0;
    r.k_first = left_padded ? kv_len - kv : 0;
    return r;
}

// Real query i (0 <= i < qv, counted within the real rows) sees the real keys
// [0, visible_key_count(i, ...)): all kv of them when bidirectional; when
// causal, keys j <= i + (kv - qv), bottom-right aligned as in FlashAttention.
// The count is in [0, kv]; 0 means the row sees nothing (o = 0, lse = -inf).
PATTN_HOST_DEVICE int32_t visible_key_count(int32_t i, int32_t qv, int32_t kv, bool causal) {
    if (!causal) return kv;
    int64_t n = (int64_t)i + (int64_t)kv - (int64_t)qv + 1;
    return n < 0 ? 0 : (n > kv ? kv : (int32_t)n);
}

// The same rule for a tile: for real queries [i_begin, i_end) (i_end > i_begin),
// keys [0, keys_any) are seen by at least one query of the tile and keys
// [0, keys_all) by every query of it, so only keys [keys_all, keys_any) need
// a per-element mask.
struct TileKeyRange {
    int32_t keys_all;
    int32_t keys_any;
};

PATTN_HOST_DEVICE TileKeyRange tile_key_range(int32_t i_begin, int32_t i_end, int32_t qv,
                                              int32_t kv, bool causal) {
    TileKeyRange t;
    t.keys_all = visible_key_count(i_begin, qv, kv, causal);
    t.keys_any = visible_key_count(i_end - 1, qv, kv, causal);
    return t;
}

}  // namespace pattn
