// Host-side prefill planning (native/cuda/prefill_rows.h), without a GPU:
//  - order_rows_by_work against std::stable_sort (most work first, ties in
//    index order) on random, tied, sorted, reversed and huge work values,
//    and order_rows_by_length (one array for both lengths) likewise;
//  - the work list against a naive construction written here from the mask
//    rules of docs/semantics.md (brute force over every query and key of a
//    tile): odd lengths, 0 and full rows, GQA groups 1 / 3 / 4, left and
//    right padding, causal and bidirectional, sliding windows, packed host
//    offsets with empty sequences.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "prefill_rows.h"

namespace {

int g_failures = 0;
#define CHECK(cond, ...)                      \
    do {                                      \
        if (!(cond)) {                        \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            std::printf(__VA_ARGS__);         \
            std::printf("\n");                \
            ++g_failures;                     \
        }                                     \
    } while (0)

struct Item {  // the fields of prefill_params.h PrefillWorkItem
    int32_t batch, kv_head, q_tile, q_valid, kv_valid, q_first, k_first, reserved;
};

void test_order(std::mt19937_64& rng) {
    pattn::cuda::PlanScratch scratch;
    const int sizes[] = {0, 1, 2, 3, 17, 255, 256, 1000, 2048};
    for (int n : sizes) {
        for (int kind = 0; kind < 6; ++kind) {
            std::vector<int64_t> work(n);
            for (int b = 0; b < n; ++b) {
                switch (kind) {
                    case 0: work[b] = static_cast<int64_t>(rng() % 1025); break;           // 32-token causal rows
                    case 1: work[b] = static_cast<int64_t>(rng() % 4); break;              // many ties
                    case 2: work[b] = static_cast<int64_t>(rng() >> 12); break;            // up to 2^52
                    case 3: work[b] = 77; break;                                           // equal rows
                    case 4: work[b] = n - b; break;                                        // in order already
                    default: work[b] = static_cast<int64_t>(b) * (b % 3 == 0 ? 1 : 1000003); break;
                }
            }
            std::vector<int32_t> expected(n), got(n, -1);
            for (int b = 0; b < n; ++b) expected[b] = b;
            std::stable_sort(expected.begin(), expected.end(), [&](int32_t x, int32_t y) { return work[x] > work[y]; });
            pattn::cuda::order_rows_by_work(work.data(), n, got.data(), scratch);
            CHECK(got == expected, "order_rows_by_work n=%d kind=%d differs from std::stable_sort", n, kind);
        }
    }
}

// By length (one array for both lengths: the work is L^2, causal or not):
// the same order as std::stable_sort by that work, and the lengths written
// alongside; refused when the lengths' range dwarfs the batch.
void test_order_by_length(std::mt19937_64& rng) {
    pattn::cuda::PlanScratch scratch;
    const int sizes[] = {0, 1, 2, 5, 64, 255, 256, 2048};
    for (int n : sizes) {
        for (int longest : {0, 1, 32, 300, 8191}) {
            std::vector<int32_t> len(n);
            for (int b = 0; b < n; ++b) len[b] = static_cast<int32_t>(rng() % (longest + 1));
            std::vector<int64_t> work(n);
            for (int b = 0; b < n; ++b) work[b] = pattn::cuda::row_work(len[b], len[b], (b + n) % 2 == 0);
            std::vector<int32_t> expected(n), got(n, -1), got_len(n, -1);
            for (int b = 0; b < n; ++b) expected[b] = b;
            std::stable_sort(expected.begin(), expected.end(), [&](int32_t x, int32_t y) { return work[x] > work[y]; });
            const bool done = pattn::cuda::order_rows_by_length(len.data(), n, longest, got.data(), scratch, got_len.data());
            const bool expect_done = longest <= 4 * n + 64;
            CHECK(done == expect_done, "order_rows_by_length n=%d longest=%d: done %d", n, longest, done);
            if (!done) continue;
            CHECK(got == expected, "order_rows_by_length n=%d longest=%d differs from std::stable_sort", n, longest);
            bool lens_ok = true;
            for (int r = 0; r < n; ++r) lens_ok = lens_ok && got_len[r] == len[expected[r]];
            CHECK(lens_ok, "order_rows_by_length n=%d longest=%d: lengths written out of order", n, longest);
        }
    }
}

// The naive reference: query i (0 <= i < qv) sees key j (0 <= j < kv) iff,
// with diag = i + kv - qv, j <= diag when causal, j >= diag - wl with a left
// window, j <= diag + wr with a right window (docs/semantics.md).
bool sees(int64_t i, int64_t j, int64_t qv, int64_t kv, bool causal, int wl, int wr) {
    const int64_t diag = i + kv - qv;
    if (causal && j > diag) return false;
    if (wl >= 0 && j < diag - wl) return false;
    if (wr >= 0 && j > diag + wr) return false;
    return true;
}

// KV tiles from the tile of the first key any real row of the query tile
// sees to the tile of the last one; 0 when no real row sees a key.
int naive_cost(int32_t qv, int32_t kv, int32_t group, int block_m, int block_n, int32_t t, bool causal, int wl,
               int wr) {
    int64_t first = -1, last = -1;
    for (int64_t p = static_cast<int64_t>(t) * block_m; p < static_cast<int64_t>(t + 1) * block_m; ++p) {
        if (p >= static_cast<int64_t>(qv) * group) break;
        const int64_t i = p / group;
        for (int64_t j = 0; j < kv; ++j) {
            if (!sees(i, j, qv, kv, causal, wl, wr)) continue;
            if (first < 0 || j < first) first = j;
            if (j > last) last = j;
        }
    }
    return first < 0 ? 0 : static_cast<int>(last / block_n - first / block_n + 1);
}

struct Case {
    int32_t batch, q_len, kv_len, hq, hkv;
    bool causal, left, packed;
    int wl, wr;
    int block_m, block_n;
};

void test_work_list(const Case& c, std::mt19937_64& rng) {
    const int32_t group = c.hq / c.hkv;
    std::vector<int32_t> q_lens(c.batch), kv_lens(c.batch), cu_q(c.batch + 1), cu_kv(c.batch + 1);
    for (int32_t b = 0; b < c.batch; ++b) {
        // 0, full, and odd values in between.
        const int pick = static_cast<int>(rng() % 5);
        q_lens[b] = pick == 0 ? 0 : pick == 1 ? c.q_len : static_cast<int32_t>(rng() % (c.q_len + 1));
        kv_lens[b] = pick == 0 ? 0 : pick == 1 ? c.kv_len : static_cast<int32_t>(rng() % (c.kv_len + 1));
        if (b == 1) kv_lens[b] = c.kv_len;
        cu_q[b + 1] = cu_q[b] + q_lens[b];
        cu_kv[b + 1] = cu_kv[b] + kv_lens[b];
    }
    pattn::AttentionArgs a{};
    a.batch = c.batch;
    a.num_qo_heads = c.hq;
    a.num_kv_heads = c.hkv;
    a.causal = c.causal;
    a.left_padded = c.left;
    a.window_left = c.wl;
    a.window_right = c.wr;
    int32_t longest_q = 0;
    for (int32_t b = 0; b < c.batch; ++b) longest_q = std::max(longest_q, q_lens[b]);
    if (c.packed) {
        a.packed = true;
        a.cu_q = cu_q.data();
        a.cu_kv = cu_kv.data();
        a.q_len = cu_q[c.batch];
        a.kv_len = cu_kv[c.batch];
    } else {
        a.q_len = c.q_len;
        a.kv_len = c.kv_len;
        a.q_lens = q_lens.data();
        a.kv_lens = kv_lens.data();
    }
    const int64_t rows = static_cast<int64_t>(c.packed ? longest_q : c.q_len) * group;
    const int num_q_tiles = static_cast<int>((rows + c.block_m - 1) / c.block_m);

    // Naive: every tile that exists, sorted by (cost descending, batch, head, tile).
    struct Ref {
        int cost;
        Item item;
    };
    std::vector<Ref> ref;
    for (int32_t b = 0; b < c.batch; ++b) {
        const int32_t qv = q_lens[b], kv = kv_lens[b];
        for (int32_t h = 0; h < c.hkv; ++h) {
            for (int32_t t = 0; t < num_q_tiles; ++t) {
                if (c.packed && static_cast<int64_t>(t) * c.block_m >= static_cast<int64_t>(qv) * group) break;
                Item w{b, h, t, qv, kv, c.packed ? cu_q[b] : 0, c.packed ? cu_kv[b] : 0, 0};
                ref.push_back(Ref{naive_cost(qv, kv, group, c.block_m, c.block_n, t, c.causal, c.wl, c.wr), w});
            }
        }
    }
    std::stable_sort(ref.begin(), ref.end(), [](const Ref& x, const Ref& y) { return x.cost > y.cost; });

    pattn::cuda::PlanScratch scratch;
    const int64_t n = pattn::cuda::work_list_size(a, c.block_m, c.block_n, num_q_tiles, scratch);
    CHECK(n == static_cast<int64_t>(ref.size()), "work list size %lld, expected %zu", (long long)n, ref.size());
    if (n != static_cast<int64_t>(ref.size())) return;
    std::vector<Item> got(static_cast<size_t>(n), Item{-1, -1, -1, -1, -1, -1, -1, -1});  // poisoned
    pattn::cuda::build_work_list(a, c.block_m, c.block_n, num_q_tiles, scratch, got.data());
    for (int64_t k = 0; k < n; ++k) {
        const Item& g = got[k];
        const Item& e = ref[k].item;
        const bool same = g.batch == e.batch && g.kv_head == e.kv_head && g.q_tile == e.q_tile &&
                          g.q_valid == e.q_valid && g.kv_valid == e.kv_valid && g.q_first == e.q_first &&
                          g.k_first == e.k_first && g.reserved == 0;
        CHECK(same,
              "entry %lld: got (b %d h %d t %d qv %d kv %d qf %d kf %d), expected (b %d h %d t %d qv %d kv %d qf %d "
              "kf %d, cost %d); case b%d q%d kv%d %d/%d causal %d left %d packed %d window %d,%d tiles %dx%d",
              (long long)k, g.batch, g.kv_head, g.q_tile, g.q_valid, g.kv_valid, g.q_first, g.k_first, e.batch,
              e.kv_head, e.q_tile, e.q_valid, e.kv_valid, e.q_first, e.k_first, ref[k].cost, c.batch, c.q_len,
              c.kv_len, c.hq, c.hkv, c.causal, c.left, c.packed, c.wl, c.wr, c.block_m, c.block_n);
        if (!same) return;
    }
}

}  // namespace

