// The Hopper (sm_90a) prefill kernel for head_dim 128: wgmma.mma_async with
// f32 accumulators, Q and K/V tiles in 128-byte-swizzled shared memory
// described by matrix descriptors, P fed from registers for O = P V.
//
// Block = 128 packed query rows (the same tiles, work items and row order as
// prefill_kernel.cuh) run by two warpgroups of 64 rows each, against KV tiles
// of 128 keys visited from the last visible one down; K/V tiles go through a
// two-stage cp.async pipeline (the next tile loads while this one computes),
// rows outside the real key range are zero-filled, and only tiles reaching
// past the keys every row sees are masked (mask_rules.h).
//
// Everything of sm_90a sits inside __CUDA_ARCH_FEAT_SM90_ALL: other device
// passes compile an empty kernel without static shared memory, which is how
// the host tells that the sm_90a image is the one loaded
// (prefill_hopper_launch.cuh).
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "common/math_constants.h"
#include "common/ptx.cuh"
#include "mask_rules.h"
#include "prefill_params.h"
#include "prefill_tile.cuh"

namespace pattn {
namespace cuda {
namespace prefill_hopper_detail {

using prefill_detail::row_info;
using prefill_detail::BlockTile;
using prefill_detail::locate_block_tile;
using prefill_detail::RowInfo;

constexpr int kHeadDim = 128;
constexpr int kBlockM = 128;     // packed rows per block (host work items agree)
constexpr int kBlockN = 128;     // keys per KV tile
constexpr int kThreads = 256;    // two warpgroups, 64 rows each
constexpr int kTileBytes = 128 * kHeadDim * 2;  // one [128][128] 16-bit tile
// Q, then K stage 0/1, then V stage 0/1; 1 KB slack for the alignment the
// 128-byte swizzle needs.
constexpr int kSmemBytes = 1024 + 5 * kTileBytes;

static_assert(kBlockM == prefill_block_m(kHeadDim), "host and kernel tile rows differ");

// Byte offset of 16-byte chunk `chunk` (0..15) of row `row` in a [128][128]
// tile stored as the canonical 128-byte-swizzle layout: two column halves of
// 64 elements, each [128 rows][128 bytes], chunk XOR (row % 8) within a row.
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk) {
    return (uint32_t)((chunk >> 3) * (128 * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// Shared-memory matrix descriptor, 128-byte swizzle: start address, leading
// and stride byte offsets (all >> 4), layout type 1 in bits 62-63.
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lead_bytes, uint32_t stride_bytes) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lead_bytes >> 4) << 16) |
           ((uint64_t)(stride_bytes >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// cp.async writes (generic proxy) made visible to wgmma reads (async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving register reads/writes across wgmma issue and wait.
__device__ __forceinline__ void fence_regs(float (&r)[64]) {
#pragma unroll
    for (int i = 0; i < 64; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

template <typename T> struct Wgmma;
// The f16 and bf16 instructions differ only in the operand type's name.
#define PATTN_DEFINE_WGMMA(T, AB) \
template <> struct Wgmma<T> { \
    /* D[64x128] (+)= A[64x16] * B[16x128]; A and B K-major in shared memory. */ \
    static __device__ __forceinline__ void ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int accumulate) { \
        asm volatile( \
            "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n" \
            "wgmma.mma_async.sync.aligned.m64n128k16.f32." AB "." AB " " \
            "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n" \
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) \
            : "l"(desc_a), "l"(desc_b), "r"(accumulate)); \
    } \
    /* D[64x128] += A[64x16] (registers) * B[16x128]; B N-major in shared memory. */ \
    static __device__ __forceinline__ void rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) { \
        asm volatile( \
            "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n" \
            "wgmma.mma_async.sync.aligned.m64n128k16.f32." AB "." AB " " \
            "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n" \
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) \
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1)); \
    } \
};
PATTN_DEFINE_WGMMA(__half, "f16")
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16")
#undef PATTN_DEFINE_WGMMA

// K and V tile `rows_valid` rows (the rest zero-filled) into one stage; each
// thread copies chunk tid % 16 of rows tid / 16 + 16 * pass.
template <typename T>
__device__ __forceinline__ void load_tile(uint32_t dst, const T* src, int64_t stride_s, int rows_valid, int tid) {
    const int row0 = tid >> 4;
    const int chunk = tid & 15;
    const T* g = src + row0 * stride_s + chunk * 8;
    const int64_t step = 16 * stride_s;
    const uint32_t d0 = dst + tile_offset(row0, chunk);
#pragma unroll
    for (int pass = 0; pass < 8; ++pass) {
        const bool valid = row0 + pass * 16 < rows_valid;
        cp_async_16(d0 + pass * 16 * 128, valid ? g : src, valid);
        g += step;
    }
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

template <typename T, bool CAUSAL>
__global__ void __launch_bounds__(kThreads, 1) prefill_hopper_kernel(const __grid_constant__ PrefillParams params) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    __shared__ int32_t row_visible[kBlockM];
    __shared__ int32_t block_state[8];
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t smem_base = (smem_addr(smem_raw) + 1023) & ~1023u;
    unsigned char* smem_aligned = smem_raw + (smem_base - smem_addr(smem_raw));
    const uint32_t q_smem = smem_base;
    const uint32_t k_smem = smem_base + kTileBytes;       // + stage * kTileBytes
    const uint32_t v_smem = smem_base + 3 * kTileBytes;   // + stage * kTileBytes

    const int tid = threadIdx.x;
    const int wg = tid >> 7;
    const int lane = tid & 31;
    const int warp_in_wg = (tid >> 5) & 3;

    // ---- which work, which lengths (shared with prefill_kernel.cuh)
    const BlockTile tile = locate_block_tile<CAUSAL>(params, kBlockM);
    const int32_t batch = tile.batch, kv_head = tile.kv_head, q_tile = tile.q_tile;
    const int32_t qv = tile.qv, kv = tile.kv;
    const int32_t keys_all = tile.keys_all, keys_any = tile.keys_any;
    const int32_t p0 = tile.p0, p_end = tile.p_end;
    const RowExtent ext = tile.ext;
    const int32_t group = params.group_size;
    const int num_kv_tiles = (keys_any + kBlockN - 1) / kBlockN;
    enum { S_BATCH, S_KV_HEAD, S_QV, S_KV, S_KEYS_ALL, S_KEYS_ANY, S_Q_TILE };
    if (tid == 0) {
        block_state[S_BATCH] = batch;
        block_state[S_KV_HEAD] = kv_head;
        block_state[S_QV] = qv;
        block_state[S_KV] = kv;
        block_state[S_KEYS_ALL] = keys_all;
        block_state[S_KEYS_ANY] = keys_any;
        block_state[S_Q_TILE] = q_tile;
    }
    if (tid < kBlockM)
        row_visible[tid] = row_info(p0 + tid, group, kv_head, ext, params.left_padded, CAUSAL).visible;

    const T* k_base = static_cast<const T*>(params.k) + batch * params.k_stride_b +
                      (int64_t)ext.k_first * params.k_stride_s + kv_head * params.k_stride_h;
    const T* v_base = static_cast<const T*>(params.v) + batch * params.v_stride_b +
                      (int64_t)ext.k_first * params.v_stride_s + kv_head * params.v_stride_h;

    // ---- prologue: Q and the last visible K/V tile
    if (num_kv_tiles > 0) {
        const T* q_base = static_cast<const T*>(params.q) + batch * params.q_stride_b;
        const int chunk = tid & 15;
#pragma unroll 2
        for (int pass = 0; pass < 8; ++pass) {
            const int row = (tid >> 4) + pass * 16;
            RowInfo ri = row_info(p0 + row, group, kv_head, ext, params.left_padded, CAUSAL);
            bool valid = ri.real && (p0 + row) < p_end;
            const T* g = q_base + (valid ? ri.position * params.q_stride_s + ri.head * params.q_stride_h : 0) + chunk * 8;
            cp_async_16(q_smem + tile_offset(row, chunk), g, valid);
        }
        const int kt = num_kv_tiles - 1;
        const int rows = min(kBlockN, keys_any - kt * kBlockN);
        const uint32_t stage = (uint32_t)(kt & 1) * kTileBytes;
        load_tile<T>(k_smem + stage, k_base + (int64_t)kt * kBlockN * params.k_stride_s, params.k_stride_s, rows, tid);
        load_tile<T>(v_smem + stage, v_base + (int64_t)kt * kBlockN * params.v_stride_s, params.v_stride_s, rows, tid);
        cp_async_commit();
    }

    float acc_o[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc_o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};  // running max of scale_log2 * score
    float row_sum[2] = {0.f, 0.f};              // this thread's share of the exp2 sum
    const float scale_log2 = params.scale_log2;
    const int row_local = wg * 64 + warp_in_wg * 16 + (lane >> 2);  // rows row_local, row_local + 8
    // Q rows of this warpgroup; K/V stage 0 (stage 1 is + kTileBytes).
    const uint64_t q_desc = make_desc(q_smem + wg * 64 * 128, 16, 1024);
    const uint64_t k_desc = make_desc(k_smem, 16, 1024);
    const uint64_t v_desc = make_desc(v_smem, 128 * 128, 1024);
    constexpr uint64_t kStageDesc = kTileBytes >> 4;

    for (int kt = num_kv_tiles - 1; kt >= 0; --kt) {
        const int key0 = kt * kBlockN;
        cp_async_wait_all();
        fence_proxy_async();
        __syncthreads();  // tile kt (and Q) visible; every warpgroup is done with the other stage
        if (kt > 0) {
            const int next = kt - 1;
            const uint32_t stage = (uint32_t)(next & 1) * kTileBytes;
            load_tile<T>(k_smem + stage, k_base + (int64_t)next * kBlockN * params.k_stride_s, params.k_stride_s,
                         kBlockN, tid);
            load_tile<T>(v_smem + stage, v_base + (int64_t)next * kBlockN * params.v_stride_s, params.v_stride_s,
                         kBlockN, tid);
            cp_async_commit();
        }
        const uint64_t stage_desc = (uint64_t)(kt & 1) * kStageDesc;

        // ---- S = Q K^T: 8 k16 steps; step kk is column half kk / 4, 32 bytes
        // per step inside the 128-byte rows.
        float acc_s[64];
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 8; ++kk) {
            const uint64_t off = (uint64_t)(((kk >> 2) * 128 * 128 + (kk & 3) * 32) >> 4);
            Wgmma<T>::ss(acc_s, q_desc + off, k_desc + stage_desc + off, kk > 0);
        }
        wgmma_commit();
        wgmma_wait_all();
        fence_regs(acc_s);

        // ---- mask (only tiles reaching past the keys every row sees)
        if (key0 + kBlockN > block_state[S_KEYS_ALL]) {
            const int vis0 = row_visible[row_local] - key0;
            const int vis1 = row_visible[row_local + 8] - key0;
#pragma unroll
            for (int j = 0; j < 16; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int key = j * 8 + (lane & 3) * 2 + (e & 1);
                    if (key >= ((e & 2) ? vis1 : vis0)) acc_s[j * 4 + e] = -INFINITY;
                }
        }

        // ---- online softmax (rows row_local + 8 h)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < 16; ++j) mx = fmaxf(mx, fmaxf(acc_s[j * 4 + 2 * h], acc_s[j * 4 + 2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float new_max = fmaxf(row_max[h], mx * scale_log2);
            const float ref = new_max == -INFINITY ? 0.f : new_max;
            const float correction = fast_exp2(row_max[h] - ref);
            row_max[h] = new_max;
            float sum = 0.f;
#pragma unroll
            for (int j = 0; j < 16; ++j) {
                const float a = fast_exp2(fmaf(acc_s[j * 4 + 2 * h], scale_log2, -ref));
                const float b = fast_exp2(fmaf(acc_s[j * 4 + 2 * h + 1], scale_log2, -ref));
                acc_s[j * 4 + 2 * h] = a;
                acc_s[j * 4 + 2 * h + 1] = b;
                sum += a + b;
            }
            row_sum[h] = row_sum[h] * correction + sum;
#pragma unroll
            for (int j = 0; j < 16; ++j) {
                acc_o[j * 4 + 2 * h] *= correction;
                acc_o[j * 4 + 2 * h + 1] *= correction;
            }
        }

