// Decode attention against a padded KV cache (memory-bound, CUDA cores).
//
// One block owns one (batch row, KV head, row chunk, KV split). The "rows" of
// a block are the (query position, query head) pairs that read this KV head:
// group * q_len of them, packed so that every K/V row is fetched once per KV
// head (up to ROWS rows per block; larger packs are cut into row chunks).
//
// Inside a block each K/V row is read by LANES_PER_KEY = head_dim / 8 threads
// with one 16-byte load each; a warp covers 32 / LANES_PER_KEY keys at once.
// Tiles of TILE_KEYS keys stream through a STAGES-deep cp.async pipeline in
// shared memory. Every thread only ever reads back the bytes it copied itself,
// so the pipeline needs no block barrier. Every "key group" of threads keeps
// its own online-softmax state; the states are merged through shared memory
// at the end. Only real keys of the split's range are ever loaded: the copies
// of out-of-range slots are zero-fills that read nothing from global memory.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "common/convert.cuh"
#include "common/math_constants.h"
#include "common/online_softmax.cuh"
#include "common/paged_kv.cuh"
#include "common/ptx.cuh"
#include "common/soft_cap.cuh"
#include "decode_params.h"
#include "mask_rules.h"

namespace pattn {
namespace cuda {
namespace decode_detail {

// The end of a block, after its key loop and after every key group has put
// its state (max, sum, unnormalized o) in the merge area at the start of
// shared memory ([state][ROWS] maxima, [state][ROWS] sums, [state][ROWS]
// [HEAD_DIM] o) and the block has synchronized: merges the STATES states
// of each row and writes the split's partial, the final output, or (cluster
// merge) merges the row's splits.
template <typename T, int HEAD_DIM, int ROWS, int STATES>
__device__ __forceinline__ void finish_block(const DecodeParams& p, unsigned char* smem_raw, int row_begin,
                                             int kv_head, int b, int split) {
    const float kNegInf = -__int_as_float(0x7f800000);
    const int tid = threadIdx.x;
    const float* merge_m = reinterpret_cast<const float*>(smem_raw);  // [state][ROWS]
    const float* merge_l = merge_m + STATES * ROWS;                   // [state][ROWS]
    const float* merge_acc = merge_l + STATES * ROWS;                 // [state][ROWS][HEAD_DIM]
    const bool cluster = p.cluster_merge != 0;
    const bool split_output = p.num_splits > 1 && !cluster;
    float* cl_o = reinterpret_cast<float*>(smem_raw + merge_area_bytes<ROWS, HEAD_DIM>());  // [ROWS][HEAD_DIM]
    float* cl_max = cl_o + ROWS * HEAD_DIM;                                  // [ROWS], log2 domain
    float* cl_sum = cl_max + ROWS;                                           // [ROWS], relative to cl_max
    float* cl_w = cl_sum + ROWS;                                             // [ROWS][kMaxClusterSplits]
    float* cl_lse_out = cl_w + ROWS * kMaxClusterSplits;                     // [ROWS]
    for (int idx = tid; idx < ROWS * HEAD_DIM; idx += kThreads) {
        const int r = idx / HEAD_DIM;
        const int e = idx % HEAD_DIM;
        const int row = row_begin + r;
        if (row >= p.rows_per_kv_head) continue;
        const int i = row / p.group;
        const int h = kv_head * p.group + row % p.group;

        float m_all = kNegInf;
        for (int st = 0; st < STATES; ++st) m_all = fmaxf(m_all, merge_m[st * ROWS + r]);
        float l_all = 0.f, o_sum = 0.f;
        if (m_all != kNegInf) {
            for (int st = 0; st < STATES; ++st) {
                const float w = exp2f(merge_m[st * ROWS + r] - m_all);
                l_all += merge_l[st * ROWS + r] * w;
                o_sum += merge_acc[(st * ROWS + r) * HEAD_DIM + e] * w;
            }
        }
        const bool seen = l_all > 0.f;
        const float out = seen ? o_sum / l_all : 0.f;
        const float lse2 = seen ? m_all + log2f(l_all) : kNegInf;

        // A split's state leaves as its maximum and its sum, not as
        // lse2 = max + log2(sum): with a maximum near FLT_MAX (overflowing
        // scores, common/online_softmax.cuh) that sum would round away, and
        // splits holding different numbers of tied keys would get equal weights.
        if (cluster) {
            cl_o[r * HEAD_DIM + e] = out;
            if (e == 0) {
                cl_max[r] = seen ? m_all : kNegInf;
                cl_sum[r] = seen ? l_all : 0.f;
            }
        } else if (split_output) {
            const int64_t row_index =
                ((static_cast<int64_t>(split) * p.batch + b) * p.q_len + i) * p.num_qo_heads + h;
            p.part_o[row_index * HEAD_DIM + e] = out;
            if (e == 0) {
                const int64_t part_rows = static_cast<int64_t>(p.num_splits) * p.batch * p.q_len * p.num_qo_heads;
                p.part_state[row_index] = seen ? m_all : kNegInf;
                p.part_state[part_rows + row_index] = seen ? l_all : 0.f;
            }
        } else {
            T* op = static_cast<T*>(p.o) + b * p.o_stride_b + i * p.o_stride_s + h * p.o_stride_h;
            op[e] = Convert<T>::from_float(out);
            if (e == 0 && p.lse)
                p.lse[b * p.lse_stride_b + i * p.lse_stride_s + h * p.lse_stride_h] =
                    seen ? lse2 * kLn2 : kNegInf;
        }
    }

    if (cluster) {
        // Every block of the cluster (the row's splits, rank = split) has its
        // state in shared memory; block 0 merges them (base 2: weight
        // sum_s * 2^(max_s - max)). Empty splits hold o = 0, max = -inf,
        // sum = 0 and get weight 0.
        cluster_barrier();
        if (split == 0) {
            const int splits = p.num_splits;
            // Gather the splits' maxima (all remote loads in flight at once).
            for (int idx = tid; idx < ROWS * splits; idx += kThreads) {
                const int r = idx / splits;
                const int s2 = idx % splits;
                cl_w[r * kMaxClusterSplits + s2] = cluster_load(cluster_map(cl_max + r, s2));
            }
            __syncthreads();
            for (int r = tid; r < ROWS; r += kThreads) {
                float* w = cl_w + r * kMaxClusterSplits;
                float m_all = kNegInf;
                for (int s2 = 0; s2 < splits; ++s2) m_all = fmaxf(m_all, w[s2]);
                const bool seen = m_all != kNegInf;
                float sum = 0.f;
                for (int s2 = 0; s2 < splits; ++s2) {
                    const float x = seen ? exp2f(w[s2] - m_all) * cluster_load(cluster_map(cl_sum + r, s2)) : 0.f;
                    w[s2] = x;
                    sum += x;
                }
                const float inv = seen ? 1.f / sum : 0.f;
                for (int s2 = 0; s2 < splits; ++s2) w[s2] *= inv;
                cl_lse_out[r] = seen ? m_all + log2f(sum) : kNegInf;
            }
            __syncthreads();
            for (int idx = tid; idx < ROWS * HEAD_DIM / 4; idx += kThreads) {
                const int r = idx / (HEAD_DIM / 4);
                const int e = idx % (HEAD_DIM / 4) * 4;
                const int row = row_begin + r;
                if (row >= p.rows_per_kv_head) continue;
                const int i = row / p.group;
                const int h = kv_head * p.group + row % p.group;
                float4 x[kMaxClusterSplits];
#pragma unroll
                for (int s2 = 0; s2 < kMaxClusterSplits; ++s2)
                    if (s2 < splits) x[s2] = cluster_load4(cluster_map(cl_o + r * HEAD_DIM + e, s2));
                float4 o4 = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
                for (int s2 = 0; s2 < kMaxClusterSplits; ++s2) {
                    if (s2 < splits) {
                        const float w = cl_w[r * kMaxClusterSplits + s2];
                        o4.x = fmaf(w, x[s2].x, o4.x);
                        o4.y = fmaf(w, x[s2].y, o4.y);
                        o4.z = fmaf(w, x[s2].z, o4.z);
                        o4.w = fmaf(w, x[s2].w, o4.w);
                    }
                }
                T* op = static_cast<T*>(p.o) + b * p.o_stride_b + i * p.o_stride_s + h * p.o_stride_h + e;
                op[0] = Convert<T>::from_float(o4.x);
                op[1] = Convert<T>::from_float(o4.y);
                op[2] = Convert<T>::from_float(o4.z);
                op[3] = Convert<T>::from_float(o4.w);
                if (e == 0 && p.lse) {
                    const float lse2 = cl_lse_out[r];
                    p.lse[b * p.lse_stride_b + i * p.lse_stride_s + h * p.lse_stride_h] =
                        lse2 == kNegInf ? kNegInf : lse2 * kLn2;
                }
            }
        }
        cluster_barrier();  // the other blocks' shared memory stays until block 0 has read it
    }
}

// The row's cached length (clamped kv_lens, the lengths in the parameter, or
// the full cache).
__device__ __forceinline__ int row_kv_len(const DecodeParams& p, int b) {
    return p.kv_lens ? clamp_len(p.kv_lens[b], p.cache_len) : (p.lens_in_params ? p.param_lens[b] : p.cache_len);
}

// The keys one block loads: this split's share of the keys the row's window
// covers (from the first key of query 0, the same for every block of the
// row), in whole tiles so splits of one row do the same amount of work.
struct SplitKeys {
    int begin, end;    // [begin, end): loaded, at most the block's last visible key
    int unmasked_end;  // keys below it (and at or past every row's first key) every row sees
    int num_tiles;
};

template <int TILE>
__device__ __forceinline__ SplitKeys split_keys(const DecodeParams& p, int kv, const MaskSpec& mask, int split,
                                                int vis_min, int vis_max) {
    const int window_begin = visible_keys(0, p.q_len, kv, mask).first;
    const int per_split_raw = (kv - window_begin + p.num_splits - 1) / p.num_splits;
    const int per_split = (per_split_raw + TILE - 1) / TILE * TILE;
    SplitKeys keys;
    keys.begin = min(kv, window_begin + split * per_split);
    keys.end = min(min(kv, keys.begin + per_split), vis_max);
    keys.unmasked_end = min(keys.end, vis_min);
    keys.num_tiles = keys.end > keys.begin ? (keys.end - keys.begin + TILE - 1) / TILE : 0;
    return keys;
}

// The cp.async loader of both decode kernels (decode_split_kernel,
// decode_mma_kernel): each thread copies one 16-byte
// vector of K and of V for each of the kStepsPerTile steps of a tile into
// [stage][K or V][step][kThreads] slots. Only real keys of the block's range
// are read; out-of-range slots are zero-fills that read nothing.
template <typename T, int HEAD_DIM>
struct TileLoader {
    using Shape = DecodeShape<HEAD_DIM>;
    // Contiguous cache: row b's keys start at k_row; paged: k_row is page 0
    // and every key finds its page through the row's page table.
    const T* k_row;
    const T* v_row;
    const int32_t* page_row;
    bool paged;
    bool vec_lane;    // false: an idle lane (DecodeShape), zero-fills only
    int key_in_step;  // this thread's key of each step
    int key_begin, key_end;

