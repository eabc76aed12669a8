// CPU backend of attention against a paged KV cache (args.page_table !=
// null; layout in attention_args.h and docs/semantics.md): decode, and
// prefill of new tokens after a cached prefix. Kept apart from the padded
// path (prefill_cpu.cpp): the difference is where a key row lives,
// page_table[b][j / page_size] slot j % page_size, and a paged cache is
// always right-padded.
//
// One work item is (batch row, KV head, block of query positions): every
// query head of the KV group for up to kItemRows rows. Its keys are gathered
// through the page table in chunks of kKeyChunk rows, converted once and
// shared by the item's rows, each keeping an online softmax. Scores, running
// sums and accumulators are f64, so no finite input overflows and long rows
// keep the accuracy of docs/semantics.md. Which keys a query sees comes from
// mask_rules.h (causal bottom-right, window); only the pages of the keys some
// row of the item sees are read, so unused pages and slots may hold anything.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <vector>

#include "backends.h"
#include "convert.h"
#include "errors.h"
#include "mask_rules.h"
#include "thread_pool.h"

namespace pattn {
namespace cpu {
namespace {

constexpr int kKeyChunk = 64;
constexpr int kItemRows = 64;
// Below this many multiply-adds a call runs on the calling thread alone.
constexpr double kParallelMinCost = 1 << 18;

struct PagedF32 {
    using storage = float;
    static double load(float x) { return x; }
    static float store(double x) { return static_cast<float>(x); }
};
struct PagedF16 {
    using storage = uint16_t;
    static double load(uint16_t x) { return half_to_float(x); }
    static uint16_t store(double x) { return float_to_half(static_cast<float>(x)); }
};
struct PagedBF16 {
    using storage = uint16_t;
    static double load(uint16_t x) { return bf16_to_float(x); }
    static uint16_t store(double x) { return float_to_bf16(static_cast<float>(x)); }
};

template <typename E>
class PagedRunner {
public:
    using T = typename E::storage;

    explicit PagedRunner(const AttentionArgs& a)
        : a_(a), group_(a.num_qo_heads / a.num_kv_heads),
          queries_per_item_(std::max<int32_t>(1, kItemRows / group_)),
          blocks_((a.q_len + queries_per_item_ - 1) / queries_per_item_), rows_(group_ * queries_per_item_) {}

    int64_t work_items() const { return static_cast<int64_t>(a_.batch) * a_.num_kv_heads * blocks_; }

    // Per thread: keys and values of a chunk, queries, accumulators, softmax
    // state and the visible span of each of the item's rows.
    struct Scratch {
        std::vector<double> k, v, q, acc, m, l;
        std::vector<int32_t> first, end;
        Scratch(int rows, int dim)
            : k(static_cast<size_t>(kKeyChunk) * dim), v(static_cast<size_t>(kKeyChunk) * dim),
              q(static_cast<size_t>(rows) * dim), acc(static_cast<size_t>(rows) * dim), m(rows), l(rows),
              first(rows), end(rows) {}
    };
    Scratch make_scratch() const { return Scratch(rows_, a_.head_dim); }

