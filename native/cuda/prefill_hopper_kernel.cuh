// The Hopper (sm_90a) prefill kernels for head_dim 64, 128 and 256: wgmma.mma_async
// with f32 accumulators, Q and K/V tiles in 128-byte-swizzled shared memory
// described by matrix descriptors, P fed from registers for O = P V.
//
// Block = 128 packed query rows (the host builds the tiles and work items
// with prefill_hopper_block_m, prefill_params.h) run by two warpgroups of 64
// rows each, against KV tiles (128 keys; 64 at head_dim 256, where the
// 128-column f32 output of each thread leaves room for 32 score registers
// only) visited from the last visible one down; K/V tiles go through a
// two-stage cp.async pipeline (the next tile loads while this one computes),
// rows outside the real key range are zero-filled, and only tiles reaching
// past the keys every row sees are masked (mask_rules.h).
//
// The packed layout (cu_seqlens) runs in every instantiation: its row
// lookup (prefill_tile.cuh locate_block_tile) happens once per block. The
// sliding window (KV tiles outside the tile's window skipped, the others
// masked on both sides) and the soft cap (common/soft_cap.cuh) are the
// VARIANTS instantiation only, so the plain KV loop carries none of them.
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
#include "common/online_softmax.cuh"
#include "common/ptx.cuh"
#include "common/softmax.cuh"
#include "common/soft_cap.cuh"
#include "mask_rules.h"
#include "prefill_params.h"
#include "prefill_tile.cuh"