    __device__ __forceinline__ TileLoader(const DecodeParams& p, int b, int kv_head, const RowExtent& ext,
                                          int vec_offset, bool vec_lane_, int key_in_step_, const SplitKeys& keys)
        : vec_lane(vec_lane_), key_in_step(key_in_step_), key_begin(keys.begin), key_end(keys.end) {
        paged = p.page_table != nullptr;
        page_row = paged ? p.page_table + b * p.page_table_stride : nullptr;
        const int64_t k_first = paged ? 0 : ext.k_first;
        k_row = static_cast<const T*>(p.k) + (paged ? 0 : b * p.k_stride_b) + kv_head * p.k_stride_h +
                k_first * p.k_stride_s + vec_offset;
        v_row = static_cast<const T*>(p.v) + (paged ? 0 : b * p.v_stride_b) + kv_head * p.v_stride_h +
                k_first * p.v_stride_s + vec_offset;
    }

    // Paged: the page of each step's key of a tile, loaded right before its
    // copies (loading them one tile ahead, before the tile in front is
    // computed, measured 1-3 % slower on 8 of 9 shapes, docs/performance.md
    // Decode). `pages` is the kernel's own array: kept there (not here, nor
    // local to copy_tile) the kernels compile to the registers they had with
    // the loader written out in each of them.
    __device__ __forceinline__ void load_pages(const DecodeParams& p, int32_t (&pages)[kStepsPerTile], int tile) const {
        const int tile_begin = key_begin + tile * Shape::kTileKeys;
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u) {
            const int j = tile_begin + u * Shape::kKeysPerStep + key_in_step;
            pages[u] = page_of_key(page_row, j < key_end ? j : key_begin, p.page_size, p.page_shift, p.num_pages);
        }
    }

