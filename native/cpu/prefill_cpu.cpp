// CPU backend of masked prefill (SPEC §2-4); also serves decode, which is
// causal prefill with every query row real.
//
// Work is split into items of (batch row, query head, 64 padded query rows),
// taken from an atomic counter by a few std::threads. Each item runs a tiled
// online softmax over 64-key tiles in f32: no q_len x kv_len matrix exists.
// Only real query rows and real, visible keys are ever read, so padding may
// hold anything (NaN, Inf); padding rows and rows that see no key are written
// as o = 0, lse = -inf. Which rows are real and which keys a query sees comes
// from mask_rules.h only.
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

constexpr int kQueryTile = 64;
constexpr int kKeyTile = 64;

// Element access by storage type.
// Scores of f32 inputs are accumulated in double: the f32 contract (lse
// within 1e-5) does not survive rounding in long f32 dot products when the
// scores are large.
struct F32 {
    using storage = float;
    using score = double;
    static float load(float x) { return x; }
    static float store(float x) { return x; }
};
struct F16 {
    using storage = uint16_t;
    using score = float;
    static float load(uint16_t x) { return half_to_float(x); }
    static uint16_t store(float x) { return float_to_half(x); }
};
struct BF16 {
    using storage = uint16_t;
    using score = float;
    static float load(uint16_t x) { return bf16_to_float(x); }
    static uint16_t store(float x) { return float_to_bf16(x); }
};

// Per-thread scratch, sized once per call. S is the score accumulator type.
template <typename S>
struct Workspace {
    std::vector<S> q;        // [kQueryTile][head_dim]
    std::vector<S> kt;       // [head_dim][kKeyTile], keys transposed
    std::vector<float> v;    // [kKeyTile][head_dim]
    std::vector<S> dots;     // [kQueryTile][kKeyTile] q.k
    std::vector<float> s;    // [kQueryTile][kKeyTile] scores, then probabilities
    std::vector<float> acc;  // [kQueryTile][head_dim]
    std::vector<float> m;    // [kQueryTile] running max
    std::vector<float> l;    // [kQueryTile] running sum

    explicit Workspace(int head_dim)
        : q(static_cast<size_t>(kQueryTile) * head_dim),
          kt(static_cast<size_t>(head_dim) * kKeyTile),
          v(static_cast<size_t>(kKeyTile) * head_dim),
          dots(static_cast<size_t>(kQueryTile) * kKeyTile),
          s(static_cast<size_t>(kQueryTile) * kKeyTile),
          acc(static_cast<size_t>(kQueryTile) * head_dim),
          m(kQueryTile),
          l(kQueryTile) {}
};

template <typename E>
class PrefillRunner {
public:
    using T = typename E::storage;
    using S = typename E::score;
    using Scratch = Workspace<S>;

    explicit PrefillRunner(const AttentionArgs& a)
        : a_(a), tiles_per_row_((a.q_len + kQueryTile - 1) / kQueryTile) {}

    int64_t work_items() const {
        return static_cast<int64_t>(a_.batch) * a_.num_qo_heads * tiles_per_row_;
    }

    void run_item(int64_t item, Scratch& ws) const {
        const int32_t tile = static_cast<int32_t>(item % tiles_per_row_);
        const int32_t head = static_cast<int32_t>((item / tiles_per_row_) % a_.num_qo_heads);
        const int32_t b = static_cast<int32_t>(item / (static_cast<int64_t>(tiles_per_row_) * a_.num_qo_heads));
        const int32_t kv_head = head / (a_.num_qo_heads / a_.num_kv_heads);

        // Host lengths were range-checked; clamping keeps this safe anyway.
        const int32_t qv = a_.q_lens ? clamp_len(a_.q_lens[b], a_.q_len) : a_.q_len;
        const int32_t kv = a_.kv_lens ? clamp_len(a_.kv_lens[b], a_.kv_len) : a_.kv_len;
        const RowExtent ext = row_extent(a_.q_len, a_.kv_len, qv, kv, a_.left_padded);

        const int32_t r0 = tile * kQueryTile;
        const int32_t r1 = std::min(r0 + kQueryTile, a_.q_len);
        const int32_t real_lo = std::max(r0, ext.q_first);
        const int32_t real_hi = std::min(r1, ext.q_first + ext.qv);

        for (int32_t r = r0; r < r1; ++r)
            if (r < real_lo || r >= real_hi) write_empty_row(b, r, head);
        if (real_lo >= real_hi) return;

        attend(b, head, kv_head, ext, real_lo, real_hi, ws);
    }

private:
    const T* q_row(int32_t b, int32_t r, int32_t h) const {
        return static_cast<const T*>(a_.q) + b * a_.q_stride_b + r * a_.q_stride_s + h * a_.q_stride_h;
    }
    const T* k_row(int32_t b, int32_t r, int32_t h) const {
        return static_cast<const T*>(a_.k) + b * a_.k_stride_b + r * a_.k_stride_s + h * a_.k_stride_h;
    }
    const T* v_row(int32_t b, int32_t r, int32_t h) const {
        return static_cast<const T*>(a_.v) + b * a_.v_stride_b + r * a_.v_stride_s + h * a_.v_stride_h;
    }
    T* o_row(int32_t b, int32_t r, int32_t h) const {
        return static_cast<T*>(a_.o) + b * a_.o_stride_b + r * a_.o_stride_s + h * a_.o_stride_h;
    }
    float* lse_at(int32_t b, int32_t r, int32_t h) const {
        return a_.lse + b * a_.lse_stride_b + r * a_.lse_stride_s + h * a_.lse_stride_h;
    }