int main() {
    std::mt19937_64 rng(20261204u);
    test_order(rng);
    test_order_by_length(rng);
    const int tiles[3][2] = {{64, 64}, {128, 48}, {128, 128}};
    const int windows[4][2] = {{-1, -1}, {5, -1}, {3, 2}, {-1, 7}};
    const int groups[3][2] = {{2, 2}, {6, 2}, {4, 1}};
    int cases = 0;
    for (const auto& tile : tiles)
        for (const auto& window : windows)
            for (const auto& heads : groups)
                for (int mode = 0; mode < 6; ++mode) {
                    Case c{};
                    c.batch = 1 + static_cast<int32_t>(rng() % 9);
                    c.q_len = 1 + static_cast<int32_t>(rng() % 200);
                    c.kv_len = (mode % 2) ? c.q_len : 1 + static_cast<int32_t>(rng() % 200);
                    c.hq = heads[0];
                    c.hkv = heads[1];
                    c.causal = mode / 2 != 1;
                    c.left = mode / 2 == 2;
                    c.packed = mode == 1 || mode == 3;  // packed has no padding side
                    if (c.packed) c.left = false;
                    c.wl = window[0];
                    c.wr = window[1];
                    c.block_m = tile[0];
                    c.block_n = tile[1];
                    test_work_list(c, rng);
                    ++cases;
                }
    std::printf("test_prefill_rows: %d work-list cases, %s\n", cases, g_failures ? "FAILED" : "passed");
    return g_failures ? 1 : 0;
}