    // Copies tile `tile` into stage `stage`; slot_of(u) is this thread's slot
    // among the kThreads slots of step u (the same for K and V; the
    // tensor-core kernel swizzles it).
    template <typename SlotOf>
    __device__ __forceinline__ void copy_tile(const DecodeParams& p, int32_t (&pages)[kStepsPerTile], uint4* slots,
                                              int tile, int stage, SlotOf slot_of) const {
        if (paged) load_pages(p, pages, tile);
        const int tile_begin = key_begin + tile * Shape::kTileKeys;
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u) {
            const int j = tile_begin + u * Shape::kKeysPerStep + key_in_step;
            const bool real = j < key_end;
            const int jj = real ? j : key_begin;  // a real key, never padding
            int64_t k_off, v_off;
            if (paged) {
                // The key's page (load_pages).
                const int32_t in_page = slot_of_key(jj, p.page_size, p.page_shift);
                k_off = static_cast<int64_t>(pages[u]) * p.k_stride_b + in_page * p.k_stride_s;
                v_off = static_cast<int64_t>(pages[u]) * p.v_stride_b + in_page * p.v_stride_s;
            } else {
                k_off = jj * p.k_stride_s;
                v_off = jj * p.v_stride_s;
            }
            const int slot = slot_of(u);
            cp_async_16(slots + ((stage * 2 + 0) * kStepsPerTile + u) * kThreads + slot, k_row + k_off,
                        real && vec_lane);
            cp_async_16(slots + ((stage * 2 + 1) * kStepsPerTile + u) * kThreads + slot, v_row + v_off,
                        real && vec_lane);
        }
    }
};

template <typename T, int HEAD_DIM, int ROWS>
__global__ void __launch_bounds__(kThreads)
decode_split_kernel(const __grid_constant__ DecodeParams p) {
    using Shape = DecodeShape<HEAD_DIM>;
    constexpr int LPK = Shape::kLanesPerKey;
    constexpr int TILE = Shape::kTileKeys;
    const float kNegInf = -__int_as_float(0x7f800000);

    extern __shared__ __align__(16) unsigned char smem_raw[];
    uint4* slots = reinterpret_cast<uint4*>(smem_raw);
    // The combine kernel (a programmatic dependent launch) may be scheduled
    // once every block of this grid has started; it waits for this grid's
    // completion before reading anything.
    grid_launch_dependents();

    const int tid = threadIdx.x;
    const int warp = tid / 32;
    const int lane = tid % 32;
    const int state = tid / LPK;        // this thread's key group in the block
    const int vec = lane % LPK;         // which 8 elements of head_dim it holds
    // Lanes past the row's vectors (head_dim 80, 96: DecodeShape) load
    // nothing, hold zeros and store nothing; their pointers stay on vector 0.
    const bool vec_lane = !Shape::kIdleLanes || vec < Shape::kVecs;
    const int vec_offset = (vec_lane ? vec : 0) * 8;
    const int key_in_step = warp * Shape::kKeysPerWarp + (lane / LPK);

    const int split = blockIdx.x;
    const int kv_head = blockIdx.y / p.row_chunks;
    const int row_chunk = blockIdx.y % p.row_chunks;
    const int b = blockIdx.z;

    // Query loads first: they do not depend on the row's length, so their
    // latency overlaps the length load and the first K/V copies.
    const int row_begin = row_chunk * ROWS;
    uint4 q_raw[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int row = row_begin + r;
        if (row < p.rows_per_kv_head && vec_lane) {
            const int i = row / p.group;
            const int h = kv_head * p.group + row % p.group;
            const T* qp = static_cast<const T*>(p.q) + b * p.q_stride_b + i * p.q_stride_s +
                          h * p.q_stride_h + vec_offset;
            q_raw[r] = *reinterpret_cast<const uint4*>(qp);
        } else {
            q_raw[r] = make_uint4(0u, 0u, 0u, 0u);  // converts to 0.0f in f16 and bf16
        }
    }

    const int kv = row_kv_len(p, b);
    const RowExtent ext = row_extent(p.q_len, p.cache_len, p.q_len, kv, p.left_padded != 0);

    // Rows of this block and the keys [first, visible) each one sees
    // (causal, bottom-right; a left window; mask_rules.h).
    // The first key is not kept per row (registers): before_causal_window
    // tests it from the row's end.
    const MaskSpec mask = mask_spec(true, p.window_left, -1);
    int visible[ROWS];
    int vis_min = kv, vis_max = 0, first_max = 0;
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int row = row_begin + r;
        const int i = row / p.group;
        const bool real_row = row < p.rows_per_kv_head;  // the last chunk may be partial
        const KeySpan span = visible_keys(i, p.q_len, kv, mask);
        visible[r] = real_row ? span.end : 0;
        if (real_row) vis_min = min(vis_min, visible[r]);
        vis_max = max(vis_max, visible[r]);
        if (real_row) first_max = max(first_max, span.first);
    }