    void run_item(int64_t item, Scratch& ws) const {
        const int32_t block = static_cast<int32_t>(item % blocks_);
        const int32_t kv_head = static_cast<int32_t>(item / blocks_ % a_.num_kv_heads);
        const int32_t b = static_cast<int32_t>(item / blocks_ / a_.num_kv_heads);
        const int32_t dim = a_.head_dim;
        const int32_t qv = a_.q_lens ? clamp_len(a_.q_lens[b], a_.q_len) : a_.q_len;
        const int32_t kv = a_.kv_lens ? clamp_len(a_.kv_lens[b], a_.kv_len) : a_.kv_len;
        const int32_t i0 = block * queries_per_item_;
        const int32_t rows = std::min(queries_per_item_, a_.q_len - i0) * group_;
        const double neg_inf = -std::numeric_limits<double>::infinity();
        const MaskSpec mask = a_.mask();

        // Row r of the item: query position i0 + r / group, head kv_head * group + r % group.
        // Padding queries (right padding: positions >= qv) see no key.
        int32_t keys_lo = kv, keys_hi = 0;
        for (int32_t r = 0; r < rows; ++r) {
            const int32_t i = i0 + r / group_;
            const KeySpan span = i < qv ? visible_keys(i, qv, kv, mask) : KeySpan{0, 0};
            ws.first[r] = span.first;
            ws.end[r] = span.end;
            if (span.end > span.first) {
                keys_lo = std::min(keys_lo, span.first);
                keys_hi = std::max(keys_hi, span.end);
                const T* src = q_row(b, i, kv_head * group_ + r % group_);
                double* dst = ws.q.data() + static_cast<size_t>(r) * dim;
                for (int32_t d = 0; d < dim; ++d) dst[d] = E::load(src[d]);
            }
            std::fill(ws.acc.begin() + static_cast<size_t>(r) * dim, ws.acc.begin() + static_cast<size_t>(r + 1) * dim,
                      0.0);
            ws.m[r] = neg_inf;
            ws.l[r] = 0.0;
        }

        const double scale = a_.scale, cap = a_.soft_cap;
        double s[kKeyChunk];
        for (int32_t j0 = keys_lo; j0 < keys_hi; j0 += kKeyChunk) {
            const int32_t n = std::min(kKeyChunk, keys_hi - j0);
            for (int32_t c = 0; c < n; ++c) {
                const T* ks = key_row(a_.k, a_.k_stride_b, a_.k_stride_s, a_.k_stride_h, b, j0 + c, kv_head);
                const T* vs = key_row(a_.v, a_.v_stride_b, a_.v_stride_s, a_.v_stride_h, b, j0 + c, kv_head);
                double* kd = ws.k.data() + static_cast<size_t>(c) * dim;
                double* vd = ws.v.data() + static_cast<size_t>(c) * dim;
                for (int32_t d = 0; d < dim; ++d) {
                    kd[d] = E::load(ks[d]);
                    vd[d] = E::load(vs[d]);
                }
            }
            for (int32_t r = 0; r < rows; ++r) {
                const int32_t c0 = std::max(ws.first[r], j0) - j0;
                const int32_t c1 = std::min(ws.end[r], j0 + n) - j0;
                if (c1 <= c0) continue;
                const double* qr = ws.q.data() + static_cast<size_t>(r) * dim;
                double chunk_max = neg_inf;
                for (int32_t c = c0; c < c1; ++c) {
                    const double* kd = ws.k.data() + static_cast<size_t>(c) * dim;
                    double dot = 0.0;
                    for (int32_t d = 0; d < dim; ++d) dot += qr[d] * kd[d];
                    double score = dot * scale;
                    if (cap > 0.0) score = cap * std::tanh(score / cap);
                    s[c] = score;
                    chunk_max = std::max(chunk_max, score);
                }
                const double m_new = std::max(ws.m[r], chunk_max);
                const double correction = ws.m[r] == neg_inf ? 0.0 : std::exp(ws.m[r] - m_new);
                double* ar = ws.acc.data() + static_cast<size_t>(r) * dim;
                for (int32_t d = 0; d < dim; ++d) ar[d] *= correction;
                double sum = 0.0;
                for (int32_t c = c0; c < c1; ++c) {
                    const double p = std::exp(s[c] - m_new);
                    sum += p;
                    const double* vd = ws.v.data() + static_cast<size_t>(c) * dim;
                    for (int32_t d = 0; d < dim; ++d) ar[d] += p * vd[d];
                }
                ws.l[r] = ws.l[r] * correction + sum;
                ws.m[r] = m_new;
            }
        }

        for (int32_t r = 0; r < rows; ++r) {
            const int32_t i = i0 + r / group_, h = kv_head * group_ + r % group_;
            T* o = static_cast<T*>(a_.o) + b * a_.o_stride_b + i * a_.o_stride_s + h * a_.o_stride_h;
            // l > 0 for every row that saw a key (its maximum contributes exp(0) = 1); NaN inputs keep NaN.
            const bool seen = ws.end[r] > ws.first[r];
            const double inv = seen ? 1.0 / ws.l[r] : 0.0;
            const double* ar = ws.acc.data() + static_cast<size_t>(r) * dim;
            for (int32_t d = 0; d < dim; ++d) o[d] = E::store(seen ? ar[d] * inv : 0.0);
            if (a_.lse)
                a_.lse[b * a_.lse_stride_b + i * a_.lse_stride_s + h * a_.lse_stride_h] =
                    seen ? static_cast<float>(ws.m[r] + std::log(ws.l[r])) : -std::numeric_limits<float>::infinity();
        }
    }

    // Multiply-adds of the whole call (upper bound: every query sees every key).
    double cost() const {
        return static_cast<double>(a_.batch) * a_.q_len * a_.num_qo_heads * a_.kv_len * a_.head_dim * 2.0;
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
    int32_t group_, queries_per_item_, blocks_, rows_;
};

template <typename E>
struct PagedJob {
    const PagedRunner<E>* runner;
    int64_t items;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
};

template <typename E>
void run_paged_items(void* context, int) {
    PagedJob<E>& job = *static_cast<PagedJob<E>*>(context);
    int64_t finished = 0;
    try {
        typename PagedRunner<E>::Scratch ws = job.runner->make_scratch();
        for (int64_t item = job.next.fetch_add(1); item < job.items; item = job.next.fetch_add(1)) {
            job.runner->run_item(item, ws);
            ++finished;
        }
    } catch (const std::bad_alloc&) {
        // This thread takes no more items; the others do.
    }
    job.done.fetch_add(finished);
}

template <typename E>
pattn_status run(const AttentionArgs& a) {
    const PagedRunner<E> runner(a);
    PagedJob<E> job;
    job.runner = &runner;
    job.items = runner.work_items();
    int threads = default_thread_count();
    if (a.cpu_max_threads > 0 && a.cpu_max_threads < threads) threads = a.cpu_max_threads;
    if (runner.cost() < kParallelMinCost) threads = 1;
    if (static_cast<int64_t>(threads) > job.items) threads = static_cast<int>(job.items);
    run_parallel(run_paged_items<E>, &job, threads < 1 ? 1 : threads);
    if (job.done.load() != job.items)
        return set_error(PATTN_STATUS_OUT_OF_MEMORY, "CPU attention (paged KV cache): out of host memory for scratch");
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status attend_paged(const AttentionArgs& a) {
    if (a.batch == 0 || a.q_len == 0 || a.num_qo_heads == 0) return PATTN_STATUS_SUCCESS;
    switch (a.dtype) {
        case PATTN_DTYPE_F32: return run<PagedF32>(a);
        case PATTN_DTYPE_F16: return run<PagedF16>(a);
        case PATTN_DTYPE_BF16: return run<PagedBF16>(a);
        default:
            return set_error(PATTN_STATUS_UNSUPPORTED, "CPU attention (paged KV cache): dtype = %d is not supported",
                             static_cast<int>(a.dtype));
    }
}

}  // namespace cpu
}  // namespace pattn
