// Host-side planning of one prefill call with host lengths (no CUDA needed,
// so native/tests/heuristics/test_prefill_rows.cpp checks it without a GPU):
// the order in which the grid visits the rows (most work first) and the
// work list of query tiles (prefill_params.h PrefillWorkItem) for the
// PADDEDATTN_PREFILL_WORK_LIST path. prefill_dispatch.cu calls these.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "attention_args.h"
#include "mask_rules.h"

namespace pattn {
namespace cuda {

// Row b's extent from host lengths (checked) or host packed offsets.
inline RowExtent host_row_extent(const AttentionArgs& a, int32_t b) {
    if (a.packed) return packed_row_extent(a.cu_q, a.cu_kv, b, a.q_len, a.kv_len);
    const int32_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
    const int32_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
    return row_extent(a.q_len, a.kv_len, qv, kv, a.left_padded);
}

// A row's work: its visible query-key pairs. Causal: real query i sees
// min(kv, i + 1 + kv - qv) keys; twice the sum is close to qv * (2 kv - qv)
// (exact when kv >= qv).
inline int64_t row_work(int64_t qv, int64_t kv, bool causal) {
    return causal ? qv * (2 * kv - qv > 0 ? 2 * kv - qv : 0) : qv * kv;
}

// Reusable buffers of one thread (thread_local in prefill_dispatch.cu), so
// that planning a call allocates nothing once they have grown.
struct PlanScratch {
    std::vector<uint64_t> keys;
    std::vector<int32_t> counts;
};

// order[0..n) = 0..n-1 sorted by work, most first, rows of equal work in
// index order: the order std::stable_sort with `work[x] > work[y]` gives,
// by a least-significant-digit radix sort (stable) of (largest - work, row)
// packed into one 64-bit word, over just the bits the largest work needs
// (at most 8 per pass: 2 passes for rows of up to 32 tokens), and no pass at
// all when the rows are in order already (equal lengths). Work values are
// >= 0 and below 2^52 (validate.cpp bounds the lengths by 2^26).
inline void order_rows_by_work(const int64_t* work, int32_t n, int32_t* order, PlanScratch& s) {
    int64_t largest = 0;
    bool sorted = true;
    for (int32_t b = 0; b < n; ++b) {
        largest = work[b] > largest ? work[b] : largest;
        sorted = sorted && (b == 0 || work[b] <= work[b - 1]);
    }
    if (sorted || n < 2) {
        for (int32_t b = 0; b < n; ++b) order[b] = b;
        return;
    }
    int row_bits = 1;
    while ((int64_t(1) << row_bits) < n) ++row_bits;
    int bits = 0;
    while (bits < 63 && (static_cast<uint64_t>(largest) >> bits) != 0) ++bits;
    if (bits + row_bits > 64) {  // not for the batches of the kernel parameters (<= 2048 rows)
        for (int32_t b = 0; b < n; ++b) order[b] = b;
        std::stable_sort(order, order + n, [&](int32_t x, int32_t y) { return work[x] > work[y]; });
        return;
    }
    const int passes = (bits + 7) / 8;
    const int digit_bits = (bits + passes - 1) / passes;
    const uint32_t buckets = 1u << digit_bits;
    const uint64_t mask = buckets - 1;
    s.keys.resize(2 * static_cast<size_t>(n));
    s.counts.resize(buckets);
    uint64_t* from = s.keys.data();
    uint64_t* to = from + n;
    // Ascending on largest - work is descending on work; the row in the low
    // bits rides along.
    for (int32_t b = 0; b < n; ++b)
        from[b] = (static_cast<uint64_t>(largest - work[b]) << row_bits) | static_cast<uint64_t>(b);
    int32_t* count = s.counts.data();
    for (int pass = 0; pass < passes; ++pass) {
        const int shift = row_bits + pass * digit_bits;
        for (uint32_t d = 0; d < buckets; ++d) count[d] = 0;
        for (int32_t r = 0; r < n; ++r) ++count[(from[r] >> shift) & mask];
        int32_t running = 0;
        for (uint32_t d = 0; d < buckets; ++d) {
            const int32_t c = count[d];
            count[d] = running;
            running += c;
        }
        for (int32_t r = 0; r < n; ++r) {
            const uint64_t x = from[r];
            to[count[(x >> shift) & mask]++] = x;
        }
        uint64_t* t = from;
        from = to;
        to = t;
    }
    const uint64_t row_mask = (uint64_t(1) << row_bits) - 1;
    for (int32_t r = 0; r < n; ++r) order[r] = static_cast<int32_t>(from[r] & row_mask);
}

// The same order where a row's work grows strictly with one length per row
// (query and key lengths one array: causal or not, the work is L^2): a
// counting sort by length, longest first, rows of one length in index
// order, in two passes over the rows. `longest` bounds the lengths; false
// (nothing written) when its buckets would outnumber the rows by far.
// `sorted_len` (optional) receives len[order[r]] at r.
inline bool order_rows_by_length(const int32_t* len, int32_t n, int32_t longest, int32_t* order, PlanScratch& s,
                                 int32_t* sorted_len = nullptr) {
    if (longest < 0 || static_cast<int64_t>(longest) > 4 * static_cast<int64_t>(n) + 64) return false;
    s.counts.assign(static_cast<size_t>(longest) + 1, 0);
    int32_t* count = s.counts.data();
    for (int32_t b = 0; b < n; ++b) ++count[len[b]];
    int32_t running = 0;
    for (int32_t l = longest; l >= 0; --l) {  // the longest rows first
        const int32_t c = count[l];
        count[l] = running;
        running += c;
    }
    if (sorted_len == nullptr) {
        for (int32_t b = 0; b < n; ++b) order[count[len[b]]++] = b;
        return true;
    }
    for (int32_t b = 0; b < n; ++b) {
        const int32_t l = len[b];
        const int32_t r = count[l]++;
        order[r] = b;
        sorted_len[r] = l;
    }
    return true;
}

// The number of KV tiles of `block_n` keys that query tile t (packed rows
// [t * block_m, +block_m) of a row with extent `ext`) visits; 0 when none of
// its rows is real or sees a key. -1: the tile does not exist (packed
// layout: a sequence's tiles past its own rows).
inline int tile_cost(const AttentionArgs& a, const RowExtent& ext, int32_t group, int block_m, int block_n,
                     int32_t t) {
    const int32_t real_rows = ext.qv * group;
    const int32_t p0 = t * block_m;
    if (p0 >= real_rows) return a.packed ? -1 : 0;
    const int32_t p_last = (p0 + block_m < real_rows ? p0 + block_m : real_rows) - 1;
    const TileKeyRange r = tile_key_range(p0 / group, p_last / group + 1, ext.qv, ext.kv, a.mask());
    if (r.keys_any <= r.keys_first) return 0;
    return (r.keys_any + block_n - 1) / block_n - r.keys_first / block_n;
}

// The work list of a call: one entry per (batch, kv_head, query tile),
// heaviest tiles first (counting sort by tile_cost, so the long causal tiles
// do not start last); within one cost in (batch, kv_head, tile) order, so
// blocks running together share K/V in L2. Tiles that cost 0 only write
// o = 0 / lse = -inf and go at the end. Two passes: work_list_size counts
// (and keeps the per-cost counts in `s`), build_work_list writes `out`
// (work_list_size entries: the staging buffer itself, no copy in between).
// Item is PrefillWorkItem (prefill_params.h) or a test's equivalent.
inline int64_t work_list_size(const AttentionArgs& a, int block_m, int block_n, int num_q_tiles, PlanScratch& s) {
    const int32_t group = a.num_qo_heads / a.num_kv_heads;
    const int max_cost = (a.kv_len + block_n - 1) / block_n + 1;  // + 1: a window's unaligned first tile
    s.counts.assign(static_cast<size_t>(max_cost) + 1, 0);
    int64_t tiles = 0;
    for (int32_t b = 0; b < a.batch; ++b) {
        const RowExtent ext = host_row_extent(a, b);
        for (int32_t t = 0; t < num_q_tiles; ++t) {
            const int cost = tile_cost(a, ext, group, block_m, block_n, t);
            if (cost < 0) break;  // packed: no later tile of this sequence exists either
            ++s.counts[cost];
            ++tiles;
        }
    }
    return tiles * a.num_kv_heads;
}

template <typename Item>
void build_work_list(const AttentionArgs& a, int block_m, int block_n, int num_q_tiles, PlanScratch& s, Item* out) {
    const int32_t group = a.num_qo_heads / a.num_kv_heads;
    // Offsets for descending cost (counts from work_list_size, per tile:
    // each stands for num_kv_heads entries).
    std::vector<int32_t>& offset = s.counts;
    int64_t running = 0;
    for (size_t c = offset.size(); c-- > 0;) {
        const int64_t n = offset[c];
        offset[c] = static_cast<int32_t>(running);
        running += n * a.num_kv_heads;
    }
    for (int32_t b = 0; b < a.batch; ++b) {
        const RowExtent ext = host_row_extent(a, b);
        for (int32_t h = 0; h < a.num_kv_heads; ++h) {
            for (int32_t t = 0; t < num_q_tiles; ++t) {
                const int cost = tile_cost(a, ext, group, block_m, block_n, t);
                if (cost < 0) break;
                Item& w = out[offset[cost]++];
                w.batch = b;
                w.kv_head = h;
                w.q_tile = t;
                w.q_valid = ext.qv;
                w.kv_valid = ext.kv;
                w.q_first = a.packed ? ext.q_first : 0;
                w.k_first = a.packed ? ext.k_first : 0;
                w.reserved = 0;
            }
        }
    }
}

}  // namespace cuda
}  // namespace pattn