    const SplitKeys keys = split_keys<TILE>(p, kv, mask, split, vis_min, vis_max);
    const int key_begin = keys.begin;
    const int key_end = keys.end;
    const int unmasked_end = keys.unmasked_end;
    const int num_tiles = keys.num_tiles;
    TileLoader<T, HEAD_DIM> loader(p, b, kv_head, ext, vec_offset, vec_lane, key_in_step, keys);
    const auto slot_of = [&](int) { return tid; };
    int32_t pages[kStepsPerTile];  // paged: TileLoader::load_pages

    const int stages = p.stages;
    // Start the copies first: the query loads below overlap with them.
    for (int t = 0; t < stages - 1; ++t) {
        if (t < num_tiles) loader.copy_tile(p, pages, slots, t, t, slot_of);
        cp_async_commit();
    }

    float q[ROWS][8];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        Convert<T>::to_float8(q_raw[r], q[r]);
    }

    float m[ROWS], l[ROWS], l_comp[ROWS], acc[ROWS][8];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        m[r] = kNegInf;
        l[r] = 0.f;
        l_comp[r] = 0.f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[r][e] = 0.f;
    }

    int stage = 0;       // t % stages
    int prev_stage = stages - 1;  // (t - 1) % stages: refilled after tile t is computed
    for (int t = 0; t < num_tiles; ++t) {
        cp_async_wait_dyn(stages - 2);  // tile t has landed (this thread's part of it)
        const int tile_begin = key_begin + t * TILE;

        float s[kStepsPerTile][ROWS];
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u) {
            float kf[8];
            Convert<T>::to_float8(slots[((stage * 2 + 0) * kStepsPerTile + u) * kThreads + tid], kf);
#pragma unroll
            for (int r = 0; r < ROWS; ++r) {
                float d = 0.f;
#pragma unroll
                for (int e = 0; e < 8; ++e) d = fmaf(q[r][e], kf[e], d);
                s[u][r] = d;
            }
        }
        // Sum the partial dot products over the LPK lanes of each key group.
#pragma unroll
        for (int off = LPK / 2; off > 0; off /= 2) {
#pragma unroll
            for (int u = 0; u < kStepsPerTile; ++u)
#pragma unroll
                for (int r = 0; r < ROWS; ++r)
                    s[u][r] += __shfl_xor_sync(0xffffffffu, s[u][r], off);
        }
        // The scale goes on the whole dot product, not on q: a huge
        // softmax_scale must overflow a score as a whole (to +/-inf, then
        // clamped as common/online_softmax.cuh says), never a single term of it.
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u)
#pragma unroll
            for (int r = 0; r < ROWS; ++r) s[u][r] *= p.scale_log2;
        if (p.soft_cap_log2 != 0.f) {
#pragma unroll
            for (int u = 0; u < kStepsPerTile; ++u)
#pragma unroll
                for (int r = 0; r < ROWS; ++r) s[u][r] = soft_cap_tanh(s[u][r], p.soft_cap_inv_log2, p.soft_cap_log2);
        }
        if (tile_begin + TILE > unmasked_end || tile_begin < first_max) {
#pragma unroll
            for (int u = 0; u < kStepsPerTile; ++u) {
                const int j = tile_begin + u * Shape::kKeysPerStep + key_in_step;
#pragma unroll
                for (int r = 0; r < ROWS; ++r)
                    if (j >= key_end || j >= visible[r] || before_causal_window(visible[r], j, p.window_span))
                        s[u][r] = kNegInf;
            }
        }
        // Online softmax, one rescale per tile.
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            float tile_max = s[0][r];
#pragma unroll
            for (int u = 1; u < kStepsPerTile; ++u) tile_max = fmaxf(tile_max, s[u][r]);
            // common/online_softmax.cuh: finite maximum, exponents <= 0,
            // compensated sum of the tiles' partial sums.
            const float m_new = clamp_running_max(fmaxf(m[r], tile_max));
            const float base = m_new == kNegInf ? 0.f : m_new;  // no (-inf) - (-inf)
            const float alpha = exp2f(m[r] - base);
            l[r] *= alpha;
            l_comp[r] *= alpha;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[r][e] *= alpha;
            float tile_sum = 0.f;
