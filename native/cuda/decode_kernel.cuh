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

#include <atomic>
#include <cstdint>
#include <mutex>

#include "mask_rules.h"

namespace pattn {
namespace cuda {
namespace decode_detail {

// Host lengths of up to this many rows travel in the kernel parameters (no
// copy, no workspace); the struct stays below CUDA 11.x's 4 KB limit.
constexpr int kDecodeParamRows = 512;

struct DecodeParams {
    const void* q;
    const void* k;
    const void* v;
    void* o;                 // final output, written when num_splits == 1
    float* lse;              // final lse (natural log) or null
    float* part_o;           // [splits, batch, q_len, num_qo_heads, head_dim] f32, normalized
    float* part_lse;         // [splits, batch, q_len, num_qo_heads], log2 domain
    const int32_t* kv_lens;  // device memory, or null: every row has cache_len keys

    int32_t batch, q_len, cache_len;
    int32_t num_qo_heads, num_kv_heads, group;
    int32_t rows_per_kv_head;  // group * q_len
    int32_t row_chunks;        // ceil(rows_per_kv_head / ROWS)
    int32_t num_splits;
    int32_t cluster_merge;     // 1: the num_splits blocks of a row are one thread-block
                               // cluster (sm_90) and split 0 merges them; no partials
    int32_t left_padded;
    int32_t stages;            // cp.async pipeline depth, 2..kMaxStages (tiles in flight: stages - 1)
    float scale_log2;          // softmax scale * log2(e): scores live in base 2

    int64_t q_stride_b, q_stride_s, q_stride_h;
    int64_t k_stride_b, k_stride_s, k_stride_h;
    int64_t v_stride_b, v_stride_s, v_stride_h;
    int64_t o_stride_b, o_stride_s, o_stride_h;
    int64_t lse_stride_b, lse_stride_s, lse_stride_h;

    // Paged cache (page_table != null, right padding): k/v are
    // [num_pages, page_size, heads, head_dim], k_stride_b / v_stride_b step
    // pages and k_stride_s / v_stride_s slots; real key j of row b is slot
    // j % page_size of page page_table[b * page_table_stride + j / page_size]
    // (clamped into [0, num_pages)). cache_len is the capacity of a row.
    const int32_t* page_table;
    int64_t page_table_stride;
    int32_t page_size, num_pages;
    int32_t page_shift;        // log2(page_size) when it is a power of two, else -1