namespace pattn {
namespace cuda {
namespace prefill_hopper_detail {

using prefill_detail::row_info;
using prefill_detail::block_mask;
using prefill_detail::BlockTile;
using prefill_detail::locate_block_tile;
using prefill_detail::RowInfo;

constexpr int kThreads = 256;    // two warpgroups, 64 rows each

// Tile shape per head_dim. Shared memory: Q, then K stage 0/1, then V stage
// 0/1, plus 1 KB slack for the alignment the 128-byte swizzle needs (80 KB
// at d64, 160 KB at d128, 192 KB at d256).
template <int HEAD_DIM>
struct HopperTraits {
    static constexpr int kHeadDim = HEAD_DIM;
    static constexpr int kBlockM = prefill_hopper_block_m(HEAD_DIM);
    static constexpr int kBlockN = prefill_hopper_block_n(HEAD_DIM);
    static constexpr int kChunks = HEAD_DIM / 8;                 // 16-byte chunks per row
    static constexpr int kQTileBytes = kBlockM * HEAD_DIM * 2;
    static constexpr int kKvTileBytes = kBlockN * HEAD_DIM * 2;
    static constexpr int kSmemBytes = 1024 + kQTileBytes + 4 * kKvTileBytes;
    static_assert(kBlockM == 128 && kBlockN % 64 == 0 && HEAD_DIM % 64 == 0, "tile shape");
    static_assert(kSmemBytes <= 227 * 1024, "shared memory of one block");
};

// Byte offset of 16-byte chunk `chunk` of row `row` in a [ROWS][head_dim]
// tile stored as the canonical 128-byte-swizzle layout: column blocks of 64
// elements, each [ROWS rows][128 bytes], chunk XOR (row % 8) within a row.
template <int ROWS>
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk) {
    return (uint32_t)((chunk >> 3) * (ROWS * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
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
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

// D[64xN] (+)= A[64x16] * B[16xN]: ss reads A and B K-major from shared
// memory; rs takes A from registers and B N-major from shared memory. One
// specialisation per N (the accumulator count is part of the asm); the f16
// and bf16 instructions differ only in the operand type's name.
template <typename T, int N> struct Wgmma;
// Accumulator register lists per N (the asm of each shape names every register).
#define PATTN_WGMMA_N64_REGS "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define PATTN_WGMMA_N64_OUTS(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define PATTN_WGMMA_N64_SS_OPERANDS "%32, %33"
#define PATTN_WGMMA_N64_SS_PRED "%34"
#define PATTN_WGMMA_N64_RS_OPERANDS "{%32, %33, %34, %35}, %36"
#define PATTN_WGMMA_N64_RS_PRED "%37"
#define PATTN_WGMMA_N128_REGS "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define PATTN_WGMMA_N128_OUTS(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
#define PATTN_WGMMA_N128_SS_OPERANDS "%64, %65"
#define PATTN_WGMMA_N128_SS_PRED "%66"
#define PATTN_WGMMA_N128_RS_OPERANDS "{%64, %65, %66, %67}, %68"
#define PATTN_WGMMA_N128_RS_PRED "%69"
#define PATTN_WGMMA_N256_REGS "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
#define PATTN_WGMMA_N256_OUTS(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
#define PATTN_WGMMA_N256_SS_OPERANDS "%128, %129"
#define PATTN_WGMMA_N256_SS_PRED "%130"
#define PATTN_WGMMA_N256_RS_OPERANDS "{%128, %129, %130, %131}, %132"
#define PATTN_WGMMA_N256_RS_PRED "%133"
// One specialisation of Wgmma<T, N> for operand type name AB ("f16"/"bf16").
#define PATTN_DEFINE_WGMMA(T, AB, N) \
template <> struct Wgmma<T, N> { \
    static __device__ __forceinline__ void ss(float (&d)[N / 2], uint64_t desc_a, uint64_t desc_b, int accumulate) { \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " PATTN_WGMMA_N##N##_SS_PRED ", 0;\n" \
                     "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." AB "." AB " " \
                     PATTN_WGMMA_N##N##_REGS ", " PATTN_WGMMA_N##N##_SS_OPERANDS ", p, 1, 1, 0, 0;\n}\n" \
                     : PATTN_WGMMA_N##N##_OUTS(d) \
                     : "l"(desc_a), "l"(desc_b), "r"(accumulate)); \
    } \
    static __device__ __forceinline__ void rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t desc_b) { \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " PATTN_WGMMA_N##N##_RS_PRED ", 0;\n" \
                     "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." AB "." AB " " \
                     PATTN_WGMMA_N##N##_REGS ", " PATTN_WGMMA_N##N##_RS_OPERANDS ", p, 1, 1, 1;\n}\n" \
                     : PATTN_WGMMA_N##N##_OUTS(d) \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1)); \
    } \
};

PATTN_DEFINE_WGMMA(__half, "f16", 64)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 64)
PATTN_DEFINE_WGMMA(__half, "f16", 128)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 128)
PATTN_DEFINE_WGMMA(__half, "f16", 256)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 256)
#undef PATTN_DEFINE_WGMMA
#undef PATTN_WGMMA_N64_REGS
#undef PATTN_WGMMA_N64_OUTS
#undef PATTN_WGMMA_N64_SS_OPERANDS
#undef PATTN_WGMMA_N64_SS_PRED
#undef PATTN_WGMMA_N64_RS_OPERANDS
#undef PATTN_WGMMA_N64_RS_PRED
#undef PATTN_WGMMA_N128_REGS
#undef PATTN_WGMMA_N128_OUTS
#undef PATTN_WGMMA_N128_SS_OPERANDS
#undef PATTN_WGMMA_N128_SS_PRED
#undef PATTN_WGMMA_N128_RS_OPERANDS
#undef PATTN_WGMMA_N128_RS_PRED
#undef PATTN_WGMMA_N256_REGS
#undef PATTN_WGMMA_N256_OUTS
#undef PATTN_WGMMA_N256_SS_OPERANDS
#undef PATTN_WGMMA_N256_SS_PRED
#undef PATTN_WGMMA_N256_RS_OPERANDS
#undef PATTN_WGMMA_N256_RS_PRED

// S = Q K^T of one KV tile: HEAD_DIM / 16 k16 steps; step kk is column
// block kk / 4, 32 bytes per step inside the 128-byte rows. Issued, not
// waited for.
template <typename T, int HEAD_DIM, int BLOCK_M, int BLOCK_N>
__device__ __forceinline__ void issue_qk(float (&acc_s)[BLOCK_N / 2], uint64_t q_desc, uint64_t k_desc) {
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
        const uint64_t q_off = (uint64_t)(((kk >> 2) * BLOCK_M * 128 + (kk & 3) * 32) >> 4);
        const uint64_t k_off = (uint64_t)(((kk >> 2) * BLOCK_N * 128 + (kk & 3) * 32) >> 4);
        Wgmma<T, BLOCK_N>::ss(acc_s, q_desc + q_off, k_desc + k_off, kk > 0);
    }
}

