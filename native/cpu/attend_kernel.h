// Internal (CPU backend): the attention kernel, written once over a vector
// type `Vec` and compiled once per instruction set (attend_portable.cpp,
// attend_avx2.cpp, attend_avx512.cpp, attend_avx512_bf16.cpp define Vec and
// PATTN_ATTEND_ENTRY, then include this file). Everything here has internal
// linkage, so copies built with different -m flags or targets never meet in
// the linker.
//
// One item (attend_item.h) is up to kItemRows query rows of one KV head. Per
// tile of kKeyTile keys:
//   1. K and V rows are converted to f32 (in vector registers) into scratch;
//   2. scores S = Q Kᵀ by a 4-row x 3-key register-tiled microkernel whose
//      accumulators run along head_dim, stored key-major (s[key][row]);
//   3. the online softmax runs across rows, one vector of rows at a time,
//      in log2 units with a polynomial exp2;
//   4. O_tile = P V by a 4-row x 3-vector microkernel, folded into the f64
//      running output (acc = acc * correction + O_tile).
// Running sums and outputs are f64 and every tile's partial sum is added
// once, so accuracy does not decay with the row length.
//
// With PATTN_BF16_PAIR_SCORES defined (attend_avx512_bf16.cpp: Vec has
// load_pairs / dot_pairs), bf16 Q and K stay bf16 in scratch (each f32 row
// of dp floats holds 2 * dp bf16) and step 2 multiplies pairs of them
// (qk_block_pairs); V and P V stay f32 for every dtype.
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <math.h>

#include "attend_item.h"
#include "attention_args.h"
#include "convert.h"