    // 1: kv_lens is null and row b has param_lens[b] real keys (host
    // lengths, already range-checked).
    int32_t lens_in_params;
    int32_t param_lens[kDecodeParamRows];
};
static_assert(sizeof(DecodeParams) <= 4000, "kernel parameters are limited to 4 KB (CUDA 11.x)");

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kDefaultStages = 4;
constexpr int kMaxStages = 8;
constexpr int kStepsPerTile = 4;  // 16-byte K and V loads per thread per tile

template <int HEAD_DIM>
struct DecodeShape {
    static constexpr int kLanesPerKey = HEAD_DIM / 8;
    static constexpr int kKeysPerWarp = 32 / kLanesPerKey;
    static constexpr int kKeysPerStep = kWarps * kKeysPerWarp;
    static constexpr int kTileKeys = kStepsPerTile * kKeysPerStep;
    static constexpr int kStates = kThreads / kLanesPerKey;  // key groups per block
    static_assert(kLanesPerKey >= 8 && kLanesPerKey <= 32, "head_dim 64..256");
};

// Pipeline buffers: [stage][K or V][step][thread] 16-byte slots.
constexpr int kStageBytes = 2 * kStepsPerTile * kThreads * 16;

template <int ROWS>
constexpr int merge_bytes() {
    // m and l per (state, row) plus acc per (state, row, head_dim): the
    // product states * head_dim is always kThreads * 8.
    return ROWS * kThreads * 8 * 4 + 2 * ROWS * kThreads * 4;
}

// Cluster merge (sm_90): the splits of one row run as one thread-block
// cluster of up to kMaxClusterSplits blocks. Each block leaves its
// normalized state (o in f32, lse in base 2) in its own shared memory, after
// the key-group merge area; block 0 of the cluster reads the others' through
// distributed shared memory, merges and writes o and lse. One launch, no
// workspace, no partials through L2.
constexpr int kMaxClusterSplits = 16;

template <int ROWS, int HEAD_DIM>
constexpr int cluster_bytes() {
    // o [ROWS][HEAD_DIM], lse [ROWS], weights [ROWS][kMaxClusterSplits], final lse [ROWS]
    return (ROWS * HEAD_DIM + ROWS + ROWS * kMaxClusterSplits + ROWS) * 4;
}

// Dynamic shared memory of a block: the pipeline buffers, reused after the
// key loop by the key-group merge area and the cluster merge area behind it.
template <int ROWS, int HEAD_DIM>
constexpr int decode_smem_bytes(int stages) {
    return stages * kStageBytes > merge_bytes<ROWS>() + cluster_bytes<ROWS, HEAD_DIM>()
               ? stages * kStageBytes
               : merge_bytes<ROWS>() + cluster_bytes<ROWS, HEAD_DIM>();
}

__device__ __forceinline__ void cluster_barrier() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    // Arrive has release and wait acquire semantics (their defaults).
    asm volatile("barrier.cluster.arrive.aligned;\n" ::: "memory");
    asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
#endif
}

// Shared-memory address of the same location in cluster block `rank`.
__device__ __forceinline__ unsigned cluster_map(const void* local, int rank) {
    unsigned out = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(local));
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(out) : "r"(addr), "r"(rank));
#endif
    return out;
}

__device__ __forceinline__ float4 cluster_load4(unsigned addr) {
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
                 : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                 : "r"(addr)
                 : "memory");
#endif
    return v;
}