    void write_empty_row(int32_t b, int32_t r, int32_t h) const {
        T* o = o_row(b, r, h);
        const T zero = E::store(0.0f);
        for (int32_t d = 0; d < a_.head_dim; ++d) o[d] = zero;
        if (a_.lse) *lse_at(b, r, h) = -std::numeric_limits<float>::infinity();
    }

    // Real query rows [real_lo, real_hi) of (b, head), all inside one tile.
    void attend(int32_t b, int32_t head, int32_t kv_head, const RowExtent& ext, int32_t real_lo,
                int32_t real_hi, Scratch& ws) const {
        const int32_t dim = a_.head_dim;
        const int32_t rows = real_hi - real_lo;
        const int32_t i_begin = real_lo - ext.q_first;  // index among the real queries
        const TileKeyRange keys = tile_key_range(i_begin, i_begin + rows, ext.qv, ext.kv, a_.causal);
        const float neg_inf = -std::numeric_limits<float>::infinity();

        S* q = ws.q.data();
        S* kt = ws.kt.data();
        S* dots = ws.dots.data();
        float* v = ws.v.data();
        float* s = ws.s.data();
        float* acc = ws.acc.data();
        float* m = ws.m.data();
        float* l = ws.l.data();

        for (int32_t r = 0; r < rows; ++r) {
            const T* src = q_row(b, real_lo + r, head);
            S* dst = q + static_cast<size_t>(r) * dim;
            for (int32_t d = 0; d < dim; ++d) dst[d] = static_cast<S>(E::load(src[d]));
            float* ar = acc + static_cast<size_t>(r) * dim;
            for (int32_t d = 0; d < dim; ++d) ar[d] = 0.0f;
            m[r] = neg_inf;
            l[r] = 0.0f;
        }

        // Keys [0, keys_any) are seen by some query of the tile; the rest
        // (including all padding keys) are never read.
        for (int32_t j0 = 0; j0 < keys.keys_any; j0 += kKeyTile) {
            const int32_t n = std::min(kKeyTile, keys.keys_any - j0);
            for (int32_t c = 0; c < n; ++c) {
                const int32_t row = ext.k_first + j0 + c;
                const T* ks = k_row(b, row, kv_head);
                const T* vs = v_row(b, row, kv_head);
                float* vd = v + static_cast<size_t>(c) * dim;
                for (int32_t d = 0; d < dim; ++d) {
                    kt[static_cast<size_t>(d) * kKeyTile + c] = static_cast<S>(E::load(ks[d]));
                    vd[d] = E::load(vs[d]);
                }
            }

            // Scores: s[r][c] = scale * sum_d q[r][d] * k[c][d], vectorized over c.
            const S scale = static_cast<S>(a_.scale);
            for (int32_t r = 0; r < rows; ++r) {
                S* dr = dots + static_cast<size_t>(r) * kKeyTile;
                for (int32_t c = 0; c < kKeyTile; ++c) dr[c] = S(0);
                const S* qr = q + static_cast<size_t>(r) * dim;
                for (int32_t d = 0; d < dim; ++d) {
                    const S qd = qr[d];
                    const S* kd = kt + static_cast<size_t>(d) * kKeyTile;
                    for (int32_t c = 0; c < kKeyTile; ++c) dr[c] += qd * kd[c];
                }
                float* sr = s + static_cast<size_t>(r) * kKeyTile;
                for (int32_t c = 0; c < kKeyTile; ++c) sr[c] = static_cast<float>(dr[c] * scale);
            }

            // Keys at or past keys_all are visible to only some rows.
            const bool needs_mask = j0 + n > keys.keys_all;
            for (int32_t r = 0; r < rows; ++r) {
                float* sr = s + static_cast<size_t>(r) * kKeyTile;
                int32_t visible = n;
                if (needs_mask) {
                    const int32_t count = visible_key_count(i_begin + r, ext.qv, ext.kv, a_.causal);
                    visible = std::max(0, std::min(n, count - j0));
                }
                if (visible == 0) continue;  // nothing of this tile for this row

                float tile_max = neg_inf;
                for (int32_t c = 0; c < visible; ++c) tile_max = std::max(tile_max, sr[c]);
                const float m_new = std::max(m[r], tile_max);
                const float correction = std::exp(m[r] - m_new);  // exp(-inf) = 0 on the first tile
                float sum = 0.0f;
                for (int32_t c = 0; c < visible; ++c) {
                    sr[c] = std::exp(sr[c] - m_new);
                    sum += sr[c];
                }
                l[r] = l[r] * correction + sum;
                m[r] = m_new;

                float* ar = acc + static_cast<size_t>(r) * dim;
                for (int32_t d = 0; d < dim; ++d) ar[d] *= correction;
                for (int32_t c = 0; c < visible; ++c) {
                    const float p = sr[c];
                    const float* vc = v + static_cast<size_t>(c) * dim;
                    for (int32_t d = 0; d < dim; ++d) ar[d] += p * vc[d];
                }
            }
        }

        for (int32_t r = 0; r < rows; ++r) {
            if (l[r] == 0.0f) {  // the row sees no key
                write_empty_row(b, real_lo + r, head);
                continue;
            }
            const float inv = 1.0f / l[r];
            const float* ar = acc + static_cast<size_t>(r) * dim;
            T* o = o_row(b, real_lo + r, head);
            for (int32_t d = 0; d < dim; ++d) o[d] = E::store(ar[d] * inv);
            if (a_.lse)
                *lse_at(b, real_lo + r, head) =
                    static_cast<float>(static_cast<double>(m[r]) + std::log(static_cast<double>(l[r])));
        }
    }

