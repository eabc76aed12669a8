/* Helpers shared by the CPU benchmarks (bench_cpu.c, bench_cpu_paged.c):
 * wall clock, a double comparator for qsort, a contiguous host tensor
 * descriptor, f32 -> bf16 / f16 rounding and a seeded random buffer.
 * Header-only (static functions): each benchmark is one `cc` command. */
#ifndef PADDEDATTN_BENCH_CPU_UTIL_H
#define PADDEDATTN_BENCH_CPU_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paddedattn.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static pattn_tensor host(void* data, pattn_dtype dt, int ndim, const int64_t* shape) {
    pattn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dt;
    t.device_type = PATTN_DEVICE_CPU;
    t.ndim = ndim;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; --i) {
        t.shape[i] = shape[i];
        t.strides[i] = stride;
        stride *= shape[i];
    }
    return t;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static uint16_t f32_to_f16(float f) { /* inputs in [-1, 1]: normal or zero halves */
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a < 0x38800000u) return (uint16_t)sign;
    uint32_t h = ((a >> 23) - 112u) << 10 | ((a >> 13) & 0x3FFu);
    if ((a & 0x1FFFu) > 0x1000u || ((a & 0x1FFFu) == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

static void* random_buffer(pattn_dtype dt, size_t n, uint64_t* seed) {
    const size_t es = dt == PATTN_DTYPE_F32 ? 4 : 2;
    void* p = malloc(n * es);
    for (size_t i = 0; i < n; ++i) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        const float x = (float)((double)(*seed >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
        if (dt == PATTN_DTYPE_F32) ((float*)p)[i] = x;
        else if (dt == PATTN_DTYPE_F16) ((uint16_t*)p)[i] = f32_to_f16(x);
        else ((uint16_t*)p)[i] = f32_to_bf16(x);
    }
    return p;
}

#endif