// O += P V: score n8 tiles 2ks, 2ks+1 are the A fragment of k16 step ks; V
// rows (keys) 16 ks.. of the tile, N-major (d contiguous). Issued, not waited for.
template <typename T, int HEAD_DIM, int BLOCK_N>
__device__ __forceinline__ void issue_pv(float (&acc_o)[HEAD_DIM / 2], const uint32_t (&p)[BLOCK_N / 16][4],
                                         uint64_t v_desc) {
#pragma unroll
    for (int ks = 0; ks < BLOCK_N / 16; ++ks)
        Wgmma<T, HEAD_DIM>::rs(acc_o, p[ks], v_desc + (uint64_t)((ks * 16 * 128) >> 4));
}

// Scores at or past a row's visible-key count, and with WINDOW before its
// first visible key (both relative to this tile), to -inf.
template <int BLOCK_N, bool WINDOW>
__device__ __forceinline__ void mask_scores(float (&acc_s)[BLOCK_N / 2], int vis0, int vis1, int first0, int first1,
                                            int lane) {
#pragma unroll
    for (int j = 0; j < BLOCK_N / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int key = j * 8 + (lane & 3) * 2 + (e & 1);
            if (key >= ((e & 2) ? vis1 : vis0) || (WINDOW && key < ((e & 2) ? first1 : first0)))
                acc_s[j * 4 + e] = -INFINITY;
        }
}

// The flat wgmma accumulators as n8 tiles of the fragment common/softmax.cuh
// works on (same registers, compile-time indices only).
template <int N>
__device__ __forceinline__ float (&as_n8_tiles(float (&acc)[N]))[N / 4][4] {
    return reinterpret_cast<float (&)[N / 4][4]>(acc);
}

// The probabilities as the register A fragments of the P V steps.
template <typename T, int BLOCK_N>
__device__ __forceinline__ void pack_probs(const float (&acc_s)[BLOCK_N / 2], uint32_t (&p)[BLOCK_N / 16][4]) {
#pragma unroll
    for (int ks = 0; ks < BLOCK_N / 16; ++ks)
#pragma unroll
        for (int r = 0; r < 4; ++r) p[ks][r] = Mma<T>::pack(acc_s[8 * ks + 2 * r], acc_s[8 * ks + 2 * r + 1]);
}