        // ---- O += P V: score n8 tiles 2ks, 2ks+1 are the A fragment of k16
        // step ks; V rows (keys) 16 ks.. of the tile, N-major (d contiguous).
        uint32_t p[8][4];
#pragma unroll
        for (int ks = 0; ks < 8; ++ks) {
            p[ks][0] = Mma<T>::pack(acc_s[8 * ks + 0], acc_s[8 * ks + 1]);
            p[ks][1] = Mma<T>::pack(acc_s[8 * ks + 2], acc_s[8 * ks + 3]);
            p[ks][2] = Mma<T>::pack(acc_s[8 * ks + 4], acc_s[8 * ks + 5]);
            p[ks][3] = Mma<T>::pack(acc_s[8 * ks + 6], acc_s[8 * ks + 7]);
        }
        fence_regs(acc_o);
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < 8; ++ks)
            Wgmma<T>::rs(acc_o, p[ks], v_desc + stage_desc + (uint64_t)((ks * 16 * 128) >> 4));
        wgmma_commit();
        wgmma_wait_all();
        fence_regs(acc_o);
    }

    // ---- epilogue: normalize, stage in the Q buffer, 16-byte coalesced stores
    __syncthreads();  // every warpgroup's reads of Q are done
    {
        const int32_t batch = block_state[S_BATCH];
        const int32_t kv_head = block_state[S_KV_HEAD];
        const RowExtent ext = row_extent(params.q_len, params.kv_len, block_state[S_QV], block_state[S_KV],
                                         params.left_padded);
        const int32_t group = params.group_size;
        const int32_t p0 = block_state[S_Q_TILE] * kBlockM;
        const int32_t p_end = min(p0 + kBlockM, params.q_len * group);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float sum = row_sum[h];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = sum > 0.f ? 1.f / sum : 0.f;
            const int row = row_local + 8 * h;
#pragma unroll
            for (int j = 0; j < 16; ++j) {
                const uint32_t packed = Mma<T>::pack(acc_o[j * 4 + 2 * h] * inv, acc_o[j * 4 + 2 * h + 1] * inv);
                *reinterpret_cast<uint32_t*>(smem_aligned + tile_offset(row, j) + (lane & 3) * 4) = packed;
            }
            if (params.lse != nullptr && (lane & 3) == 0) {
                const int32_t pr = p0 + row;
                if (pr < p_end) {
                    RowInfo ri = row_info(pr, group, kv_head, ext, params.left_padded, CAUSAL);
                    float lse = sum > 0.f ? row_max[h] * kLn2 + logf(sum) : -INFINITY;
                    params.lse[batch * params.lse_stride_b + (int64_t)ri.position * params.lse_stride_s +
                               (int64_t)ri.head * params.lse_stride_h] = lse;
                }
            }
        }
        __syncthreads();
        T* o_base = static_cast<T*>(params.o) + batch * params.o_stride_b;
        const int chunk = tid & 15;
#pragma unroll 2
        for (int pass = 0; pass < 8; ++pass) {
            const int row = (tid >> 4) + pass * 16;
            const int32_t pr = p0 + row;
            if (pr < p_end) {
                RowInfo ri = row_info(pr, group, kv_head, ext, params.left_padded, CAUSAL);
                *reinterpret_cast<uint4*>(o_base + (int64_t)ri.position * params.o_stride_s +
                                          (int64_t)ri.head * params.o_stride_h + chunk * 8) =
                    *reinterpret_cast<const uint4*>(smem_aligned + tile_offset(row, chunk));
            }
        }
    }
#endif  // __CUDA_ARCH_FEAT_SM90_ALL
}

}  // namespace prefill_hopper_detail
}  // namespace cuda
}  // namespace pattn
