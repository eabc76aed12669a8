// CPU backend of decode against a paged KV cache (args.page_table != null;
// layout in attention_args.h and docs/semantics.md). Kept apart from the
// padded prefill/decode path (prefill_cpu.cpp): the only difference is where
// a key row lives, page_table[b][j / page_size] slot j % page_size.
//
// One work item is a (batch row, KV head): its keys are gathered through the
// page table in chunks of kKeyChunk rows and shared by every query row that
// reads that KV head (group * q_len of them), each keeping an online softmax
// in f32 (f64 scores for f32 inputs, as prefill_cpu.cpp). Only the pages of
// a row's real keys are read, so unused pages and slots may hold anything.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>
#include <thread>
#include <vector>

#include "backends.h"
#include "convert.h"
#include "errors.h"
#include "mask_rules.h"

namespace pattn {
namespace cpu {
namespace {

constexpr int kKeyChunk = 64;

struct PagedF32 {
    using storage = float;
    using score = double;
    static float load(float x) { return x; }
    static float store(float x) { return x; }
};
struct PagedF16 {
    using storage = uint16_t;
    using score = float;
    static float load(uint16_t x) { return half_to_float(x); }
    static uint16_t store(float x) { return float_to_half(x); }
};
struct PagedBF16 {
    using storage = uint16_t;
    using score = float;
    static float load(uint16_t x) { return bf16_to_float(x); }
    static uint16_t store(float x) { return float_to_bf16(x); }
};

template <typename E>
class PagedDecodeRunner {
public:
    using T = typename E::storage;
    using S = typename E::score;

    explicit PagedDecodeRunner(const AttentionArgs& a)
        : a_(a), group_(a.num_qo_heads / a.num_kv_heads), rows_(group_ * a.q_len) {}

    int64_t work_items() const { return static_cast<int64_t>(a_.batch) * a_.num_kv_heads; }

    // Scratch per thread: keys [chunk][dim] (score type), values [chunk][dim],
    // queries, accumulators and softmax state of the item's rows.
    struct Scratch {
        std::vector<S> k, q;
        std::vector<float> v, acc, m, l, s;
        Scratch(int rows, int dim)
            : k(static_cast<size_t>(kKeyChunk) * dim), q(static_cast<size_t>(rows) * dim),
              v(static_cast<size_t>(kKeyChunk) * dim), acc(static_cast<size_t>(rows) * dim), m(rows), l(rows),
              s(kKeyChunk) {}
    };
    Scratch make_scratch() const { return Scratch(rows_, a_.head_dim); }