#pragma unroll
            for (int u = 0; u < kStepsPerTile; ++u) {
                s[u][r] = exp2f(softmax_exponent(s[u][r] - base));
                tile_sum += s[u][r];
            }
            compensated_add(l[r], l_comp[r], tile_sum);
            m[r] = m_new;
        }
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u) {
            float vf[8];
            Convert<T>::to_float8(slots[((stage * 2 + 1) * kStepsPerTile + u) * kThreads + tid], vf);
#pragma unroll
            for (int r = 0; r < ROWS; ++r)
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[r][e] = fmaf(s[u][r], vf[e], acc[r][e]);
        }
        // Refill the stage read in the previous iteration (all its values are
        // consumed), keeping stages - 1 tiles in flight.
        if (t + stages - 1 < num_tiles) loader.copy_tile(p, pages, slots, t + stages - 1, prev_stage, slot_of);
        cp_async_commit();
        prev_stage = stage;
        stage = stage + 1 == stages ? 0 : stage + 1;
    }
    cp_async_wait<0>();
    __syncthreads();  // the pipeline buffers are reused below

    // Merge the key groups' states.
    float* merge_m = reinterpret_cast<float*>(smem_raw);           // [state][ROWS]
    float* merge_l = merge_m + Shape::kStates * ROWS;              // [state][ROWS]
    float* merge_acc = merge_l + Shape::kStates * ROWS;            // [state][ROWS][HEAD_DIM]
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        if (vec == 0) {
            merge_m[state * ROWS + r] = m[r];
            merge_l[state * ROWS + r] = l[r];
        }
        if (vec_lane) {
            float4* dst = reinterpret_cast<float4*>(merge_acc + (state * ROWS + r) * HEAD_DIM + vec * 8);
            dst[0] = make_float4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
            dst[1] = make_float4(acc[r][4], acc[r][5], acc[r][6], acc[r][7]);
        }
    }
    __syncthreads();
    finish_block<T, HEAD_DIM, ROWS, Shape::kStates>(p, smem_raw, row_begin, kv_head, b, split);
}

// The tensor-core variant for row packs of 2..kMmaRows rows (GQA groups,
// speculative q_len; head_dim <= 128): the same grid, key ranges, cp.async
// pipeline and per-thread copies as decode_split_kernel, but the block's
// rows are the 16 rows of mma.sync (Q as A fragments in registers, empty rows
// zero) and each warp computes S = Q K^T and O += P V for the keys its own
// lanes copied (8, 16 or 32 keys per tile: n-tiles of 8 keys), so the
// pipeline needs only a warp barrier. The CUDA-core kernel spends about 20
// instructions per (row, key) on dot products and shuffles; here a tile of a
// warp is a few ldmatrix and mma per 8 keys, whatever the row count.
// Shared memory holds the copies XOR-swizzled (key_swizzle) so that the 8
// key rows an ldmatrix reads lie in different banks. P is rounded to T for
// P V (as in the prefill kernels); the sums stay in f32.
template <int LPK>
__device__ __forceinline__ int key_swizzle(int n) {
    // n: the key's index among the warp's keys of a tile. Rows of LPK >= 8
    // 16-byte vectors: the 8 rows of an n-tile get 8 different low vector
    // bits; rows of 4 vectors (head_dim 32) are 64 bytes, two rows per 128
    // bytes, so the pair index selects.
    return LPK >= 8 ? (n & 7) : ((n >> 1) & 3);
}