namespace pattn {
namespace cpu {
namespace {

using R = Vec::reg;
using Mask = Vec::mask;
constexpr int W = Vec::W;

constexpr float kNegInf = -__builtin_inff();

// ------------------------------------------------------------ elements --
template <int DT> struct Elem;
template <> struct Elem<PATTN_DTYPE_F32> {
    using T = float;
    static R load(const T* p) { return Vec::loadu(p); }
    static void store(T* p, R x) { Vec::storeu(p, x); }
    static float load1(const T* p) { return *p; }
    static T store1(float x) { return x; }
};
template <> struct Elem<PATTN_DTYPE_F16> {
    using T = uint16_t;
    static R load(const T* p) { return Vec::load_f16(p); }
    static void store(T* p, R x) { Vec::store_f16(p, x); }
    static float load1(const T* p) { return half_to_float(*p); }
    static T store1(float x) { return float_to_half(x); }
};
template <> struct Elem<PATTN_DTYPE_BF16> {
    using T = uint16_t;
    static R load(const T* p) { return Vec::load_bf16(p); }
    static void store(T* p, R x) { Vec::store_bf16(p, x); }
    static float load1(const T* p) { return bf16_to_float(*p); }
    static T store1(float x) { return float_to_bf16(x); }
};

// One row of head_dim elements to f32, zero-padded to dp.
template <int DT>
void pack_row(const typename Elem<DT>::T* src, float* dst, int64_t d, int64_t dp) {
    int64_t c = 0;
    for (; c + W <= d; c += W) Vec::storeu(dst + c, Elem<DT>::load(src + c));
    for (; c < d; ++c) dst[c] = Elem<DT>::load1(src + c);
    for (; c < dp; ++c) dst[c] = 0.0f;
}

#if defined(PATTN_BF16_PAIR_SCORES)
constexpr bool kBf16PairScores = true;
#else
constexpr bool kBf16PairScores = false;
#endif
// Whether Q and K of dtype DT are kept as bf16 pairs for the scores.
template <int DT> constexpr bool kPairScores = kBf16PairScores && DT == PATTN_DTYPE_BF16;

// Row `src` into scratch row `dst` (dp floats) in the form the scores read:
// f32, or (kPairScores) the bf16 elements as they are, zero-padded to 2 * dp
// (memcpy: the scratch is float storage).
template <int DT>
void pack_score_row(const typename Elem<DT>::T* src, float* dst, int64_t d, int64_t dp) {
    if constexpr (kPairScores<DT>) {
        std::memcpy(dst, src, static_cast<size_t>(d) * sizeof(uint16_t));
        std::memset(reinterpret_cast<uint16_t*>(dst) + d, 0, static_cast<size_t>(2 * dp - d) * sizeof(uint16_t));
    } else {
        pack_row<DT>(src, dst, d, dp);
    }
}

// ------------------------------------------------------------- exp2 --
// 2^x for x <= 127; x <= -127 (and -inf) gives exactly 0. Degree-7 Taylor
// polynomial of 2^f on |f| <= 1/2 (truncation below 1e-8 relative).
R exp2v(R x) {
    x = Vec::min(Vec::max(x, Vec::set1(-127.0f)), Vec::set1(127.0f));
    const R n = Vec::round(x);
    const R f = Vec::sub(x, n);
    R p = Vec::set1(1.525273380405984e-05f);
    p = Vec::fmadd(p, f, Vec::set1(1.5403530393381606e-04f));
    p = Vec::fmadd(p, f, Vec::set1(1.3333558146428443e-03f));
    p = Vec::fmadd(p, f, Vec::set1(9.618129107628477e-03f));
    p = Vec::fmadd(p, f, Vec::set1(5.550410866482158e-02f));
    p = Vec::fmadd(p, f, Vec::set1(2.402265069591007e-01f));
    p = Vec::fmadd(p, f, Vec::set1(6.931471805599453e-01f));
    p = Vec::fmadd(p, f, Vec::set1(1.0f));
    return Vec::mul(p, Vec::pow2i(n));
}

// --------------------------------------------------------- microkernels --
// s[c][r] = scale * dot(q[r], k[c]) for 4 rows and NR keys.
template <int NR>
void qk_block(const float* q, const float* k, int64_t dp, int64_t dv, float* s, int64_t mp,
              float scale) {
    R acc[4][NR];
    for (int r = 0; r < 4; ++r)
        for (int j = 0; j < NR; ++j) acc[r][j] = Vec::zero();
    for (int64_t x = 0; x < dv; x += W) {
        R kr[NR];
        for (int j = 0; j < NR; ++j) kr[j] = Vec::loadu(k + j * dp + x);
        for (int r = 0; r < 4; ++r) {
            const R qr = Vec::loadu(q + r * dp + x);
            for (int j = 0; j < NR; ++j) acc[r][j] = Vec::fmadd(qr, kr[j], acc[r][j]);
        }
    }
    for (int j = 0; j < NR; ++j)
        Vec::reduce4(acc[0][j], acc[1][j], acc[2][j], acc[3][j], scale, s + j * mp);
}

// The same from bf16 rows (row stride ld elements, `len` of them a multiple
// of 2 * W, zero past head_dim): each V::dot_pairs adds 2 * W exact products
// in f32. A template over V so that only a Vec with pairs instantiates it.
template <class V, int NR>
void qk_block_pairs(const uint16_t* q, const uint16_t* k, int64_t ld, int64_t len, float* s, int64_t mp,
                    float scale) {
    typename V::reg acc[4][NR];
    for (int r = 0; r < 4; ++r)
        for (int j = 0; j < NR; ++j) acc[r][j] = V::zero();
    for (int64_t x = 0; x < len; x += 2 * V::W) {
        typename V::pairs kr[NR];
        for (int j = 0; j < NR; ++j) kr[j] = V::load_pairs(k + j * ld + x);
        for (int r = 0; r < 4; ++r) {
            const typename V::pairs qr = V::load_pairs(q + r * ld + x);
            for (int j = 0; j < NR; ++j) acc[r][j] = V::dot_pairs(acc[r][j], qr, kr[j]);
        }
    }
    for (int j = 0; j < NR; ++j)
        V::reduce4(acc[0][j], acc[1][j], acc[2][j], acc[3][j], scale, s + j * mp);
}

// acc[r][x..] = acc * corr[r] + sum_c p[c][r] v[c][x..] for 4 rows, NV vectors.
template <int NV>
void pv_block(const float* p, int64_t mp, const float* v, int64_t dp, int64_t n, double* acc,
              const float* corr) {
    R o[4][NV];
    for (int r = 0; r < 4; ++r)
        for (int j = 0; j < NV; ++j) o[r][j] = Vec::zero();
    for (int64_t c = 0; c < n; ++c) {
        R vr[NV];
        for (int j = 0; j < NV; ++j) vr[j] = Vec::loadu(v + c * dp + j * W);
        const float* pc = p + c * mp;
        for (int r = 0; r < 4; ++r) {
            const R pr = Vec::set1(pc[r]);
            for (int j = 0; j < NV; ++j) o[r][j] = Vec::fmadd(pr, vr[j], o[r][j]);
        }
    }
    for (int r = 0; r < 4; ++r)
        for (int j = 0; j < NV; ++j) Vec::fold(acc + r * dp + j * W, o[r][j], corr[r]);
}

// --------------------------------------------------------------- item --
template <int DT>
bool attend(const AttentionArgs& a, const AttendItem& it, float* scratch) {
    using T = typename Elem<DT>::T;
    const int64_t d = a.head_dim;
    const int64_t group = a.num_qo_heads / a.num_kv_heads;
    const int64_t queries = it.i_end - it.i_begin;
    const int64_t rows = queries * group;
    const ScratchLayout L = scratch_layout(d, rows);  // only dp and the offsets' order matter
    // The planner sized scratch for its largest item; offsets use this item's
    // row count, which is never larger.
    const int64_t dp = L.dp, mp = L.mp;
    const int64_t dv = round_up(d, W);        // head_dim the vectors cover
    const int64_t rows4 = round_up(rows, 4);  // rows the microkernels compute
    const int64_t rows_w = round_up(rows, W); // rows the softmax covers (<= mp)
    float* q = scratch + L.q;
    float* kt = scratch + L.k;  // this tile's keys (scratch or the planner's packed rows)
    float* vt = scratch + L.v;
    float* s = scratch + L.s;
    double* acc = reinterpret_cast<double*>(scratch + L.acc);
    float* m = scratch + L.m;
    float* corr = scratch + L.corr;
    double* l = reinterpret_cast<double*>(scratch + L.l);
    float* vis = scratch + L.vis;
    float* vis_lo = scratch + L.vis_lo;

    const T* qb = static_cast<const T*>(a.q);
    const T* kb = static_cast<const T*>(a.k);
    const T* vb = static_cast<const T*>(a.v);

    // Rows past rows4 are never read by the microkernels, rows past rows_w
    // never by the softmax: only these are initialised.
    for (int64_t r = 0; r < rows_w; ++r) {
        m[r] = kNegInf;
        l[r] = 0.0;
        corr[r] = 1.0f;
    }
    for (int64_t r = 0; r < rows4; ++r) {
        float* qr = q + r * dp;
        if (r < rows) {
            const int64_t row = it.q_first + it.i_begin + r / group;
            const int64_t head = it.kv_head * group + r % group;
            pack_score_row<DT>(qb + it.b * a.q_stride_b + row * a.q_stride_s + head * a.q_stride_h, qr, d, dp);
        } else {
            for (int64_t x = 0; x < dp; ++x) qr[x] = 0.0f;
        }
        double* ar = acc + r * dp;
        for (int64_t x = 0; x < dp; ++x) ar[x] = 0.0;
    }

    // Scores in log2 units; with a soft cap the cap applies to the natural
    // score first (mask_rules.h order: cap, then mask).
    const float cap = it.soft_cap;
    const float scale = cap > 0.0f ? a.scale : static_cast<float>(static_cast<double>(a.scale) * 1.4426950408889634);
    const float cap_log2 = static_cast<float>(static_cast<double>(cap) * 1.4426950408889634);
    const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;

    for (int64_t j0 = it.keys_first; j0 < it.keys_any; j0 += kKeyTile) {
        const int64_t n = it.keys_any - j0 < kKeyTile ? it.keys_any - j0 : kKeyTile;
        if (it.packed_k) {
            kt = const_cast<float*>(it.packed_k) + j0 * dp;  // read only
            vt = const_cast<float*>(it.packed_v) + j0 * dp;
        } else {
            for (int64_t c = 0; c < n;) {
                const KeyRun run = key_run(a, it.b, it.k_first + j0 + c, it.k_first + j0 + n);
                const T* kr = kb + run.k_off + it.kv_head * a.k_stride_h;
                const T* vr = vb + run.v_off + it.kv_head * a.v_stride_h;
                for (int64_t x = 0; x < run.count; ++x, ++c) {
                    pack_score_row<DT>(kr + x * a.k_stride_s, kt + c * dp, d, dp);
                    pack_row<DT>(vr + x * a.v_stride_s, vt + c * dp, d, dp);
                }
            }
        }

        // Visible keys of this tile per row.
        for (int64_t r = 0; r < rows_w; ++r) {
            int64_t count = 0, first = 0;
            if (r < rows) {
                int64_t hi = it.hi_first + r / group;
                hi = hi < 0 ? 0 : (hi > it.kv ? it.kv : hi);
                int64_t lo = it.lo_first + r / group;
                lo = lo < 0 ? 0 : (lo > it.kv ? it.kv : lo);
                count = hi - j0;
                count = count < 0 ? 0 : (count > n ? n : count);
                first = lo - j0;
                first = first < 0 ? 0 : (first > n ? n : first);
            }
            vis[r] = static_cast<float>(count);
            vis_lo[r] = static_cast<float>(first) - 0.5f;  // c is seen iff vis_lo < c < vis
        }

        // 2. Scores.
        for (int64_t c0 = 0; c0 < n; c0 += 3) {
            const int64_t nr = n - c0 < 3 ? n - c0 : 3;
            for (int64_t r0 = 0; r0 < rows4; r0 += 4) {
                const float* qr = q + r0 * dp;
                const float* kc = kt + c0 * dp;
                float* sc = s + c0 * mp + r0;
                if constexpr (kPairScores<DT>) {
                    // bf16 rows of 2 * dp elements; len: head_dim up to whole pairs vectors (<= 2 * dp).
                    const uint16_t* qh = reinterpret_cast<const uint16_t*>(qr);
                    const uint16_t* kh = reinterpret_cast<const uint16_t*>(kc);
                    const int64_t ld = 2 * dp, len = round_up(d, 2 * W);
                    if (nr == 3) qk_block_pairs<Vec, 3>(qh, kh, ld, len, sc, mp, scale);
                    else if (nr == 2) qk_block_pairs<Vec, 2>(qh, kh, ld, len, sc, mp, scale);
                    else qk_block_pairs<Vec, 1>(qh, kh, ld, len, sc, mp, scale);
                } else if (nr == 3) qk_block<3>(qr, kc, dp, dv, sc, mp, scale);
                else if (nr == 2) qk_block<2>(qr, kc, dp, dv, sc, mp, scale);
                else qk_block<1>(qr, kc, dp, dv, sc, mp, scale);
            }
            for (int64_t c = c0; c < c0 + nr; ++c)
                for (int64_t r = rows4; r < rows_w; ++r) s[c * mp + r] = 0.0f;
        }
        if (cap > 0.0f)
            for (int64_t c = 0; c < n; ++c)
                for (int64_t r = 0; r < rows_w; ++r) s[c * mp + r] = cap_log2 * tanhf(s[c * mp + r] * inv_cap);

        // 3. Online softmax, W rows at a time.
        for (int64_t r0 = 0; r0 < rows_w; r0 += W) {
            const R visible = Vec::loadu(vis + r0);
            const R visible_lo = Vec::loadu(vis_lo + r0);
            R tile_max = Vec::set1(kNegInf);
            Mask bad = Vec::no_lanes();
            for (int64_t c = 0; c < n; ++c) {
                const R x = Vec::loadu(s + c * mp + r0);
                bad = Vec::mask_or(bad, Vec::not_finite(x));
                const R cv = Vec::set1(static_cast<float>(c));
                const Mask seen = Vec::lt(cv, visible);
                const Mask seen_lo = Vec::lt(visible_lo, cv);
                tile_max = Vec::max(tile_max, Vec::select(seen_lo, Vec::select(seen, x, Vec::set1(kNegInf)),
                                                          Vec::set1(kNegInf)));
            }
            if (Vec::any(bad)) return false;
            const R m_old = Vec::loadu(m + r0);
            const R m_new = Vec::max(m_old, tile_max);
            // m_new = -inf: the row has seen nothing yet; keep its (zero) state.
            const R c_new = Vec::select(Vec::eq(m_new, Vec::set1(kNegInf)), Vec::set1(1.0f),
                                        exp2v(Vec::sub(m_old, m_new)));
            R sum = Vec::zero();
            for (int64_t c = 0; c < n; ++c) {
                float* sp = s + c * mp + r0;
                const R cv = Vec::set1(static_cast<float>(c));
                const Mask seen = Vec::lt(cv, visible);
                const Mask seen_lo = Vec::lt(visible_lo, cv);
                const R p = Vec::select(seen_lo,
                                        Vec::select(seen, exp2v(Vec::sub(Vec::loadu(sp), m_new)), Vec::zero()),
                                        Vec::zero());
                Vec::storeu(sp, p);
                sum = Vec::add(sum, p);
            }
            Vec::storeu(m + r0, m_new);
            Vec::storeu(corr + r0, c_new);
            float sums[W];
            Vec::storeu(sums, sum);
            for (int i = 0; i < W; ++i)
                l[r0 + i] = l[r0 + i] * static_cast<double>(corr[r0 + i]) + static_cast<double>(sums[i]);
        }

        // 4. O += P V.
        for (int64_t x0 = 0; x0 < dv; x0 += 3 * W) {
            const int64_t nv = (dv - x0) / W < 3 ? (dv - x0) / W : 3;
            for (int64_t r0 = 0; r0 < rows4; r0 += 4) {
                const float* p = s + r0;
                const float* v = vt + x0;
                double* ar = acc + r0 * dp + x0;
                if (nv == 3) pv_block<3>(p, mp, v, dp, n, ar, corr + r0);
                else if (nv == 2) pv_block<2>(p, mp, v, dp, n, ar, corr + r0);
                else pv_block<1>(p, mp, v, dp, n, ar, corr + r0);
            }
        }
    }

    // Rows: o = acc / l, lse = ln 2 * (m + log2 l); rows that saw nothing: 0, -inf.
    T* ob = static_cast<T*>(a.o);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t row = it.q_first + it.i_begin + r / group;
        const int64_t head = it.kv_head * group + r % group;
        T* o = ob + it.b * a.o_stride_b + row * a.o_stride_s + head * a.o_stride_h;
        const double lr = l[r];
        const double* ar = acc + r * dp;
        if (lr > 0.0) {
            const double inv = 1.0 / lr;
            int64_t x = 0;
            for (; x + W <= d; x += W) Elem<DT>::store(o + x, Vec::load_scaled(ar + x, inv));
            for (; x < d; ++x) o[x] = Elem<DT>::store1(static_cast<float>(ar[x] * inv));
        } else {
            for (int64_t x = 0; x < d; ++x) o[x] = Elem<DT>::store1(0.0f);
        }
        if (a.lse) {
            float* lse = a.lse + it.b * a.lse_stride_b + row * a.lse_stride_s + head * a.lse_stride_h;
            *lse = lr > 0.0 ? static_cast<float>(0.6931471805599453 * (static_cast<double>(m[r]) + log2(lr)))
                            : kNegInf;
        }
    }
    return true;
}

template <int DT>
void pack_keys(const AttentionArgs& a, int32_t b, int32_t kv_head, int64_t key_begin, int64_t key_end,
               int64_t dp, float* k_out, float* v_out) {
    using T = typename Elem<DT>::T;
    const T* kb = static_cast<const T*>(a.k);
    const T* vb = static_cast<const T*>(a.v);
    for (int64_t key = key_begin; key < key_end;) {
        const KeyRun run = key_run(a, b, key, key_end);
        const T* kr = kb + run.k_off + kv_head * a.k_stride_h;
        const T* vr = vb + run.v_off + kv_head * a.v_stride_h;
        for (int64_t x = 0; x < run.count; ++x, ++key) {
            const int64_t j = key - key_begin;
            pack_score_row<DT>(kr + x * a.k_stride_s, k_out + j * dp, a.head_dim, dp);
            pack_row<DT>(vr + x * a.v_stride_s, v_out + j * dp, a.head_dim, dp);
        }
    }
}

}  // namespace

void PATTN_PACK_ENTRY(const AttentionArgs& args, int32_t b, int32_t kv_head, int64_t key_begin, int64_t key_end,
                      int64_t dp, float* k_out, float* v_out) {
    switch (args.dtype) {
        case PATTN_DTYPE_F16: pack_keys<PATTN_DTYPE_F16>(args, b, kv_head, key_begin, key_end, dp, k_out, v_out); break;
        case PATTN_DTYPE_BF16: pack_keys<PATTN_DTYPE_BF16>(args, b, kv_head, key_begin, key_end, dp, k_out, v_out); break;
        default: pack_keys<PATTN_DTYPE_F32>(args, b, kv_head, key_begin, key_end, dp, k_out, v_out); break;
    }
}

bool PATTN_ATTEND_ENTRY(const AttentionArgs& args, const AttendItem& item, float* scratch) {
    switch (args.dtype) {
        case PATTN_DTYPE_F32: return attend<PATTN_DTYPE_F32>(args, item, scratch);
        case PATTN_DTYPE_F16: return attend<PATTN_DTYPE_F16>(args, item, scratch);
        case PATTN_DTYPE_BF16: return attend<PATTN_DTYPE_BF16>(args, item, scratch);
        default: break;
    }
    return false;
}

}  // namespace cpu
}  // namespace pattn
