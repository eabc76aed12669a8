/* CPU benchmark of libpaddedattn from C: the cases of docs/performance.md
 * (CPU section) and the fixed cost of a 1-token call.
 *
 *   cc -O2 -std=c11 -Inative/include bench/cpu/bench_cpu.c -Lbuild/native -lpaddedattn -lm \
 *      -Wl,-rpath,$PWD/build/native -o build/bench_cpu && build/bench_cpu [reps] [case filter|fixed] [threads]
 *
 * PADDEDATTN_CPU_ISA=scalar|avx2|avx512|avx512_bf16 picks the kernel path
 * (native/cpu/isa.cpp). Prints one line per case: median / min ms, GFLOP/s
 * of real work (4 * d flops per visible (query, key) pair per head: q.k and
 * p.v). */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paddedattn.h"
#include "bench_util.h"

typedef struct {
    const char* name;
    pattn_mask_mode mode;
    int batch, seq, hq, hkv, dim;
    int len_lo, len_hi; /* lengths spread evenly over [lo, hi] */
} bench_case;

static double real_flops(const bench_case* c, const int32_t* lens) {
    double pairs = 0.0;
    const int causal = c->mode == PATTN_MASK_CAUSAL_PADDED_LEFT || c->mode == PATTN_MASK_CAUSAL_PADDED_RIGHT;
    for (int b = 0; b < c->batch; ++b)
        pairs += causal ? 0.5 * (double)lens[b] * (lens[b] + 1) : (double)lens[b] * lens[b];
    return 4.0 * pairs * c->dim * c->hq;
}

static void run_case(const bench_case* c, pattn_dtype dt, int reps, int threads) {
    uint64_t seed = 12345;
    const size_t nq = (size_t)c->batch * c->seq * c->hq * c->dim;
    const size_t nk = (size_t)c->batch * c->seq * c->hkv * c->dim;
    void* q = random_buffer(dt, nq, &seed);
    void* k = random_buffer(dt, nk, &seed);
    void* v = random_buffer(dt, nk, &seed);
    void* o = malloc(nq * 4);
    int32_t* lens = malloc(sizeof(int32_t) * (size_t)c->batch);
    for (int b = 0; b < c->batch; ++b)
        lens[b] = c->batch == 1 ? c->len_hi : c->len_lo + (int)((int64_t)(c->len_hi - c->len_lo) * b / (c->batch - 1));
    const int64_t qs[4] = {c->batch, c->seq, c->hq, c->dim}, ks[4] = {c->batch, c->seq, c->hkv, c->dim};
    const int64_t ls[1] = {c->batch};
    pattn_prefill_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.mask_mode = c->mode;
    p.q = host(q, dt, 4, qs);
    p.k = host(k, dt, 4, ks);
    p.v = host(v, dt, 4, ks);
    p.o = host(o, dt, 4, qs);
    p.q_valid_lens = host(lens, PATTN_DTYPE_I32, 1, ls);
    p.cpu_max_threads = threads;
    double* t = malloc(sizeof(double) * (size_t)reps);
    for (int i = 0; i < 2; ++i) pattn_sequence_prefill(&p, NULL);
    for (int i = 0; i < reps; ++i) {
        const double t0 = now_s();
        const pattn_status s = pattn_sequence_prefill(&p, NULL);
        t[i] = now_s() - t0;
        if (s != PATTN_STATUS_SUCCESS) {
            fprintf(stderr, "%s: %s\n", c->name, pattn_last_error_message());
            exit(1);
        }
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    const double med = t[reps / 2], flops = real_flops(c, lens);
    const char* dn = dt == PATTN_DTYPE_F32 ? "f32" : dt == PATTN_DTYPE_F16 ? "f16" : "bf16";
    printf("%-34s %-4s threads=%d  median %9.3f ms  min %9.3f ms  %7.1f GFLOP/s (%.3f GFLOP)\n", c->name, dn,
           threads, med * 1e3, t[0] * 1e3, flops / med * 1e-9, flops * 1e-9);
    fflush(stdout);
    free(t); free(q); free(k); free(v); free(o); free(lens);
}

/* Fixed cost: a 1-token f32 prefill (b1, s1, 8/2 heads, d128) in a loop. */
static void fixed_cost(int calls) {
    float q[8 * 128], k[2 * 128], v[2 * 128], o[8 * 128];
    for (int i = 0; i < 8 * 128; ++i) q[i] = 0.01f * (float)(i % 17);
    for (int i = 0; i < 2 * 128; ++i) k[i] = v[i] = 0.02f * (float)(i % 13);
    const int64_t qs[4] = {1, 1, 8, 128}, ks[4] = {1, 1, 2, 128};
    pattn_prefill_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.mask_mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
    p.q = host(q, PATTN_DTYPE_F32, 4, qs);
    p.k = host(k, PATTN_DTYPE_F32, 4, ks);
    p.v = host(v, PATTN_DTYPE_F32, 4, ks);
    p.o = host(o, PATTN_DTYPE_F32, 4, qs);
    double best = 1e30, sum = 0.0;
    for (int round = 0; round < 5; ++round) {
        const double t0 = now_s();
        for (int i = 0; i < calls; ++i) pattn_sequence_prefill(&p, NULL);
        const double per = (now_s() - t0) / calls;
        sum += per;
        if (per < best) best = per;
    }
    printf("fixed cost, 1-token f32 prefill (b1 s1 8/2 d128): best %.3f us, mean %.3f us per call (%d calls x 5)\n",
           best * 1e6, sum / 5 * 1e6, calls);
}

int main(int argc, char** argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 21;
    const char* only = argc > 2 ? argv[2] : "";
    const int threads = argc > 3 ? atoi(argv[3]) : 0; /* cpu_max_threads; 0 = all */
    const bench_case cases[] = {
        {"causal-left b8 s512 8/2 d128", PATTN_MASK_CAUSAL_PADDED_LEFT, 8, 512, 8, 2, 128, 23, 512},
        {"bert-right b32 s128 12/12 d64", PATTN_MASK_PADDED, 32, 128, 12, 12, 64, 16, 128},
        {"long-row b1 s4096 32/8 d128", PATTN_MASK_CAUSAL_PADDED_LEFT, 1, 4096, 32, 8, 128, 4096, 4096},
    };
    printf("libpaddedattn %s\n", pattn_version_string());
    if (strcmp(only, "fixed") != 0) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
            if (*only && !strstr(cases[i].name, only)) continue;
            run_case(&cases[i], PATTN_DTYPE_F32, reps, threads);
            if (i == 0) run_case(&cases[i], PATTN_DTYPE_F16, reps, threads);
            /* bf16 on every case: the AVX512_BF16 path (PADDEDATTN_CPU_ISA=avx512_bf16)
               differs from avx512 only there. */
            run_case(&cases[i], PATTN_DTYPE_BF16, reps, threads);
        }
    }
    if (!*only || strcmp(only, "fixed") == 0) fixed_cost(100000);
    return 0;
}