__device__ __forceinline__ float cluster_load(unsigned addr) {
    float v = 0.f;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("ld.shared::cluster.f32 %0, [%1];\n" : "=f"(v) : "r"(addr) : "memory");
#endif
    return v;
}

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool read) {
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    const int src_bytes = read ? 16 : 0;  // 0: zero-fill, nothing is read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
                 "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
// wait_group with a block-uniform count (the immediate must be a constant).
__device__ __forceinline__ void cp_async_wait_dyn(int n) {
    switch (n) {
        case 0: cp_async_wait<0>(); break;
        case 1: cp_async_wait<1>(); break;
        case 2: cp_async_wait<2>(); break;
        case 3: cp_async_wait<3>(); break;
        case 4: cp_async_wait<4>(); break;
        case 5: cp_async_wait<5>(); break;
        default: cp_async_wait<6>(); break;
    }
    static_assert(kMaxStages - 2 <= 6, "wait counts up to 6");
}

template <typename T>
struct Vec8;
template <>
struct Vec8<__half> {
    static __device__ __forceinline__ void to_float(const uint4& raw, float (&f)[8]) {
        const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float2 x = __half22float2(h[i]);
            f[2 * i] = x.x;
            f[2 * i + 1] = x.y;
        }
    }
    static __device__ __forceinline__ __half from_float(float x) { return __float2half_rn(x); }
};
template <>
struct Vec8<__nv_bfloat16> {
    static __device__ __forceinline__ void to_float(const uint4& raw, float (&f)[8]) {
        const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float2 x = __bfloat1622float2(h[i]);
            f[2 * i] = x.x;
            f[2 * i + 1] = x.y;
        }
    }
    static __device__ __forceinline__ __nv_bfloat16 from_float(float x) {
        return __float2bfloat16_rn(x);
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
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    // The combine kernel (a programmatic dependent launch) may be scheduled
    // once every block of this grid has started; it waits for this grid's
    // completion before reading anything.
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif

    const int tid = threadIdx.x;
    const int warp = tid / 32;
    const int lane = tid % 32;
    const int state = tid / LPK;        // this thread's key group in the block
    const int vec = lane % LPK;         // which 8 elements of head_dim it holds
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
        if (row < p.rows_per_kv_head) {
            const int i = row / p.group;
            const int h = kv_head * p.group + row % p.group;
            const T* qp = static_cast<const T*>(p.q) + b * p.q_stride_b + i * p.q_stride_s +
                          h * p.q_stride_h + vec * 8;
            q_raw[r] = *reinterpret_cast<const uint4*>(qp);
        } else {
            q_raw[r] = make_uint4(0u, 0u, 0u, 0u);  // converts to 0.0f in f16 and bf16
        }
    }

    const int kv = p.kv_lens ? clamp_len(p.kv_lens[b], p.cache_len)
                             : (p.lens_in_params ? p.param_lens[b] : p.cache_len);
    const RowExtent ext = row_extent(p.q_len, p.cache_len, p.q_len, kv, p.left_padded != 0);

    // Rows of this block and the keys each one sees (causal, bottom-right).
    int visible[ROWS];
    int vis_min = kv, vis_max = 0;
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int row = row_begin + r;
        const int i = row / p.group;
        const bool real_row = row < p.rows_per_kv_head;  // the last chunk may be partial
        visible[r] = real_row ? visible_key_count(i, p.q_len, kv, true) : 0;
        if (real_row) vis_min = min(vis_min, visible[r]);
        vis_max = max(vis_max, visible[r]);
    }

    // This split's share of the real keys, in whole tiles so splits of one
    // row do the same amount of work.
    const int per_split_raw = (kv + p.num_splits - 1) / p.num_splits;
    const int per_split = (per_split_raw + TILE - 1) / TILE * TILE;
    const int key_begin = min(kv, split * per_split);
    const int key_end = min(min(kv, key_begin + per_split), vis_max);
    const int unmasked_end = min(key_end, vis_min);  // keys every row sees
    const int num_tiles = key_end > key_begin ? (key_end - key_begin + TILE - 1) / TILE : 0;

    // Contiguous cache: row b's keys start at k_row; paged: k_row is page 0
    // and every key finds its page through the row's page table.
    const bool paged = p.page_table != nullptr;
    const int32_t* page_row = paged ? p.page_table + b * p.page_table_stride : nullptr;
    const int64_t k_first = paged ? 0 : ext.k_first;
    const T* k_row = static_cast<const T*>(p.k) + (paged ? 0 : b * p.k_stride_b) + kv_head * p.k_stride_h +
                     k_first * p.k_stride_s + vec * 8;
    const T* v_row = static_cast<const T*>(p.v) + (paged ? 0 : b * p.v_stride_b) + kv_head * p.v_stride_h +
                     k_first * p.v_stride_s + vec * 8;

    const int stages = p.stages;
    auto issue_tile = [&](int tile, int stage) {
        const int tile_begin = key_begin + tile * TILE;
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u) {
            const int j = tile_begin + u * Shape::kKeysPerStep + key_in_step;
            const bool real = j < key_end;
            const int jj = real ? j : key_begin;  // a real key, never padding
            int64_t k_off, v_off;
            if (paged) {
                // The key's page through the row's table (the loads of the
                // steps are independent, so they are all in flight at once).
                const int entry = p.page_shift >= 0 ? jj >> p.page_shift : jj / p.page_size;
                const int slot = jj - entry * p.page_size;
                const int64_t page = min(max(__ldg(page_row + entry), 0), p.num_pages - 1);
                k_off = page * p.k_stride_b + slot * p.k_stride_s;
                v_off = page * p.v_stride_b + slot * p.v_stride_s;
            } else {
                k_off = jj * p.k_stride_s;
                v_off = jj * p.v_stride_s;
            }
            uint4* k_slot = slots + ((stage * 2 + 0) * kStepsPerTile + u) * kThreads + tid;
            uint4* v_slot = slots + ((stage * 2 + 1) * kStepsPerTile + u) * kThreads + tid;
            cp_async_16(k_slot, k_row + k_off, real);
            cp_async_16(v_slot, v_row + v_off, real);
        }
    };

    // Start the copies first: the query loads below overlap with them.
    for (int t = 0; t < stages - 1; ++t) {
        if (t < num_tiles) issue_tile(t, t);
        cp_async_commit();
    }

    float q[ROWS][8];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        Vec8<T>::to_float(q_raw[r], q[r]);
