/* Timing helpers of the host-time benchmarks (bench_host_time.cpp,
 * bench_launch_cost.cu): a clock in microseconds and the median of samples. */
#pragma once

#include <stdlib.h>
#include <time.h>

/* Microseconds on clock `id` (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID). */
static inline double clock_us(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec * 1e6 + 1e-3 * (double)t.tv_nsec;
}

static inline int cmp_double(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static inline double median(double* v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}
