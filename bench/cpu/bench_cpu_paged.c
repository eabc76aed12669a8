/* CPU benchmark of a paged KV cache against the same tokens in a contiguous
 * cache: prefill of new tokens after a cached prefix, and decode (bf16,
 * 32/8 heads, d128, causal, pages in shuffled order).
 *
 *   cc -O2 -std=c11 -Inative/include bench/cpu/bench_cpu_paged.c -Lbuild/native -lpaddedattn -lm \
 *      -Wl,-rpath,$PWD/build/native -o build/bench_cpu_paged && build/bench_cpu_paged [reps] [case filter] [threads]
 *
 * Prints per case the median / min ms of the paged call and of the
 * contiguous one, and their ratio. */
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
    int decode; /* 1: pattn_decode (one new token); 0: pattn_sequence_prefill */
    int batch, prefix, new_q, hq, hkv, dim, page;
} paged_case;

/* Median seconds of `reps` calls (one warm-up call first). */
static double time_call(const paged_case* c, void* params, int reps, double* best) {
    double* t = malloc(sizeof(double) * (size_t)reps);
    for (int i = -1; i < reps; ++i) {
        const double t0 = now_s();
        const pattn_status s = c->decode ? pattn_decode((const pattn_decode_params*)params, NULL)
                                         : pattn_sequence_prefill((const pattn_prefill_params*)params, NULL);
        if (i >= 0) t[i] = now_s() - t0;
        if (s != PATTN_STATUS_SUCCESS) {
            fprintf(stderr, "%s: %s\n", c->name, pattn_last_error_message());
            exit(1);
        }
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    const double med = t[reps / 2];
    *best = t[0];
    free(t);
    return med;
}

static void run_case(const paged_case* c, int reps, int threads) {
    const pattn_dtype dt = PATTN_DTYPE_BF16;
    uint64_t seed = 777;
    const int kv = c->prefix + c->new_q, ps = c->page;
    const int pages_per_row = (kv + ps - 1) / ps, num_pages = c->batch * pages_per_row;
    const size_t row = (size_t)c->hkv * c->dim, nq = (size_t)c->batch * c->new_q * c->hq * c->dim;
    void* q = random_buffer(dt, nq, &seed);
    void* k = random_buffer(dt, (size_t)c->batch * kv * row, &seed); /* contiguous [b, kv, hkv, d] */
    void* v = random_buffer(dt, (size_t)c->batch * kv * row, &seed);
    uint16_t* kp = malloc((size_t)num_pages * ps * row * 2);
    uint16_t* vp = malloc((size_t)num_pages * ps * row * 2);
    int32_t* table = malloc(sizeof(int32_t) * (size_t)num_pages);
    int32_t* q_lens = malloc(sizeof(int32_t) * (size_t)c->batch);
    int32_t* kv_lens = malloc(sizeof(int32_t) * (size_t)c->batch);
    void* o = malloc(nq * 2);
    /* Pages in a shuffled order; the same tokens as the contiguous cache. */
    for (int i = 0; i < num_pages; ++i) table[i] = i;
    for (int i = num_pages - 1; i > 0; --i) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        const int r = (int)((seed >> 33) % (uint64_t)(i + 1)), x = table[i];
        table[i] = table[r];
        table[r] = x;
    }
    memset(kp, 0xff, (size_t)num_pages * ps * row * 2); /* NaN in unused slots */
    memset(vp, 0xff, (size_t)num_pages * ps * row * 2);
    for (int b = 0; b < c->batch; ++b) {
        q_lens[b] = c->new_q;
        kv_lens[b] = kv;
        for (int j = 0; j < kv; ++j) {
            const size_t dst = ((size_t)table[b * pages_per_row + j / ps] * ps + j % ps) * row;
            memcpy(kp + dst, (uint16_t*)k + ((size_t)b * kv + j) * row, row * 2);
            memcpy(vp + dst, (uint16_t*)v + ((size_t)b * kv + j) * row, row * 2);
        }
    }
    const int64_t qs[4] = {c->batch, c->new_q, c->hq, c->dim}, ks[4] = {c->batch, kv, c->hkv, c->dim};
    const int64_t pgs[4] = {num_pages, ps, c->hkv, c->dim}, ts[2] = {c->batch, pages_per_row}, ls[1] = {c->batch};
    double med[2], best[2];
    for (int paged = 0; paged < 2; ++paged) {
        const pattn_tensor kt = paged ? host(kp, dt, 4, pgs) : host(k, dt, 4, ks);
        const pattn_tensor vt = paged ? host(vp, dt, 4, pgs) : host(v, dt, 4, ks);
        const pattn_tensor table_t = paged ? host(table, PATTN_DTYPE_I32, 2, ts) : host(NULL, PATTN_DTYPE_I32, 2, ts);
        if (c->decode) {
            pattn_decode_params p;
            memset(&p, 0, sizeof p);
            p.struct_size = sizeof p;
            p.padding_side = PATTN_PADDING_RIGHT;
            p.q = host(q, dt, 4, qs);
            p.k_cache = kt;
            p.v_cache = vt;
            p.o = host(o, dt, 4, qs);
            p.kv_valid_lens = host(kv_lens, PATTN_DTYPE_I32, 1, ls);
            p.page_table = table_t;
            p.cpu_max_threads = threads;
            med[paged] = time_call(c, &p, reps, &best[paged]);
        } else {
            pattn_prefill_params p;
            memset(&p, 0, sizeof p);
            p.struct_size = sizeof p;
            p.mask_mode = PATTN_MASK_CAUSAL_PADDED_RIGHT;
            p.q = host(q, dt, 4, qs);
            p.k = kt;
            p.v = vt;
            p.o = host(o, dt, 4, qs);
            p.q_valid_lens = host(q_lens, PATTN_DTYPE_I32, 1, ls);
            p.kv_valid_lens = host(kv_lens, PATTN_DTYPE_I32, 1, ls);
            p.page_table = table_t;
            p.cpu_max_threads = threads;
            med[paged] = time_call(c, &p, reps, &best[paged]);
        }
    }
    printf("%-44s threads=%d  paged median %9.3f ms (min %9.3f)  contiguous median %9.3f ms (min %9.3f)  "
           "paged/contiguous %.2f\n",
           c->name, threads, med[1] * 1e3, best[1] * 1e3, med[0] * 1e3, best[0] * 1e3, med[1] / med[0]);
    fflush(stdout);
    free(q); free(k); free(v); free(kp); free(vp); free(table); free(q_lens); free(kv_lens); free(o);
}

int main(int argc, char** argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const char* only = argc > 2 ? argv[2] : "";
    const int threads = argc > 3 ? atoi(argv[3]) : 0; /* cpu_max_threads; 0 = all */
    const paged_case cases[] = {
        {"prefill b32 prefix1024+128 32/8 d128 page16", 0, 32, 1024, 128, 32, 8, 128, 16},
        {"prefill b4 prefix1024+128 32/8 d128 page16", 0, 4, 1024, 128, 32, 8, 128, 16},
        {"prefill b4 prefix1024+128 32/8 d128 page1", 0, 4, 1024, 128, 32, 8, 128, 1},
        {"decode b32 kv1024 32/8 d128 page16", 1, 32, 1023, 1, 32, 8, 128, 16},
        {"decode b8 kv4096 32/8 d128 page64", 1, 8, 4095, 1, 32, 8, 128, 64},
    };
    printf("libpaddedattn %s, bf16\n", pattn_version_string());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        if (!*only || strstr(cases[i].name, only)) run_case(&cases[i], reps, threads);
    return 0;
}
