// CPU backend of masked prefill (docs/semantics.md); also serves decode, which is
// causal prefill with every query row real, and both against a paged KV cache
// (args.page_table: the kernels and the packing read key rows through the
// table, attend_item.h key_run; a paged cache is always right-padded).
//
// The call is planned into items (attend_item.h): up to kItemRows query rows
// of one (batch row, KV head), i.e. every query head of the KV group for a
// run of real queries, so K and V are read once per group. Items are sorted
// by cost, longest first, and taken from an atomic counter by the persistent
// pool (thread_pool.h), so one long row among short ones does not serialise
// the call. Padding query rows are written (o = 0, lse = -inf) by items of
// their own. Each item runs the kernel of the instruction set isa.cpp picked;
// an item whose scores overflow f32 is recomputed in double precision here.
// Only real query rows and real, visible keys are read, so padding may hold
// anything (NaN, Inf). Which rows are real and which keys a query sees comes
// from mask_rules.h. Scratch is per thread and kept between calls: the
// steady path makes no system call and allocates nothing.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "attend_item.h"
#include "backends.h"
#include "convert.h"
#include "errors.h"
#include "isa.h"
#include "mask_rules.h"
#include "thread_pool.h"

namespace pattn {
namespace cpu {
namespace {

// Below this many multiply-adds a call runs on the calling thread alone:
// waking the pool would cost more than it saves.
constexpr double kParallelMinCost = 1 << 18;

AttendKernel pick_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
    switch (active_isa()) {
        case Isa::Avx512Bf16: return attend_avx512_bf16;
        case Isa::Avx512: return attend_avx512;
        case Isa::Avx2: return attend_avx2;
        case Isa::Scalar: break;
    }
#endif
    return attend_portable;
}

PackKernel pick_pack_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
    switch (active_isa()) {
        case Isa::Avx512Bf16: return pack_avx512_bf16;
        case Isa::Avx512: return pack_avx512;
        case Isa::Avx2: return pack_avx2;
        case Isa::Scalar: break;
    }
#endif
    return pack_portable;
}

// A thread's scratch, grown on demand and kept (64-byte aligned).
struct ThreadScratch {
    float* data = nullptr;
    size_t floats = 0;
    ~ThreadScratch() { std::free(data); }
    float* get(size_t need) {
        if (need <= floats) return data;
        const size_t bytes = (need * sizeof(float) + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, bytes);
        if (p == nullptr) return nullptr;
        std::free(data);
        data = static_cast<float*>(p);
        floats = bytes / sizeof(float);
        return data;
    }
};

ThreadScratch& thread_scratch() {
    thread_local ThreadScratch scratch;
    return scratch;
}

// -------------------------------------------------------- element access --
float load_elem(pattn_dtype dtype, const void* base, int64_t index) {
    switch (dtype) {
        case PATTN_DTYPE_F16: return half_to_float(static_cast<const uint16_t*>(base)[index]);
        case PATTN_DTYPE_BF16: return bf16_to_float(static_cast<const uint16_t*>(base)[index]);
        default: return static_cast<const float*>(base)[index];
    }
}

void store_elem(pattn_dtype dtype, void* base, int64_t index, float x) {
    switch (dtype) {
        case PATTN_DTYPE_F16: static_cast<uint16_t*>(base)[index] = float_to_half(x); break;
        case PATTN_DTYPE_BF16: static_cast<uint16_t*>(base)[index] = float_to_bf16(x); break;
        default: static_cast<float*>(base)[index] = x; break;
    }
}

void write_empty_row(const AttentionArgs& a, int64_t b, int64_t row, int64_t head) {
    const int64_t o = b * a.o_stride_b + row * a.o_stride_s + head * a.o_stride_h;
    for (int64_t x = 0; x < a.head_dim; ++x) store_elem(a.dtype, a.o, o + x, 0.0f);
    if (a.lse)
        a.lse[b * a.lse_stride_b + row * a.lse_stride_s + head * a.lse_stride_h] =
            -std::numeric_limits<float>::infinity();
}

// Item with i_begin == i_end == -1: padding rows [q_first, k_first) of row b
// (the fields are reused as a row range) for every head.
constexpr int64_t kPaddingItem = -1;

void write_padding(const AttentionArgs& a, const AttendItem& it) {
    for (int64_t row = it.q_first; row < it.k_first; ++row)
        for (int64_t h = 0; h < a.num_qo_heads; ++h) write_empty_row(a, it.b, row, h);
}

// Double-precision recomputation of an item whose f32 scores were not all
// finite: scores, running max and sums in f64, one key at a time. Finite f32
// inputs cannot overflow there (|q.k| * scale < 1e120), so a non-finite score
// means NaN or Inf among the real, visible data: that row is NaN.
// `scratch` holds at least 2 * head_dim doubles (ScratchLayout::acc).
void attend_double(const AttentionArgs& a, const AttendItem& it, double* scratch) {
    const int64_t d = a.head_dim;
    const int64_t group = a.num_qo_heads / a.num_kv_heads;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    double* acc = scratch;
    double* q = scratch + d;
    for (int64_t i = it.i_begin; i < it.i_end; ++i) {
        const int64_t visible = std::min(it.kv, std::max<int64_t>(0, it.hi_first + (i - it.i_begin)));
        const int64_t first = std::min(it.kv, std::max<int64_t>(0, it.lo_first + (i - it.i_begin)));
        const int64_t row = it.q_first + i;
        for (int64_t g = 0; g < group; ++g) {
            const int64_t head = it.kv_head * group + g;
            const int64_t qo = it.b * a.q_stride_b + row * a.q_stride_s + head * a.q_stride_h;
            for (int64_t x = 0; x < d; ++x) q[x] = load_elem(a.dtype, a.q, qo + x);
            std::fill(acc, acc + d, 0.0);
            double m = -std::numeric_limits<double>::infinity(), l = 0.0;
            for (int64_t j = first; j < visible; ++j) {
                const int64_t key = it.k_first + j;
                const KeyRun at = key_run(a, it.b, key, key + 1);  // through the page table if any
                const int64_t ko = at.k_off + it.kv_head * a.k_stride_h;
                const int64_t vo = at.v_off + it.kv_head * a.v_stride_h;
                double dot = 0.0;
                for (int64_t x = 0; x < d; ++x) dot += q[x] * load_elem(a.dtype, a.k, ko + x);
                double score = dot * static_cast<double>(a.scale);
                if (it.soft_cap > 0.0f) score = it.soft_cap * std::tanh(score / it.soft_cap);
                if (!std::isfinite(score)) {
                    m = nan;
                    break;
                }
                const double m_new = std::max(m, score);
                const double c = std::exp(m - m_new);  // exp(-inf) = 0 on the first key
                const double p = std::exp(score - m_new);
                l = l * c + p;
                for (int64_t x = 0; x < d; ++x) acc[x] = acc[x] * c + p * load_elem(a.dtype, a.v, vo + x);
                m = m_new;
            }
            const int64_t oo = it.b * a.o_stride_b + row * a.o_stride_s + head * a.o_stride_h;
            float* lse = a.lse ? a.lse + it.b * a.lse_stride_b + row * a.lse_stride_s + head * a.lse_stride_h
                               : nullptr;
            if (std::isnan(m)) {
                for (int64_t x = 0; x < d; ++x) store_elem(a.dtype, a.o, oo + x, static_cast<float>(nan));
                if (lse) *lse = static_cast<float>(nan);
            } else if (l == 0.0) {
                write_empty_row(a, it.b, row, head);
            } else {
                for (int64_t x = 0; x < d; ++x) store_elem(a.dtype, a.o, oo + x, static_cast<float>(acc[x] / l));
                if (lse) *lse = static_cast<float>(m + std::log(l));
            }
        }
    }
}

// ------------------------------------------------------------- planning --
std::vector<int64_t>& plan_offsets() {
    thread_local std::vector<int64_t> offsets;
    return offsets;
}

struct PackTask {
    int32_t b, kv_head;
    int64_t key_begin, key_end;  // absolute key rows
    float* k_out;
    float* v_out;
};

struct Plan {
    std::vector<AttendItem> items;
    std::vector<PackTask> pack_tasks;  // empty: items convert their own tiles
    ThreadScratch packed;              // K and V rows of the call in f32, kept
    std::vector<int64_t> key_lo, key_hi;  // per row b: the keys some item sees
    int64_t max_rows = 0;
    double cost = 0.0;
};

// Packing K/V once per call pays when items read each row at least this many
// times; it is skipped when it would need more than kMaxPackedFloats.
constexpr double kPackMinReuse = 2.0;
constexpr int64_t kMaxPackedFloats = int64_t(1) << 27;  // 512 MiB
constexpr int64_t kPackChunk = 256;                     // keys per packing task

void plan_packing(const AttentionArgs& a, Plan& plan) {
    plan.pack_tasks.clear();
    const int64_t dp = scratch_layout(a.head_dim, plan.max_rows).dp;
    double reads = 0.0;
    for (const AttendItem& it : plan.items)
        if (it.i_begin != kPaddingItem) reads += static_cast<double>(it.keys_any);
    std::vector<int64_t>& base = plan_offsets();
    base.assign(static_cast<size_t>(a.batch) + 1, 0);
    for (int32_t b = 0; b < a.batch; ++b) {
        const int32_t kv = a.kv_lens ? clamp_len(a.kv_lens[b], a.kv_len) : a.kv_len;
        base[b + 1] = base[b] + static_cast<int64_t>(kv) * a.num_kv_heads;
    }
    const int64_t rows = base[a.batch];  // key rows of K (and of V)
    if (rows == 0 || reads < kPackMinReuse * static_cast<double>(rows) || 2 * rows * dp > kMaxPackedFloats) return;
    float* buffer = plan.packed.get(static_cast<size_t>(2 * rows * dp));
    if (buffer == nullptr) return;  // no memory for it: the items pack their tiles
    float* k_all = buffer;
    float* v_all = buffer + rows * dp;
    // Only keys some item of the row sees are packed (the others are never
    // read: with a page table their pages may be unused and hold anything).
    plan.key_lo.assign(static_cast<size_t>(a.batch), std::numeric_limits<int64_t>::max());
    plan.key_hi.assign(static_cast<size_t>(a.batch), 0);
    for (AttendItem& it : plan.items) {
        if (it.i_begin == kPaddingItem) continue;
        const int64_t at = (base[it.b] + it.kv_head * it.kv) * dp;
        it.packed_k = k_all + at;
        it.packed_v = v_all + at;
        if (it.keys_any > it.keys_first) {
            plan.key_lo[it.b] = std::min(plan.key_lo[it.b], it.keys_first);
            plan.key_hi[it.b] = std::max(plan.key_hi[it.b], it.keys_any);
        }
    }
    for (int32_t b = 0; b < a.batch; ++b) {
        const int64_t kv = (base[b + 1] - base[b]) / (a.num_kv_heads > 0 ? a.num_kv_heads : 1);
        const int32_t k_len = a.kv_len;
        const int64_t k_first = a.left_padded ? k_len - kv : 0;
        for (int32_t h = 0; h < a.num_kv_heads; ++h)
            for (int64_t j = plan.key_lo[b]; j < plan.key_hi[b]; j += kPackChunk) {
                PackTask t;
                t.b = b;
                t.kv_head = h;
                t.key_begin = k_first + j;
                t.key_end = k_first + std::min(plan.key_hi[b], j + kPackChunk);
                const int64_t at = (base[b] + h * kv + j) * dp;
                t.k_out = k_all + at;
                t.v_out = v_all + at;
                plan.pack_tasks.push_back(t);
            }
    }
}

void plan_call(const AttentionArgs& a, Plan& plan) {
    plan.items.clear();
    plan.cost = 0.0;
    const int64_t group = a.num_qo_heads / a.num_kv_heads;
    const int64_t tile = std::max<int64_t>(1, kItemRows / group);  // queries per item
    plan.max_rows = 0;
    for (int32_t b = 0; b < a.batch; ++b) {
        // Host lengths were range-checked; clamping keeps this safe anyway.
        // Packed: the sequence's tokens, no padding rows (tokens outside
        // every sequence are not written).
        const RowExtent ext =
            a.packed ? packed_row_extent(a.cu_q, a.cu_kv, b, a.q_len, a.kv_len)
                     : row_extent(a.q_len, a.kv_len, a.q_lens ? clamp_len(a.q_lens[b], a.q_len) : a.q_len,
                                  a.kv_lens ? clamp_len(a.kv_lens[b], a.kv_len) : a.kv_len, a.left_padded);
        const int32_t qv = ext.qv, kv = ext.kv;
        // Padding rows: [0, q_first) and [q_first + qv, q_len).
        const int64_t pad_ranges[2][2] = {{0, a.packed ? 0 : ext.q_first},
                                          {static_cast<int64_t>(ext.q_first) + qv, a.packed ? 0 : a.q_len}};
        for (const auto& range : pad_ranges) {
            if (range[0] >= range[1]) continue;
            AttendItem p{};
            p.b = b;
            p.i_begin = p.i_end = kPaddingItem;
            p.q_first = range[0];
            p.k_first = range[1];
            p.cost = static_cast<double>(range[1] - range[0]) * a.num_qo_heads * a.head_dim * 0.25;
            plan.items.push_back(p);
            plan.cost += p.cost;
        }
        for (int64_t i0 = 0; i0 < qv; i0 += tile) {
            const int64_t i1 = std::min<int64_t>(qv, i0 + tile);
            const TileKeyRange keys = tile_key_range(static_cast<int32_t>(i0), static_cast<int32_t>(i1), qv, kv,
                                                     a.mask());
            const KeyBounds bounds = key_bounds(static_cast<int32_t>(i0), qv, kv, a.mask());
            for (int32_t h = 0; h < a.num_kv_heads; ++h) {
                AttendItem it{};
                it.b = b;
                it.kv_head = h;
                it.i_begin = i0;
                it.i_end = i1;
                it.q_first = ext.q_first;
                it.k_first = ext.k_first;
                it.qv = qv;
                it.kv = kv;
                it.keys_first = keys.keys_first;
                it.keys_any = keys.keys_any;
                it.lo_first = bounds.first;
                it.hi_first = bounds.end;
                it.soft_cap = a.soft_cap;
                const double rows = static_cast<double>((i1 - i0) * group);
                const double keys_mean =
                    0.5 * (std::max(0, keys.keys_all - keys.keys_all_first) + (keys.keys_any - keys.keys_first));
                it.cost = rows * (2.0 * keys_mean + 8.0) * a.head_dim;  // QK + PV, plus the row's fixed work
                plan.items.push_back(it);
                plan.cost += it.cost;
            }
        }
    }
    plan.max_rows = tile * group;
    // std::sort, not stable_sort: no temporary buffer (no allocation per call);
    // the order only decides which thread runs an item, never a result.
    if (plan.items.size() > 1)
        std::sort(plan.items.begin(), plan.items.end(),
                  [](const AttendItem& x, const AttendItem& y) { return x.cost > y.cost; });
}

// ---------------------------------------------------------------- run --
struct Job {
    const AttentionArgs* args;
    const AttendItem* items;
    int64_t count;
    size_t scratch_floats;
    int64_t acc_offset;  // ScratchLayout::acc, reused by attend_double
    AttendKernel kernel;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
};

struct PackJob {
    const AttentionArgs* args;
    const PackTask* tasks;
    int64_t count;
    int64_t dp;
    PackKernel pack;
    std::atomic<int64_t> next{0};
};

void run_pack(void* context, int) {
    PackJob& job = *static_cast<PackJob*>(context);
    for (int64_t i = job.next.fetch_add(1, std::memory_order_relaxed); i < job.count;
         i = job.next.fetch_add(1, std::memory_order_relaxed)) {
        const PackTask& t = job.tasks[i];
        job.pack(*job.args, t.b, t.kv_head, t.key_begin, t.key_end, job.dp, t.k_out, t.v_out);
    }
}

void run_items(void* context, int) {
    Job& job = *static_cast<Job*>(context);
    float* scratch = nullptr;
    try {
        scratch = thread_scratch().get(job.scratch_floats);
    } catch (...) {
        scratch = nullptr;
    }
    if (scratch == nullptr) return;  // this thread takes no items; others do
    int64_t finished = 0;
    for (int64_t i = job.next.fetch_add(1, std::memory_order_relaxed); i < job.count;
         i = job.next.fetch_add(1, std::memory_order_relaxed)) {
        const AttendItem& it = job.items[i];
        if (it.i_begin == kPaddingItem) {
            write_padding(*job.args, it);
        } else if (!job.kernel(*job.args, it, scratch)) {
            attend_double(*job.args, it, reinterpret_cast<double*>(scratch + job.acc_offset));
        }
        ++finished;
    }
    job.done.fetch_add(finished, std::memory_order_relaxed);
}

int thread_count(const AttentionArgs& args, const Plan& plan) {
    int threads = default_thread_count();
    if (args.cpu_max_threads > 0 && args.cpu_max_threads < threads) threads = args.cpu_max_threads;
    if (plan.cost < kParallelMinCost) threads = 1;
    if (static_cast<int64_t>(threads) > static_cast<int64_t>(plan.items.size()))
        threads = static_cast<int>(plan.items.size());
    return threads < 1 ? 1 : threads;
}

}  // namespace