template <typename T, int HEAD_DIM>
__global__ void __launch_bounds__(kThreads)
decode_mma_kernel(const __grid_constant__ DecodeParams p) {
    using Shape = DecodeShape<HEAD_DIM>;
    constexpr int ROWS = kMmaRows;
    constexpr int LPK = Shape::kLanesPerKey;
    constexpr int KPW = Shape::kKeysPerWarp;         // keys a warp copies per step
    constexpr int TILE = Shape::kTileKeys;
    constexpr int WARP_KEYS = kStepsPerTile * KPW;   // keys a warp owns per tile
    constexpr int NT = WARP_KEYS / 8;                // their n-tiles of 8 keys
    constexpr int KS = HEAD_DIM / 16;                // k-steps of Q K^T
    constexpr int DN = HEAD_DIM / 8;                 // n-tiles of P V (head_dim)
    static_assert(mma_decode_supported<HEAD_DIM>() && WARP_KEYS % 8 == 0 && HEAD_DIM % 16 == 0,
                  "head_dim 32..128, a multiple of 16");
    const float kNegInf = -__int_as_float(0x7f800000);

    extern __shared__ __align__(16) unsigned char smem_raw[];
    uint4* slots = reinterpret_cast<uint4*>(smem_raw);
    const uint32_t slots_addr = smem_addr(smem_raw);
    grid_launch_dependents();  // as in decode_split_kernel

    const int tid = threadIdx.x;
    const int warp = tid / 32;
    const int lane = tid % 32;
    const int vec = lane % LPK;
    const bool vec_lane = !Shape::kIdleLanes || vec < Shape::kVecs;
    const int vec_offset = (vec_lane ? vec : 0) * 8;
    const int copy_key = lane / LPK;  // which of the warp's KPW keys of a step this thread copies
    const int key_in_step = warp * KPW + copy_key;
    const int g = lane / 4;           // fragment row (and g + 8)
    const int c = lane % 4;           // fragment column pair

    const int split = blockIdx.x;
    const int kv_head = blockIdx.y / p.row_chunks;
    const int row_chunk = blockIdx.y % p.row_chunks;
    const int b = blockIdx.z;
    const int row_begin = row_chunk * ROWS;

    // Q as A fragments: [k-step][a0..a3] = rows g, g + 8 at columns 2c, 2c + 8.
    uint32_t qa[KS][4];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int row = row_begin + g + 8 * half;
        if (row < p.rows_per_kv_head) {
            const int i = row / p.group;
            const int h = kv_head * p.group + row % p.group;
            const T* qp = static_cast<const T*>(p.q) + b * p.q_stride_b + i * p.q_stride_s + h * p.q_stride_h + 2 * c;
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) {
                qa[ks][half] = *reinterpret_cast<const uint32_t*>(qp + 16 * ks);
                qa[ks][2 + half] = *reinterpret_cast<const uint32_t*>(qp + 16 * ks + 8);
            }
        } else {
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) qa[ks][half] = qa[ks][2 + half] = 0u;
        }
    }

    const int kv = row_kv_len(p, b);
    const RowExtent ext = row_extent(p.q_len, p.cache_len, p.q_len, kv, p.left_padded != 0);

    const MaskSpec mask = mask_spec(true, p.window_left, -1);
    int vis_min = kv, vis_max = 0, first_max = 0;
    for (int r = 0; r < ROWS; ++r) {
        const int row = row_begin + r;
        if (row >= p.rows_per_kv_head) break;  // the last chunk may be partial
        const KeySpan span = visible_keys(row / p.group, p.q_len, kv, mask);
        vis_min = min(vis_min, span.end);
        vis_max = max(vis_max, span.end);
        first_max = max(first_max, span.first);
    }
    // The keys [.., visible) of this thread's two rows (0: not a real row).
    int visible[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int row = row_begin + g + 8 * half;
        visible[half] = row < p.rows_per_kv_head ? visible_keys(row / p.group, p.q_len, kv, mask).end : 0;
    }

    const SplitKeys keys = split_keys<TILE>(p, kv, mask, split, vis_min, vis_max);
    const int key_begin = keys.begin;
    const int key_end = keys.end;
    const int unmasked_end = keys.unmasked_end;
    const int num_tiles = keys.num_tiles;
    TileLoader<T, HEAD_DIM> loader(p, b, kv_head, ext, vec_offset, vec_lane, key_in_step, keys);
    int32_t pages[kStepsPerTile];  // paged: TileLoader::load_pages
    // The [stage][K or V][step][thread] slots of decode_split_kernel, the
    // vector index of each key row swizzled.
    const auto slot_of = [&](int u) {
        return warp * 32 + copy_key * LPK + (vec ^ key_swizzle<LPK>(u * KPW + copy_key));
    };

    const int stages = p.stages;
    for (int t = 0; t < stages - 1; ++t) {
        if (t < num_tiles) loader.copy_tile(p, pages, slots, t, t, slot_of);
        cp_async_commit();
    }

    // This lane's ldmatrix row: key n = nt * 8 + (lane % 8) of the warp's
    // keys, matrix lane / 8. Its slot in a step, without the vector index.
    const int ld_matrix = lane / 8;
    int ld_slot[NT], ld_swz[NT], ld_step[NT];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        const int n = nt * 8 + lane % 8;
        ld_step[nt] = n / KPW;
        ld_slot[nt] = warp * 32 + (n % KPW) * LPK;
        ld_swz[nt] = key_swizzle<LPK>(n);
    }
    // The tile position of fragment column n (keys 2c, 2c + 1 of n-tile nt).
    auto key_of = [&](int nt, int e) {
        const int n = nt * 8 + 2 * c + e;
        return (n / KPW) * Shape::kKeysPerStep + warp * KPW + n % KPW;
    };

    float m[2], l[2], l_comp[2], o[DN][4];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        m[half] = kNegInf;
        l[half] = 0.f;
        l_comp[half] = 0.f;
    }