#pragma unroll
        for (int e = 0; e < 8; ++e) q[r][e] *= p.scale_log2;
    }

    float m[ROWS], l[ROWS], acc[ROWS][8];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        m[r] = kNegInf;
        l[r] = 0.f;
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
            Vec8<T>::to_float(slots[((stage * 2 + 0) * kStepsPerTile + u) * kThreads + tid], kf);
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
        if (tile_begin + TILE > unmasked_end) {
#pragma unroll
            for (int u = 0; u < kStepsPerTile; ++u) {
                const int j = tile_begin + u * Shape::kKeysPerStep + key_in_step;
#pragma unroll
                for (int r = 0; r < ROWS; ++r)
                    if (j >= key_end || j >= visible[r]) s[u][r] = kNegInf;
            }
        }
        // Online softmax, one rescale per tile.
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            float tile_max = s[0][r];
#pragma unroll
            for (int u = 1; u < kStepsPerTile; ++u) tile_max = fmaxf(tile_max, s[u][r]);
            const float m_new = fmaxf(m[r], tile_max);
            const float base = m_new == kNegInf ? 0.f : m_new;  // no (-inf) - (-inf)
            const float alpha = exp2f(m[r] - base);
            l[r] *= alpha;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[r][e] *= alpha;
#pragma unroll
            for (int u = 0; u < kStepsPerTile; ++u) {
                s[u][r] = exp2f(s[u][r] - base);
                l[r] += s[u][r];
            }
            m[r] = m_new;
        }