    void run_item(int64_t item, Scratch& ws) const {
        const int32_t kv_head = static_cast<int32_t>(item % a_.num_kv_heads);
        const int32_t b = static_cast<int32_t>(item / a_.num_kv_heads);
        const int32_t dim = a_.head_dim;
        const int32_t kv = a_.kv_lens ? clamp_len(a_.kv_lens[b], a_.kv_len) : a_.kv_len;
        const float neg_inf = -std::numeric_limits<float>::infinity();

        // Row r of the item: query position i = r / group, head kv_head * group + r % group.
        int32_t max_visible = 0;
        for (int32_t r = 0; r < rows_; ++r) {
            const T* src = q_row(b, r / group_, kv_head * group_ + r % group_);
            S* dst = ws.q.data() + static_cast<size_t>(r) * dim;
            for (int32_t d = 0; d < dim; ++d) dst[d] = static_cast<S>(E::load(src[d]));
            std::fill(ws.acc.begin() + static_cast<size_t>(r) * dim, ws.acc.begin() + static_cast<size_t>(r + 1) * dim,
                      0.0f);
            ws.m[r] = neg_inf;
            ws.l[r] = 0.0f;
            max_visible = std::max(max_visible, visible_key_count(r / group_, a_.q_len, kv, true));
        }

        const S scale = static_cast<S>(a_.scale);
        for (int32_t j0 = 0; j0 < max_visible; j0 += kKeyChunk) {
            const int32_t n = std::min(kKeyChunk, max_visible - j0);
            for (int32_t c = 0; c < n; ++c) {
                const T* ks = key_row(a_.k, a_.k_stride_b, a_.k_stride_s, a_.k_stride_h, b, j0 + c, kv_head);
                const T* vs = key_row(a_.v, a_.v_stride_b, a_.v_stride_s, a_.v_stride_h, b, j0 + c, kv_head);
                S* kd = ws.k.data() + static_cast<size_t>(c) * dim;
                float* vd = ws.v.data() + static_cast<size_t>(c) * dim;
                for (int32_t d = 0; d < dim; ++d) {
                    kd[d] = static_cast<S>(E::load(ks[d]));
                    vd[d] = E::load(vs[d]);
                }
            }
            for (int32_t r = 0; r < rows_; ++r) {
                const int32_t seen = visible_key_count(r / group_, a_.q_len, kv, true) - j0;
                const int32_t cn = std::min(n, seen);
                if (cn <= 0) continue;
                const S* qr = ws.q.data() + static_cast<size_t>(r) * dim;
                float chunk_max = neg_inf;
                for (int32_t c = 0; c < cn; ++c) {
                    const S* kd = ws.k.data() + static_cast<size_t>(c) * dim;
                    S dot = S(0);
                    for (int32_t d = 0; d < dim; ++d) dot += qr[d] * kd[d];
                    ws.s[c] = static_cast<float>(dot * scale);
                    chunk_max = std::max(chunk_max, ws.s[c]);
                }
                const float m_new = std::max(ws.m[r], chunk_max);
                const float correction = ws.m[r] == neg_inf ? 0.0f : std::exp(ws.m[r] - m_new);
                float* ar = ws.acc.data() + static_cast<size_t>(r) * dim;
                for (int32_t d = 0; d < dim; ++d) ar[d] *= correction;
                float sum = 0.0f;
                for (int32_t c = 0; c < cn; ++c) {
                    const float p = std::exp(ws.s[c] - m_new);
                    sum += p;
                    const float* vd = ws.v.data() + static_cast<size_t>(c) * dim;
                    for (int32_t d = 0; d < dim; ++d) ar[d] += p * vd[d];
                }
                ws.l[r] = ws.l[r] * correction + sum;
                ws.m[r] = m_new;
            }
        }

        for (int32_t r = 0; r < rows_; ++r) {
            const int32_t i = r / group_, h = kv_head * group_ + r % group_;
            T* o = static_cast<T*>(a_.o) + b * a_.o_stride_b + i * a_.o_stride_s + h * a_.o_stride_h;
            const bool seen = ws.l[r] > 0.0f;
            const float inv = seen ? 1.0f / ws.l[r] : 0.0f;
            const float* ar = ws.acc.data() + static_cast<size_t>(r) * dim;
            for (int32_t d = 0; d < dim; ++d) o[d] = E::store(ar[d] * inv);
            if (a_.lse)
                a_.lse[b * a_.lse_stride_b + i * a_.lse_stride_s + h * a_.lse_stride_h] =
                    seen ? ws.m[r] + std::log(ws.l[r]) : neg_inf;
        }
    }

private:
    const T* q_row(int32_t b, int32_t i, int32_t h) const {
        return static_cast<const T*>(a_.q) + b * a_.q_stride_b + i * a_.q_stride_s + h * a_.q_stride_h;
    }
    // Real key j of row b: slot j % page_size of page page_table[b][j / page_size].
    const T* key_row(const void* base, int64_t page_stride, int64_t slot_stride, int64_t head_stride, int32_t b,
                     int32_t j, int32_t h) const {
        const int32_t page = a_.page_table[b * a_.page_table_stride + j / a_.page_size];
        return static_cast<const T*>(base) + page * page_stride + (j % a_.page_size) * slot_stride + h * head_stride;
    }

    const AttentionArgs& a_;
    int32_t group_, rows_;
};

template <typename E>
pattn_status run(const AttentionArgs& a) {
    using Runner = PagedDecodeRunner<E>;
    const Runner runner(a);
    const int64_t items = runner.work_items();
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const int64_t workers = std::min<int64_t>(std::min<int64_t>(hw, 16), items);
    std::atomic<int64_t> next{0};
    auto work = [&] {
        typename Runner::Scratch ws = runner.make_scratch();
        for (int64_t item = next.fetch_add(1); item < items; item = next.fetch_add(1)) runner.run_item(item, ws);
    };
    std::vector<std::thread> threads;
    try {
        for (int64_t t = 1; t < workers; ++t) threads.emplace_back(work);
    } catch (const std::system_error&) {
        // Fewer threads than asked for: the ones started (and this one) take all items.
    }
    work();
    for (auto& t : threads) t.join();
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status decode_paged(const AttentionArgs& a) {
    if (a.batch == 0 || a.q_len == 0 || a.num_qo_heads == 0) return PATTN_STATUS_SUCCESS;
    switch (a.dtype) {
        case PATTN_DTYPE_F32: return run<PagedF32>(a);
        case PATTN_DTYPE_F16: return run<PagedF16>(a);
        case PATTN_DTYPE_BF16: return run<PagedBF16>(a);
        default:
            return set_error(PATTN_STATUS_UNSUPPORTED, "decode (paged, CPU): dtype = %d is not supported",
                             static_cast<int>(a.dtype));
    }
}

}  // namespace cpu
}  // namespace pattn