    const AttentionArgs& a_;
    const int32_t tiles_per_row_;
};

template <typename E>
pattn_status run_prefill(const AttentionArgs& args) {
    const PrefillRunner<E> runner(args);
    const int64_t items = runner.work_items();
    if (items == 0) return PATTN_STATUS_SUCCESS;

    const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
    const int workers = static_cast<int>(std::min<int64_t>(hardware, items));

    // Scratch is allocated here, so that an allocation failure surfaces as
    // std::bad_alloc in the calling thread (the API turns it into a status).
    std::vector<typename PrefillRunner<E>::Scratch> workspaces;
    workspaces.reserve(workers);
    for (int w = 0; w < workers; ++w) workspaces.emplace_back(args.head_dim);

    std::atomic<int64_t> next{0};
    auto work = [&](int worker) {
        auto& ws = workspaces[worker];
        for (int64_t item = next.fetch_add(1); item < items; item = next.fetch_add(1))
            runner.run_item(item, ws);
    };

    std::vector<std::thread> threads;
    threads.reserve(workers > 0 ? workers - 1 : 0);
    for (int w = 1; w < workers; ++w) {
        try {
            threads.emplace_back(work, w);
        } catch (const std::system_error&) {
            break;  // fewer threads: the items are still all taken
        }
    }
    work(0);
    for (std::thread& t : threads) t.join();
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status prefill(const AttentionArgs& args) {
    switch (args.dtype) {
        case PATTN_DTYPE_F32: return run_prefill<F32>(args);
        case PATTN_DTYPE_F16: return run_prefill<F16>(args);
        case PATTN_DTYPE_BF16: return run_prefill<BF16>(args);
        default: break;
    }
    return set_error(PATTN_STATUS_UNSUPPORTED, "CPU prefill: dtype %d is not supported",
                     static_cast<int>(args.dtype));
}

}  // namespace cpu
}  // namespace pattn