#pragma unroll
    for (int dn = 0; dn < DN; ++dn)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[dn][e] = 0.f;

    int stage = 0;
    int prev_stage = stages - 1;
    for (int t = 0; t < num_tiles; ++t) {
        cp_async_wait_dyn(stages - 2);  // this thread's copies of tile t have landed
        __syncwarp();                   // and those of the other lanes of the warp
        const int tile_begin = key_begin + t * TILE;
        const uint32_t k_base = slots_addr + (stage * 2 + 0) * kStepsPerTile * kThreads * 16;
        const uint32_t v_base = slots_addr + (stage * 2 + 1) * kStepsPerTile * kThreads * 16;

        // S = Q K^T: [n-tile][c0..c3] = rows g, g + 8 at keys 2c, 2c + 1.
        float s[NT][4];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) s[nt][e] = 0.f;
            const uint32_t row_addr = k_base + (ld_step[nt] * kThreads + ld_slot[nt]) * 16;
#pragma unroll
            for (int ks = 0; ks < KS; ks += 2) {
                if (ks + 1 < KS) {
                    uint32_t kb[4];
                    ldmatrix_x4(kb, row_addr + ((2 * ks + ld_matrix) ^ ld_swz[nt]) * 16);
                    Mma<T>::run(s[nt], qa[ks], kb[0], kb[1]);
                    Mma<T>::run(s[nt], qa[ks + 1], kb[2], kb[3]);
                } else {
                    uint32_t kb[2];
                    ldmatrix_x2(kb, row_addr + ((2 * ks + (ld_matrix & 1)) ^ ld_swz[nt]) * 16);
                    Mma<T>::run(s[nt], qa[ks], kb[0], kb[1]);
                }
            }
        }
        // Scale, soft cap, mask: as in decode_split_kernel.
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[nt][e] *= p.scale_log2;
        if (p.soft_cap_log2 != 0.f) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nt][e] = soft_cap_tanh(s[nt][e], p.soft_cap_inv_log2, p.soft_cap_log2);
        }
        if (tile_begin + TILE > unmasked_end || tile_begin < first_max) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int j = tile_begin + key_of(nt, e & 1);
                    const int vis = visible[e / 2];
                    if (j >= key_end || j >= vis || before_causal_window(vis, j, p.window_span)) s[nt][e] = kNegInf;
                }
        }
        // Online softmax of the two rows; the row maximum over the quad of
        // lanes that hold it. Each lane keeps the sum of its own columns.
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            float tile_max = s[0][2 * half];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
                tile_max = fmaxf(tile_max, fmaxf(s[nt][2 * half], s[nt][2 * half + 1]));
            tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
            tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
            const float m_new = clamp_running_max(fmaxf(m[half], tile_max));
            const float base = m_new == kNegInf ? 0.f : m_new;
            const float alpha = exp2f(m[half] - base);
            l[half] *= alpha;
            l_comp[half] *= alpha;
#pragma unroll
            for (int dn = 0; dn < DN; ++dn) {
                o[dn][2 * half] *= alpha;
                o[dn][2 * half + 1] *= alpha;
            }
            float tile_sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    s[nt][2 * half + e] = exp2f(softmax_exponent(s[nt][2 * half + e] - base));
                    tile_sum += s[nt][2 * half + e];
                }
            compensated_add(l[half], l_comp[half], tile_sum);
            m[half] = m_new;
        }
        // O += P V, one m16n8k8 per (n-tile of keys, 8 columns of head_dim).
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            const uint32_t a0 = Mma<T>::pack(s[nt][0], s[nt][1]);
            const uint32_t a1 = Mma<T>::pack(s[nt][2], s[nt][3]);
            const uint32_t row_addr = v_base + (ld_step[nt] * kThreads + ld_slot[nt]) * 16;
#pragma unroll
            for (int dn = 0; dn < DN; dn += 4) {
                if (dn + 3 < DN) {
                    uint32_t vb[4];
                    ldmatrix_x4_trans(vb, row_addr + ((dn + ld_matrix) ^ ld_swz[nt]) * 16);
#pragma unroll
                    for (int x = 0; x < 4; ++x) Mma8<T>::run(o[dn + x], a0, a1, vb[x]);
                } else {
                    uint32_t vb[2];  // head_dim 80: the last two column tiles
                    ldmatrix_x2_trans(vb, row_addr + ((dn + (ld_matrix & 1)) ^ ld_swz[nt]) * 16);
                    Mma8<T>::run(o[dn], a0, a1, vb[0]);
                    Mma8<T>::run(o[dn + 1], a0, a1, vb[1]);
                }
            }
        }
        // Refill the stage read in the previous iteration: every lane of the
        // warp has passed this iteration's __syncwarp, so its reads are done.
        if (t + stages - 1 < num_tiles) loader.copy_tile(p, pages, slots, t + stages - 1, prev_stage, slot_of);
        cp_async_commit();
        prev_stage = stage;
        stage = stage + 1 == stages ? 0 : stage + 1;
    }
    cp_async_wait<0>();
    __syncthreads();  // the pipeline buffers are reused below

    // The warps' states to the merge area ([warp][row]); the quad's sums first.
    float* merge_m = reinterpret_cast<float*>(smem_raw);
    float* merge_l = merge_m + kWarps * ROWS;
    float* merge_acc = merge_l + kWarps * ROWS;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        l[half] += __shfl_xor_sync(0xffffffffu, l[half], 1);
        l[half] += __shfl_xor_sync(0xffffffffu, l[half], 2);
        const int r = g + 8 * half;
        if (c == 0) {
            merge_m[warp * ROWS + r] = m[half];
            merge_l[warp * ROWS + r] = l[half];
        }