pattn_status prefill(const AttentionArgs& args) {
    if (args.dtype != PATTN_DTYPE_F32 && args.dtype != PATTN_DTYPE_F16 && args.dtype != PATTN_DTYPE_BF16)
        return set_error(PATTN_STATUS_UNSUPPORTED, "CPU prefill: dtype %d is not supported",
                         static_cast<int>(args.dtype));
    thread_local Plan plan;  // kept: no allocation once it has grown
    plan_call(args, plan);
    if (plan.items.empty()) return PATTN_STATUS_SUCCESS;

    Job job;
    job.args = &args;
    job.items = plan.items.data();
    job.count = static_cast<int64_t>(plan.items.size());
    const ScratchLayout layout = scratch_layout(args.head_dim, plan.max_rows);
    job.scratch_floats = static_cast<size_t>(layout.total);
    job.acc_offset = layout.acc;
    job.kernel = pick_kernel();
    // The caller's scratch first, so that a failure surfaces in this thread.
    if (thread_scratch().get(job.scratch_floats) == nullptr) throw std::bad_alloc();
    const int threads = thread_count(args, plan);
    plan_packing(args, plan);
    if (!plan.pack_tasks.empty()) {
        PackJob pack;
        pack.args = &args;
        pack.tasks = plan.pack_tasks.data();
        pack.count = static_cast<int64_t>(plan.pack_tasks.size());
        pack.dp = layout.dp;
        pack.pack = pick_pack_kernel();
        run_parallel(run_pack, &pack, threads);
    }
    run_parallel(run_items, &job, threads);
    if (job.done.load() != job.count)  // every thread failed to get scratch
        return set_error(PATTN_STATUS_OUT_OF_MEMORY, "CPU prefill: out of host memory for scratch");
    return PATTN_STATUS_SUCCESS;
}

}  // namespace cpu
}  // namespace pattn