// A K or V tile: `rows_valid` rows (the rest zero-filled, never read) into
// one stage; each thread copies chunk tid % CHUNKS of rows tid / CHUNKS +
// (256 / CHUNKS) * pass.
template <typename T, int ROWS, int CHUNKS>
__device__ __forceinline__ void load_tile(uint32_t dst, const T* src, int64_t stride_s, int rows_valid, int tid) {
    constexpr int kRowsPerPass = kThreads / CHUNKS;
    const int row0 = tid / CHUNKS;
    const int chunk = tid % CHUNKS;
    const T* g = src + row0 * stride_s + chunk * 8;
    const int64_t step = kRowsPerPass * stride_s;
    const uint32_t d0 = dst + tile_offset<ROWS>(row0, chunk);
#pragma unroll
    for (int pass = 0; pass < ROWS / kRowsPerPass; ++pass) {
        const bool valid = row0 + pass * kRowsPerPass < rows_valid;
        cp_async_16(d0 + pass * kRowsPerPass * 128, valid ? g : src, valid);
        g += step;
    }
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// VARIANTS: the params may hold a sliding window and a soft cap (the launch
// picks this instantiation only then, prefill_hopper_launch.cuh).
template <int HEAD_DIM, typename T, bool CAUSAL, bool VARIANTS>
__global__ void __launch_bounds__(kThreads, 1) prefill_hopper_kernel(const __grid_constant__ PrefillParams params) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using Tr = HopperTraits<HEAD_DIM>;
    constexpr int kBlockM = Tr::kBlockM, kBlockN = Tr::kBlockN, kChunks = Tr::kChunks;
    constexpr int kOutRegs = HEAD_DIM / 2;   // m64nHEAD_DIM accumulators per thread
    constexpr int kScoreRegs = kBlockN / 2;  // m64nBLOCK_N accumulators per thread
    __shared__ int32_t row_visible[kBlockM];
    __shared__ int32_t row_first[VARIANTS ? kBlockM : 1];  // first visible key per row (window)
    __shared__ int32_t block_state[16];
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t smem_base = (smem_addr(smem_raw) + 1023) & ~1023u;
    unsigned char* smem_aligned = smem_raw + (smem_base - smem_addr(smem_raw));
    const uint32_t q_smem = smem_base;
    const uint32_t k_smem = smem_base + Tr::kQTileBytes;                         // + stage * kKvTileBytes
    const uint32_t v_smem = smem_base + Tr::kQTileBytes + 2 * Tr::kKvTileBytes;  // + stage * kKvTileBytes

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
    const MaskSpec mask = VARIANTS ? block_mask<CAUSAL>(params) : mask_spec(CAUSAL);
    // KV tiles [first_kv_tile, num_kv_tiles): with a window, its tiles only.
    const int num_kv_tiles = (keys_any + kBlockN - 1) / kBlockN;
    const int first_kv_tile = VARIANTS ? min(tile.keys_first / kBlockN, num_kv_tiles) : 0;
    enum { S_BATCH, S_KV_HEAD, S_QV, S_KV, S_KEYS_ALL, S_KEYS_ANY, S_Q_TILE, S_Q_FIRST, S_KEYS_ALL_FIRST };
    if (tid == 0) {
        block_state[S_BATCH] = batch;
        block_state[S_KV_HEAD] = kv_head;
        block_state[S_QV] = qv;
        block_state[S_KV] = kv;
        block_state[S_KEYS_ALL] = keys_all;
        block_state[S_KEYS_ANY] = keys_any;
        block_state[S_Q_TILE] = q_tile;
        block_state[S_Q_FIRST] = ext.q_first;
        block_state[S_KEYS_ALL_FIRST] = tile.keys_all_first;
    }
    if (tid < kBlockM) {
        const RowInfo ri = row_info(p0 + tid, group, kv_head, ext, params.left_padded, mask);
        row_visible[tid] = ri.visible;
        if constexpr (VARIANTS) row_first[tid] = ri.first;
    }

    const T* k_base = static_cast<const T*>(params.k) + batch * params.k_stride_b +
                      (int64_t)ext.k_first * params.k_stride_s + kv_head * params.k_stride_h;
    const T* v_base = static_cast<const T*>(params.v) + batch * params.v_stride_b +
                      (int64_t)ext.k_first * params.v_stride_s + kv_head * params.v_stride_h;

    // ---- prologue: Q and the last visible K/V tile
    if (num_kv_tiles > first_kv_tile) {
        const T* q_base = static_cast<const T*>(params.q) + batch * params.q_stride_b;
        const int chunk = tid % kChunks;
        constexpr int kRowsPerPass = kThreads / kChunks;
#pragma unroll 2
        for (int pass = 0; pass < kBlockM / kRowsPerPass; ++pass) {
            const int row = tid / kChunks + pass * kRowsPerPass;
            RowInfo ri = row_info(p0 + row, group, kv_head, ext, params.left_padded, CAUSAL);
            bool valid = ri.real && (p0 + row) < p_end;
            const T* g = q_base + (valid ? ri.position * params.q_stride_s + ri.head * params.q_stride_h : 0) + chunk * 8;
            cp_async_16(q_smem + tile_offset<kBlockM>(row, chunk), g, valid);
        }
        const int kt = num_kv_tiles - 1;
        const int rows = min(kBlockN, keys_any - kt * kBlockN);
        const uint32_t stage = (uint32_t)(kt & 1) * Tr::kKvTileBytes;
        load_tile<T, kBlockN, kChunks>(k_smem + stage, k_base + (int64_t)kt * kBlockN * params.k_stride_s,
                                       params.k_stride_s, rows, tid);
        load_tile<T, kBlockN, kChunks>(v_smem + stage, v_base + (int64_t)kt * kBlockN * params.v_stride_s,
                                       params.v_stride_s, rows, tid);
        cp_async_commit();
    }

    float acc_o[kOutRegs];
#pragma unroll
    for (int i = 0; i < kOutRegs; ++i) acc_o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};  // running max of scale_log2 * score
    float row_sum[2] = {0.f, 0.f};              // this thread's share of the exp2 sum
    float row_comp[2] = {0.f, 0.f};             // its Kahan compensation (common/online_softmax.cuh)
    const float scale_log2 = params.scale_log2;
    const int row_local = wg * 64 + warp_in_wg * 16 + (lane >> 2);  // rows row_local, row_local + 8
    // Q rows of this warpgroup (K-major); K (K-major) and V (N-major: the
    // leading offset steps over 64-column blocks of V) of stage 0, stage 1
    // is + kKvTileBytes.
    const uint64_t q_desc = make_desc(q_smem + wg * 64 * 128, 16, 1024);
    const uint64_t k_desc = make_desc(k_smem, 16, 1024);
    const uint64_t v_desc = make_desc(v_smem, kBlockN * 128, 1024);
    constexpr uint64_t kStageDesc = Tr::kKvTileBytes >> 4;

    for (int kt = num_kv_tiles - 1; kt >= first_kv_tile; --kt) {
        const int key0 = kt * kBlockN;
        cp_async_wait_all();
        fence_proxy_async();
        __syncthreads();  // tile kt (and Q) visible; every warpgroup is done with the other stage
        if (kt > first_kv_tile) {
            const int next = kt - 1;
            const uint32_t stage = (uint32_t)(next & 1) * Tr::kKvTileBytes;
            load_tile<T, kBlockN, kChunks>(k_smem + stage, k_base + (int64_t)next * kBlockN * params.k_stride_s,
                                           params.k_stride_s, kBlockN, tid);
            load_tile<T, kBlockN, kChunks>(v_smem + stage, v_base + (int64_t)next * kBlockN * params.v_stride_s,
                                           params.v_stride_s, kBlockN, tid);
            cp_async_commit();
        }
        const uint64_t stage_desc = (uint64_t)(kt & 1) * kStageDesc;

        float acc_s[kScoreRegs];
        wgmma_fence();
        issue_qk<T, HEAD_DIM, kBlockM, kBlockN>(acc_s, q_desc, k_desc + stage_desc);
        wgmma_commit();
        wgmma_wait_all();
        fence_regs(acc_s);

        // soft cap before the mask: s * scale becomes cap * tanh(s * scale / cap)
        if constexpr (VARIANTS) {
            if (params.soft_cap_pre != 0.f) {
#pragma unroll
                for (int i = 0; i < kScoreRegs; ++i)
                    acc_s[i] = soft_cap_tanh(acc_s[i], params.soft_cap_pre, params.soft_cap_post);
            }
        }
        // mask only tiles reaching outside the keys every row sees
        if (key0 + kBlockN > block_state[S_KEYS_ALL] || (VARIANTS && key0 < block_state[S_KEYS_ALL_FIRST])) {
            if constexpr (VARIANTS)
                mask_scores<kBlockN, true>(acc_s, row_visible[row_local] - key0, row_visible[row_local + 8] - key0,
                                           row_first[row_local] - key0, row_first[row_local + 8] - key0, lane);
            else
                mask_scores<kBlockN, false>(acc_s, row_visible[row_local] - key0, row_visible[row_local + 8] - key0,
                                            0, 0, lane);
        }
        float correction[2];
        online_softmax_tile<kBlockN / 8>(as_n8_tiles(acc_s), row_max, row_sum, row_comp, scale_log2, correction);
        rescale_rows<HEAD_DIM / 8>(as_n8_tiles(acc_o), correction);

        uint32_t p[kBlockN / 16][4];
        pack_probs<T, kBlockN>(acc_s, p);
        fence_regs(acc_o);
        wgmma_fence();
        issue_pv<T, HEAD_DIM, kBlockN>(acc_o, p, v_desc + stage_desc);
        wgmma_commit();
        wgmma_wait_all();
        fence_regs(acc_o);
    }

    // ---- epilogue: normalize, stage in the Q buffer, 16-byte coalesced stores
    __syncthreads();  // every warpgroup's reads of Q are done
    {
        const int32_t batch = block_state[S_BATCH];
        const int32_t kv_head = block_state[S_KV_HEAD];
        RowExtent ext = row_extent(params.q_len, params.kv_len, block_state[S_QV], block_state[S_KV],
                                   params.left_padded);
        if (params.packed) ext.q_first = block_state[S_Q_FIRST];  // a packed sequence has no padding rows
        const int32_t group = params.group_size;
        const int32_t p0 = block_state[S_Q_TILE] * kBlockM;
        const int32_t p_end = min(p0 + kBlockM, (params.packed ? ext.qv : params.q_len) * group);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const float sum = row_total(row_sum[h]);
            const float inv = row_inverse(sum);
            const int row = row_local + 8 * h;
#pragma unroll
            for (int j = 0; j < HEAD_DIM / 8; ++j) {
                const uint32_t packed = Mma<T>::pack(acc_o[j * 4 + 2 * h] * inv, acc_o[j * 4 + 2 * h + 1] * inv);
                *reinterpret_cast<uint32_t*>(smem_aligned + tile_offset<kBlockM>(row, j) + (lane & 3) * 4) = packed;
            }
            if (params.lse != nullptr && (lane & 3) == 0) {
                const int32_t pr = p0 + row;
                if (pr < p_end) {
                    RowInfo ri = row_info(pr, group, kv_head, ext, params.left_padded, CAUSAL);
                    const float lse = row_lse(row_max[h], sum);
                    params.lse[batch * params.lse_stride_b + (int64_t)ri.position * params.lse_stride_s +
                               (int64_t)ri.head * params.lse_stride_h] = lse;
                }
            }
        }
        __syncthreads();
        T* o_base = static_cast<T*>(params.o) + batch * params.o_stride_b;
        const int chunk = tid % kChunks;
        constexpr int kRowsPerPass = kThreads / kChunks;
#pragma unroll 2
        for (int pass = 0; pass < kBlockM / kRowsPerPass; ++pass) {
            const int row = tid / kChunks + pass * kRowsPerPass;
            const int32_t pr = p0 + row;
            if (pr < p_end) {
                RowInfo ri = row_info(pr, group, kv_head, ext, params.left_padded, CAUSAL);
                *reinterpret_cast<uint4*>(o_base + (int64_t)ri.position * params.o_stride_s +
                                          (int64_t)ri.head * params.o_stride_h + chunk * 8) =
                    *reinterpret_cast<const uint4*>(smem_aligned + tile_offset<kBlockM>(row, chunk));
            }
        }
    }
#endif  // __CUDA_ARCH_FEAT_SM90_ALL
}

}  // namespace prefill_hopper_detail
}  // namespace cuda
}  // namespace pattn