#pragma unroll
        for (int u = 0; u < kStepsPerTile; ++u) {
            float vf[8];
            Vec8<T>::to_float(slots[((stage * 2 + 1) * kStepsPerTile + u) * kThreads + tid], vf);
#pragma unroll
            for (int r = 0; r < ROWS; ++r)
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[r][e] = fmaf(s[u][r], vf[e], acc[r][e]);
        }
        // Refill the stage read in the previous iteration (all its values are
        // consumed), keeping stages - 1 tiles in flight.
        if (t + stages - 1 < num_tiles) issue_tile(t + stages - 1, prev_stage);
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
        float4* dst = reinterpret_cast<float4*>(merge_acc + (state * ROWS + r) * HEAD_DIM + vec * 8);
        dst[0] = make_float4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
        dst[1] = make_float4(acc[r][4], acc[r][5], acc[r][6], acc[r][7]);
    }
    __syncthreads();

    const bool cluster = p.cluster_merge != 0;
    const bool split_output = p.num_splits > 1 && !cluster;
    float* cl_o = reinterpret_cast<float*>(smem_raw + merge_bytes<ROWS>());  // [ROWS][HEAD_DIM]
    float* cl_lse = cl_o + ROWS * HEAD_DIM;                                  // [ROWS]
    float* cl_w = cl_lse + ROWS;                                             // [ROWS][kMaxClusterSplits]
    float* cl_lse_out = cl_w + ROWS * kMaxClusterSplits;                     // [ROWS]
    for (int idx = tid; idx < ROWS * HEAD_DIM; idx += kThreads) {
        const int r = idx / HEAD_DIM;
        const int e = idx % HEAD_DIM;
        const int row = row_begin + r;
        if (row >= p.rows_per_kv_head) continue;
        const int i = row / p.group;
        const int h = kv_head * p.group + row % p.group;

        float m_all = kNegInf;
        for (int st = 0; st < Shape::kStates; ++st) m_all = fmaxf(m_all, merge_m[st * ROWS + r]);
        float l_all = 0.f, o_sum = 0.f;
        if (m_all != kNegInf) {
            for (int st = 0; st < Shape::kStates; ++st) {
                const float w = exp2f(merge_m[st * ROWS + r] - m_all);
                l_all += merge_l[st * ROWS + r] * w;
                o_sum += merge_acc[(st * ROWS + r) * HEAD_DIM + e] * w;
            }
        }
        const bool seen = l_all > 0.f;
        const float out = seen ? o_sum / l_all : 0.f;
        const float lse2 = seen ? m_all + log2f(l_all) : kNegInf;

        if (cluster) {
            cl_o[r * HEAD_DIM + e] = out;
            if (e == 0) cl_lse[r] = lse2;
        } else if (split_output) {
            const int64_t row_index =
                ((static_cast<int64_t>(split) * p.batch + b) * p.q_len + i) * p.num_qo_heads + h;
            p.part_o[row_index * HEAD_DIM + e] = out;
            if (e == 0) p.part_lse[row_index] = lse2;
        } else {
            T* op = static_cast<T*>(p.o) + b * p.o_stride_b + i * p.o_stride_s + h * p.o_stride_h;
            op[e] = Vec8<T>::from_float(out);
            if (e == 0 && p.lse)
                p.lse[b * p.lse_stride_b + i * p.lse_stride_s + h * p.lse_stride_h] =
                    seen ? lse2 * 0.69314718055994531f : kNegInf;
        }
    }

    if (cluster) {
        // Every block of the cluster (the row's splits, rank = split) has its
        // state in shared memory; block 0 merges them (the merge_states math,
        // base 2). Empty splits hold o = 0, lse = -inf and get weight 0.
        cluster_barrier();
        if (split == 0) {
            const int splits = p.num_splits;
            // Gather the splits' lse (all remote loads in flight at once).
            for (int idx = tid; idx < ROWS * splits; idx += kThreads) {
                const int r = idx / splits;
                const int s2 = idx % splits;
                cl_w[r * kMaxClusterSplits + s2] = cluster_load(cluster_map(cl_lse + r, s2));
            }
            __syncthreads();
            for (int r = tid; r < ROWS; r += kThreads) {
                float* w = cl_w + r * kMaxClusterSplits;
                float m_all = kNegInf;
                for (int s2 = 0; s2 < splits; ++s2) m_all = fmaxf(m_all, w[s2]);
                const bool seen = m_all != kNegInf;
                float sum = 0.f;
                for (int s2 = 0; s2 < splits; ++s2) {
                    const float x = seen ? exp2f(w[s2] - m_all) : 0.f;
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
                op[0] = Vec8<T>::from_float(o4.x);
                op[1] = Vec8<T>::from_float(o4.y);
                op[2] = Vec8<T>::from_float(o4.z);
                op[3] = Vec8<T>::from_float(o4.w);
                if (e == 0 && p.lse) {
                    const float lse2 = cl_lse_out[r];
                    p.lse[b * p.lse_stride_b + i * p.lse_stride_s + h * p.lse_stride_h] =
                        lse2 == kNegInf ? kNegInf : lse2 * 0.69314718055994531f;
                }
            }
        }
        cluster_barrier();  // the other blocks' shared memory stays until block 0 has read it
    }
}

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn

namespace pattn {
namespace cuda {
namespace decode_detail {

constexpr int kMaxCachedDevices = 64;

// The deepest pipeline (2..kMaxStages) whose shared memory the device
// grants one block of this kernel (opt-in limit); per device, computed once.
template <typename T, int HEAD_DIM, int ROWS>
int decode_max_stages(int device) {
    static std::atomic<int> cached[kMaxCachedDevices];  // 0: not computed yet
    const bool cacheable = device >= 0 && device < kMaxCachedDevices;
    if (cacheable) {
        const int c = cached[device].load(std::memory_order_relaxed);
        if (c > 0) return c;
    }
    int optin = 0;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
        (void)cudaGetLastError();
        optin = 0;
    }
    int stages = kMaxStages;
    while (stages > kDefaultStages && decode_smem_bytes<ROWS, HEAD_DIM>(stages) > optin) --stages;
    if (cacheable) cached[device].store(stages, std::memory_order_relaxed);
    return stages;
}

// Opts the kernel into the shared memory of a `stages`-deep pipeline (the
// opt-in only ever grows, so launches captured earlier with more stay valid)
// and reports how many blocks of it fit on one SM; per device and depth,
// computed once.
template <typename T, int HEAD_DIM, int ROWS>
cudaError_t decode_blocks_per_sm(int device, int stages, int* blocks_per_sm) {
    static std::atomic<int> cached[kMaxCachedDevices][kMaxStages + 1];  // 0: not computed yet
    static std::atomic<int> opted_in[kMaxCachedDevices];                // bytes granted so far
    static std::mutex mutex;
    const bool cacheable = device >= 0 && device < kMaxCachedDevices && stages >= 2 && stages <= kMaxStages;
    if (cacheable) {
        const int c = cached[device][stages].load(std::memory_order_relaxed);
        if (c > 0) {
            *blocks_per_sm = c;
            return cudaSuccess;
        }
    }
    auto kernel = decode_split_kernel<T, HEAD_DIM, ROWS>;
    const int smem = decode_smem_bytes<ROWS, HEAD_DIM>(stages);
    cudaError_t e = cudaSuccess;
    {
        std::lock_guard<std::mutex> lock(mutex);
        const bool known = device >= 0 && device < kMaxCachedDevices;
        if (!known || opted_in[device].load(std::memory_order_relaxed) < smem) {
            e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
            if (e == cudaSuccess && known) opted_in[device].store(smem, std::memory_order_relaxed);
        }
    }
    if (e != cudaSuccess) return e;
    int n = 0;
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, smem);
    if (e != cudaSuccess) return e;
    if (n < 1) n = 1;
    if (cacheable) cached[device][stages].store(n, std::memory_order_relaxed);
    *blocks_per_sm = n;
    return cudaSuccess;
}

// Grid: x = KV split, y = KV head * row chunk, z = batch row.
template <typename T, int HEAD_DIM, int ROWS>
cudaError_t launch_decode_split(const DecodeParams& p, cudaStream_t stream) {
    const dim3 grid(p.num_splits, p.num_kv_heads * p.row_chunks, p.batch);
    decode_split_kernel<T, HEAD_DIM, ROWS>
        <<<grid, kThreads, decode_smem_bytes<ROWS, HEAD_DIM>(p.stages), stream>>>(p);
    return cudaGetLastError();
}

// The largest cluster of split blocks this kernel can run with on `device`
// (kMaxClusterSplits, 8, or 1 when clusters are not available: compute
// capability below 9.0 or no sm_90 code), queried with the default
// pipeline depth's shared memory; per device, computed once.
template <typename T, int HEAD_DIM, int ROWS>
int decode_max_cluster(int device) {
    static std::atomic<int> cached[kMaxCachedDevices];  // 0: not computed yet
    const bool cacheable = device >= 0 && device < kMaxCachedDevices;
    if (cacheable) {
        const int c = cached[device].load(std::memory_order_relaxed);
        if (c > 0) return c;
    }
    auto kernel = decode_split_kernel<T, HEAD_DIM, ROWS>;
    int result = 1;
    int major = 0;
    int per_sm = 0;  // opts the kernel into the shared memory queried below
    (void)decode_blocks_per_sm<T, HEAD_DIM, ROWS>(device, kDefaultStages, &per_sm);
    cudaFuncAttributes attributes{};
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
        cudaFuncGetAttributes(&attributes, kernel) == cudaSuccess && major >= 9 &&
        attributes.ptxVersion >= 90) {
        (void)cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
        for (int size = kMaxClusterSplits; size >= 8 && result == 1; size /= 2) {
            cudaLaunchConfig_t config{};
            config.gridDim = dim3(size);
            config.blockDim = dim3(kThreads);
            config.dynamicSmemBytes = decode_smem_bytes<ROWS, HEAD_DIM>(kDefaultStages);
            cudaLaunchAttribute attribute[1];
            attribute[0].id = cudaLaunchAttributeClusterDimension;
            attribute[0].val.clusterDim.x = size;
            attribute[0].val.clusterDim.y = 1;
            attribute[0].val.clusterDim.z = 1;
            config.attrs = attribute;
            config.numAttrs = 1;
            int clusters = 0;
            if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &config) == cudaSuccess && clusters > 0)
                result = size;
        }
    }
    (void)cudaGetLastError();
    if (cacheable) cached[device].store(result, std::memory_order_relaxed);
    return result;
}

