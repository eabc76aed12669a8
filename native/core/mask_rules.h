// The mask rules of docs/semantics.md ("Valid lengths and padding", "Mask
// modes"), in one place, for the CPU backend and the CUDA kernels alike.
// Every "which rows are real, which keys does a query see" question is
// answered here and nowhere else.
#pragma once

#include <climits>
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

// The general rule, with the sliding window (pattn_prefill_params
// window_left/window_right; -1 = unlimited, both -1 without a window). With
// diag = i + (kv - qv), the bottom-right-aligned diagonal of real query i,
// it sees real key j iff
//   diag - window_left <= j <= diag + window_right   (each side if limited)
//   and j <= diag                                     (if causal).
// So a query sees one contiguous span of keys.
struct MaskSpec {
    bool causal;
    int32_t window_left, window_right;
};

PATTN_HOST_DEVICE MaskSpec mask_spec(bool causal, int32_t window_left = -1, int32_t window_right = -1) {
    MaskSpec m;
    m.causal = causal;
    m.window_left = window_left;
    m.window_right = window_right;
    return m;
}

// Unclamped bounds [first, end) of that span, in 64 bits: an unlimited side
// is a sentinel far outside [0, kv]. Both bounds grow by exactly one per
// query (or stay put when unlimited), so bounds(i) = bounds(i0) + (i - i0)
// before clamping: the CPU kernels use that form (attend_item.h).
struct KeyBounds {
    int64_t first, end;
};
constexpr int64_t kUnboundedKey = (int64_t)1 << 40;

PATTN_HOST_DEVICE KeyBounds key_bounds(int32_t i, int32_t qv, int32_t kv, MaskSpec m) {
    const int64_t diag = (int64_t)i + (int64_t)kv - (int64_t)qv;
    KeyBounds b;
    b.first = m.window_left >= 0 ? diag - m.window_left : -kUnboundedKey;
    b.end = m.causal ? diag + 1 : kUnboundedKey;
    if (m.window_right >= 0 && diag + m.window_right + 1 < b.end) b.end = diag + m.window_right + 1;
    return b;
}

// The span clamped into the real keys: [first, end), 0 <= first <= end <= kv
// (first == end: the query sees nothing, o = 0, lse = -inf).
struct KeySpan {
    int32_t first, end;
};

PATTN_HOST_DEVICE int32_t clamp_key(int64_t x, int32_t kv) {
    return x < 0 ? 0 : (x > kv ? kv : (int32_t)x);
}

PATTN_HOST_DEVICE KeySpan visible_keys(int32_t i, int32_t qv, int32_t kv, MaskSpec m) {
    const KeyBounds b = key_bounds(i, qv, kv, m);
    KeySpan s;
    s.first = clamp_key(b.first, kv);
    s.end = clamp_key(b.end, kv);
    if (s.end < s.first) s.end = s.first;
    return s;
}

// Causal rows under a left window, from the end of the row's span alone
// (end = visible_keys(...).end = diag + 1 for every row that sees a key,
// since diag < kv): key j < end lies before the window iff end - j >
// window_span, with window_span = window_left + 1 (INT32_MAX: unlimited).
// The decode kernel keeps only the end per row.
PATTN_HOST_DEVICE int32_t causal_window_span(int32_t window_left) {
    return window_left < 0 || window_left == INT32_MAX ? INT32_MAX : window_left + 1;
}

PATTN_HOST_DEVICE bool before_causal_window(int32_t end, int32_t j, int32_t window_span) {
    return end - j > window_span;
}

// The same rule for a tile: for real queries [i_begin, i_end) (i_end > i_begin),
// keys [keys_first, keys_any) are seen by at least one query of the tile and
// keys [keys_all_first, keys_all) by every query of it, so only keys outside
// the second range need a per-element mask, and KV tiles outside the first
// are skipped (work grows with the window, not the row).
struct TileKeyRange {
    int32_t keys_all;
    int32_t keys_any;
    int32_t keys_first;      // 0 without a left window
    int32_t keys_all_first;  // 0 without a left window
};

PATTN_HOST_DEVICE TileKeyRange tile_key_range(int32_t i_begin, int32_t i_end, int32_t qv, int32_t kv,
                                              MaskSpec m) {
    // Both bounds are non-decreasing in i.
    const KeySpan lo = visible_keys(i_begin, qv, kv, m);
    const KeySpan hi = visible_keys(i_end - 1, qv, kv, m);
    TileKeyRange t;
    t.keys_first = lo.first;
    t.keys_any = hi.end;
    t.keys_all_first = hi.first;
    t.keys_all = lo.end;
    if (t.keys_any < t.keys_first) t.keys_any = t.keys_first;
    return t;
}

PATTN_HOST_DEVICE TileKeyRange tile_key_range(int32_t i_begin, int32_t i_end, int32_t qv,
                                              int32_t kv, bool causal) {
    return tile_key_range(i_begin, i_end, qv, kv, mask_spec(causal));
}

// Packed layout (cu_seqlens): sequence b is tokens [cu_q[b], cu_q[b + 1]) of
// q/o and [cu_kv[b], cu_kv[b + 1]) of k/v; it has no padding rows. Offsets
// read from device memory are clamped into [0, total] and made
// non-decreasing here (host offsets were checked by validate.cpp).
PATTN_HOST_DEVICE RowExtent packed_row_extent(const int32_t* cu_q, const int32_t* cu_kv, int32_t b,
                                              int32_t total_q, int32_t total_kv) {
    RowExtent r;
    r.q_first = clamp_len(cu_q[b], total_q);
    r.qv = clamp_len(cu_q[b + 1], total_q) - r.q_first;
    if (r.qv < 0) r.qv = 0;
    r.k_first = clamp_len(cu_kv[b], total_kv);
    r.kv = clamp_len(cu_kv[b + 1], total_kv) - r.k_first;
    if (r.kv < 0) r.kv = 0;
    return r;
}

}  // namespace pattn
