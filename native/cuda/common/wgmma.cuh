// wgmma (sm_90a) wrappers shared by the Hopper kernels: shared-memory matrix
// descriptors, fence / commit / wait, and wgmma.mma_async m64nNk16 with f32
// accumulators for f16 and bf16 (A from shared memory or from registers).
// Everything sits inside __CUDA_ARCH_FEAT_SM90_ALL: other device passes see
// no declarations (the kernels compile an empty body there).
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace pattn {
namespace cuda {

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
// Waits until at most N wgmma groups of this warp are pending (the older ones are done).
template <int N>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// cp.async writes (generic proxy) made visible to wgmma reads (async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving register reads/writes across wgmma issue and wait.
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
// The same for A fragments held in registers (read by wgmma until its wait).
template <int M, int N>
__device__ __forceinline__ void fence_regs(uint32_t (&r)[M][N]) {
#pragma unroll
    for (int i = 0; i < M; ++i)
#pragma unroll
        for (int j = 0; j < N; ++j) asm volatile("" : "+r"(r[i][j])::"memory");
}

// D[64xN] (+)= A[64x16] * B[16xN]: ss reads A and B K-major from shared
// memory; rs takes A from registers and B N-major from shared memory. One
// specialisation per N (the accumulator count is part of the asm); the f16
// and bf16 instructions differ only in the operand type's name.
template <typename T, int N> struct Wgmma;
// Accumulator register lists per N (the asm of each shape names every register).
#define PATTN_WGMMA_N48_REGS "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23}"
#define PATTN_WGMMA_N48_OUTS(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23])
#define PATTN_WGMMA_N48_SS_OPERANDS "%24, %25"
#define PATTN_WGMMA_N48_SS_PRED "%26"
#define PATTN_WGMMA_N48_RS_OPERANDS "{%24, %25, %26, %27}, %28"
#define PATTN_WGMMA_N48_RS_PRED "%29"
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
#define PATTN_WGMMA_N176_REGS "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87}"
#define PATTN_WGMMA_N176_OUTS(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87])
#define PATTN_WGMMA_N176_SS_OPERANDS "%88, %89"
#define PATTN_WGMMA_N176_SS_PRED "%90"
#define PATTN_WGMMA_N176_RS_OPERANDS "{%88, %89, %90, %91}, %92"
#define PATTN_WGMMA_N176_RS_PRED "%93"
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

PATTN_DEFINE_WGMMA(__half, "f16", 48)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 48)
PATTN_DEFINE_WGMMA(__half, "f16", 64)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 64)
PATTN_DEFINE_WGMMA(__half, "f16", 128)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 128)
PATTN_DEFINE_WGMMA(__half, "f16", 176)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 176)
PATTN_DEFINE_WGMMA(__half, "f16", 256)
PATTN_DEFINE_WGMMA(__nv_bfloat16, "bf16", 256)
#undef PATTN_DEFINE_WGMMA
#undef PATTN_WGMMA_N48_REGS
#undef PATTN_WGMMA_N48_OUTS
#undef PATTN_WGMMA_N48_SS_OPERANDS
#undef PATTN_WGMMA_N48_SS_PRED
#undef PATTN_WGMMA_N48_RS_OPERANDS
#undef PATTN_WGMMA_N48_RS_PRED
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
#undef PATTN_WGMMA_N176_REGS
#undef PATTN_WGMMA_N176_OUTS
#undef PATTN_WGMMA_N176_SS_OPERANDS
#undef PATTN_WGMMA_N176_SS_PRED
#undef PATTN_WGMMA_N176_RS_OPERANDS
#undef PATTN_WGMMA_N176_RS_PRED
#undef PATTN_WGMMA_N256_REGS
#undef PATTN_WGMMA_N256_OUTS
#undef PATTN_WGMMA_N256_SS_OPERANDS
#undef PATTN_WGMMA_N256_SS_PRED
#undef PATTN_WGMMA_N256_RS_OPERANDS
#undef PATTN_WGMMA_N256_RS_PRED

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

}  // namespace cuda
}  // namespace pattn