// The same grid as launch_decode_split, its num_splits blocks along x one
// cluster (p.cluster_merge = 1, 2 <= num_splits <= decode_max_cluster).
template <typename T, int HEAD_DIM, int ROWS>
cudaError_t launch_decode_cluster(const DecodeParams& p, cudaStream_t stream) {
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(p.num_splits, p.num_kv_heads * p.row_chunks, p.batch);
    config.blockDim = dim3(kThreads);
    config.dynamicSmemBytes = decode_smem_bytes<ROWS, HEAD_DIM>(p.stages);
    config.stream = stream;
    cudaLaunchAttribute attribute[1];
    attribute[0].id = cudaLaunchAttributeClusterDimension;
    attribute[0].val.clusterDim.x = p.num_splits;
    attribute[0].val.clusterDim.y = 1;
    attribute[0].val.clusterDim.z = 1;
    config.attrs = attribute;
    config.numAttrs = 1;
    return cudaLaunchKernelEx(&config, decode_split_kernel<T, HEAD_DIM, ROWS>, p);
}

}  // namespace decode_detail
}  // namespace cuda
}  // namespace pattn

// One .cu file per (dtype, head_dim) instantiates the row-pack sizes.
#define PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, ROWS)                                   \
    template cudaError_t pattn::cuda::decode_detail::decode_blocks_per_sm<T, HEAD_DIM, ROWS>( \
        int, int, int*);                                                                   \
    template int pattn::cuda::decode_detail::decode_max_stages<T, HEAD_DIM, ROWS>(int);    \
    template cudaError_t pattn::cuda::decode_detail::launch_decode_split<T, HEAD_DIM, ROWS>(  \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                     \
    template cudaError_t pattn::cuda::decode_detail::launch_decode_cluster<T, HEAD_DIM, ROWS>( \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                     \
    template int pattn::cuda::decode_detail::decode_max_cluster<T, HEAD_DIM, ROWS>(int);

#define PATTN_DECODE_INSTANTIATE(T, HEAD_DIM)     \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 1) \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 4) \
    PATTN_DECODE_INSTANTIATE_ROWS(T, HEAD_DIM, 8)

// For the dispatching translation unit: the instantiations live elsewhere.
#define PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, ROWS)                                              \
    extern template cudaError_t pattn::cuda::decode_detail::decode_blocks_per_sm<T, HEAD_DIM, ROWS>( \
        int, int, int*);                                                                         \
    extern template int pattn::cuda::decode_detail::decode_max_stages<T, HEAD_DIM, ROWS>(int);    \
    extern template cudaError_t pattn::cuda::decode_detail::launch_decode_split<T, HEAD_DIM, ROWS>(  \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                            \
    extern template cudaError_t pattn::cuda::decode_detail::launch_decode_cluster<T, HEAD_DIM, ROWS>( \
        const pattn::cuda::decode_detail::DecodeParams&, cudaStream_t);                            \
    extern template int pattn::cuda::decode_detail::decode_max_cluster<T, HEAD_DIM, ROWS>(int);

#define PATTN_DECODE_EXTERN(T, HEAD_DIM)     \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 1) \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 4) \
    PATTN_DECODE_EXTERN_ROWS(T, HEAD_DIM, 8)