#pragma unroll
        for (int dn = 0; dn < DN; ++dn)
            *reinterpret_cast<float2*>(merge_acc + (warp * ROWS + r) * HEAD_DIM + dn * 8 + 2 * c) =
                make_float2(o[dn][2 * half], o[dn][2 * half + 1]);
    }
    __syncthreads();
    finish_block<T, HEAD_DIM, ROWS, kWarps>(p, smem_raw, row_begin, kv_head, b, split);
}

__device__ __forceinline__ float block_reduce(float x, bool is_max, float* scratch) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
        const float y = __shfl_xor_sync(0xffffffffu, x, off);
        x = is_max ? fmaxf(x, y) : x + y;
    }
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = x;
    __syncthreads();
    float r = scratch[0];
#pragma unroll
    for (int w = 1; w < kCombineThreads / 32; ++w) r = is_max ? fmaxf(r, scratch[w]) : r + scratch[w];
    __syncthreads();  // scratch is reused by the next reduction
    return r;
}

// One block per output row (b, i, h). The split weights sum_s * 2^(max_s -
// max) go to shared memory; then groups of threads sum disjoint sets of
// splits with independent 16-byte loads (many in flight), and the groups are
// added up. Empty splits hold o = 0, max = -inf and sum = 0, so they need no
// branch.
template <typename T, int HEAD_DIM>
__global__ void __launch_bounds__(kCombineThreads) decode_combine_kernel(const CombineParams c) {
    constexpr int LANES = HEAD_DIM / 4;               // float4 columns of a row
    constexpr int GROUPS = kCombineThreads / LANES;   // threads summing one column
    static_assert(GROUPS >= 2, "head_dim up to 256");
    static_assert(HEAD_DIM % 4 == 0, "float4 columns");
    extern __shared__ float weights[];                // [splits]
    __shared__ float scratch[kCombineThreads / 32];
    __shared__ float4 partial[GROUPS - 1][LANES];
    const float kNegInf = -__int_as_float(0x7f800000);
    const int tid = threadIdx.x;
    const int64_t row = blockIdx.x;
    // Launched as a programmatic dependent of the split kernel (sm_90): wait
    // until that grid has completed and its partials are visible.
    grid_dependency_wait();

    float m = kNegInf;
    for (int s = tid; s < c.splits; s += kCombineThreads) {
        const float x = c.part_state[s * c.rows + row];
        weights[s] = x;
        m = fmaxf(m, x);
    }
    m = block_reduce(m, true, scratch);
    const bool seen = m != kNegInf;
    float sum = 0.f;
    const float* part_sum = c.part_state + static_cast<int64_t>(c.splits) * c.rows;
    for (int s = tid; s < c.splits; s += kCombineThreads) {
        const float w = seen ? exp2f(weights[s] - m) * part_sum[s * c.rows + row] : 0.f;
        weights[s] = w;
        sum += w;
    }
    sum = block_reduce(sum, false, scratch);  // its barrier also publishes the weights

    const int lane = tid % LANES;
    const int group = tid / LANES;
    // head_dim 80 and 96 (20 and 24 columns) leave the block's last
    // kCombineThreads % LANES threads without a column: group == GROUPS.
    const int first_split = group < GROUPS ? group : c.splits;
    const float4* po = reinterpret_cast<const float4*>(c.part_o) + row * LANES + lane;
    const int64_t split_stride = c.rows * LANES;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int s = first_split; s < c.splits; s += GROUPS) {
        const float w = weights[s];
        const float4 x = po[s * split_stride];
        acc.x = fmaf(w, x.x, acc.x);
        acc.y = fmaf(w, x.y, acc.y);
        acc.z = fmaf(w, x.z, acc.z);
        acc.w = fmaf(w, x.w, acc.w);
    }
    if (group > 0 && group < GROUPS) partial[group - 1][lane] = acc;
    __syncthreads();
    if (group != 0) return;
#pragma unroll
    for (int g = 1; g < GROUPS; ++g) {
        const float4 x = partial[g - 1][lane];
        acc.x += x.x;
        acc.y += x.y;
        acc.z += x.z;
        acc.w += x.w;
    }
    const float inv = seen ? 1.f / sum : 0.f;
    const int h = static_cast<int>(row % c.num_qo_heads);
    const int i = static_cast<int>((row / c.num_qo_heads) % c.q_len);
    const int64_t b = row / (static_cast<int64_t>(c.num_qo_heads) * c.q_len);
    T* op = static_cast<T*>(c.o) + b * c.o_stride_b + i * c.o_stride_s + h * c.o_stride_h + lane * 4;
    op[0] = Convert<T>::from_float(acc.x * inv);
    op[1] = Convert<T>::from_float(acc.y * inv);
    op[2] = Convert<T>::from_float(acc.z * inv);
    op[3] = Convert<T>::from_float(acc.w * inv);
    if (lane == 0 && c.lse)
        c.lse[b * c.lse_stride_b + i * c.lse_stride_s + h * c.lse_stride_h] =
            seen ? (m + log2f(sum)) * kLn2 : kNegInf;
}

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn
