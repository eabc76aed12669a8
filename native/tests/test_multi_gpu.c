/*
 * test_multi_gpu.c — two CUDA devices in one process.
 *
 *  - the same prefill, decode and merge on device 0 and device 1 from two
 *    threads at once, each on its own stream, many iterations: every result
 *    equal bit for bit to a single-device run (and that run checked against
 *    the float64 reference of test_util.h);
 *  - tensors split across devices, and tensors on device 1 with a stream of
 *    device 0: DEVICE_MISMATCH naming the argument, output untouched;
 *  - the calling thread's current device (set through the driver API, as
 *    another library would) is left as it was after every call;
 *  - allocation, free and stream creation/destruction on device 1 while
 *    device 0 works.
 * Exits 77 (skipped) with fewer than two GPUs.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

enum { B = 6, SQ = 333, SK = 333, HQ = 8, HK = 2, D = 128, ITERATIONS = 40 };
enum { CACHE = 1000, DQ = 3 };

/* One problem's host data, shared by every device. */
typedef struct problem {
    uint16_t *q, *k, *v;           /* bf16 [B, S, H, D] */
    int32_t lens[B];
    uint16_t *dec_q, *dec_k, *dec_v; /* decode: q [B, DQ, HQ, D], cache [B, CACHE, HK, D] */
    int32_t dec_lens[B];
} problem;

/* Device copies and outputs of one problem on one device. */
typedef struct on_device {
    int32_t device;
    void* stream;
    void *q, *k, *v, *o, *dec_q, *dec_k, *dec_v, *dec_o, *merged;
    float *lse, *dec_lse, *merged_lse;
} on_device;

static const size_t q_count = (size_t)B * SQ * HQ * D, kv_count = (size_t)B * SK * HK * D;
static const size_t dq_count = (size_t)B * DQ * HQ * D, cache_count = (size_t)B * CACHE * HK * D;

static pattn_tensor dev4(void* p, int32_t device, int64_t a, int64_t b, int64_t c, int64_t d) {
    return tu_tensor_4d(p, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, device, a, b, c, d);
}
static pattn_tensor lse3(void* p, int32_t device, int64_t a, int64_t b, int64_t c) {
    return tu_tensor_3d(p, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, device, a, b, c);
}

static pattn_prefill_params prefill_of(const on_device* x, int32_t* lens) {
    pattn_prefill_params p = tu_prefill_params(
        PATTN_MASK_CAUSAL_PADDED_LEFT, dev4(x->q, x->device, B, SQ, HQ, D), dev4(x->k, x->device, B, SK, HK, D),
        dev4(x->v, x->device, B, SK, HK, D), dev4(x->o, x->device, B, SQ, HQ, D), lse3(x->lse, x->device, B, SQ, HQ));
    p.q_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    return p;
}

static pattn_decode_params decode_of(const on_device* x, int32_t* lens) {
    pattn_decode_params p = tu_decode_params(
        PATTN_PADDING_LEFT, dev4(x->dec_q, x->device, B, DQ, HQ, D), dev4(x->dec_k, x->device, B, CACHE, HK, D),
        dev4(x->dec_v, x->device, B, CACHE, HK, D), dev4(x->dec_o, x->device, B, DQ, HQ, D),
        lse3(x->dec_lse, x->device, B, DQ, HQ));
    p.kv_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    p.num_splits = 3; /* split-KV with its workspace and combine kernel */
    return p;
}

/* Merge of the prefill result with itself: o unchanged, lse + ln 2. */
static pattn_merge_params merge_of(const on_device* x) {
    pattn_merge_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.o_a = p.o_b = dev4(x->o, x->device, B, SQ, HQ, D);
    p.lse_a = p.lse_b = lse3(x->lse, x->device, B, SQ, HQ);
    p.o_out = dev4(x->merged, x->device, B, SQ, HQ, D);
    p.lse_out = lse3(x->merged_lse, x->device, B, SQ, HQ);
    return p;
}

static int upload_problem(const problem* pr, on_device* x, int32_t device) {
    memset(x, 0, sizeof *x);
    x->device = device;
    if (pattn_stream_create(device, &x->stream) != PATTN_STATUS_SUCCESS) return 0;
    x->q = tu_upload(pr->q, q_count * 2, device);
    x->k = tu_upload(pr->k, kv_count * 2, device);
    x->v = tu_upload(pr->v, kv_count * 2, device);
    x->o = tu_upload(NULL, q_count * 2, device);
    x->merged = tu_upload(NULL, q_count * 2, device);
    x->lse = (float*)tu_upload(NULL, (size_t)B * SQ * HQ * 4, device);
    x->merged_lse = (float*)tu_upload(NULL, (size_t)B * SQ * HQ * 4, device);
    x->dec_q = tu_upload(pr->dec_q, dq_count * 2, device);
    x->dec_k = tu_upload(pr->dec_k, cache_count * 2, device);
    x->dec_v = tu_upload(pr->dec_v, cache_count * 2, device);
    x->dec_o = tu_upload(NULL, dq_count * 2, device);
    x->dec_lse = (float*)tu_upload(NULL, (size_t)B * DQ * HQ * 4, device);
    return x->q && x->k && x->v && x->o && x->merged && x->lse && x->merged_lse && x->dec_q && x->dec_k &&
           x->dec_v && x->dec_o && x->dec_lse;
}

static void free_on_device(on_device* x) {
    void* all[] = {x->q, x->k, x->v, x->o, x->merged, x->lse, x->merged_lse,
                   x->dec_q, x->dec_k, x->dec_v, x->dec_o, x->dec_lse};
    size_t i;
    for (i = 0; i < sizeof all / sizeof all[0]; ++i) pattn_device_free(all[i]);
    pattn_stream_destroy(x->stream);
}

/* Every output of one device, downloaded into one host block. */
typedef struct results {
    uint16_t* o;
    float* lse;
    uint16_t* merged;
    float* merged_lse;
    uint16_t* dec_o;
    float* dec_lse;
} results;

static void results_alloc(results* r) {
    r->o = (uint16_t*)malloc(q_count * 2);
    r->merged = (uint16_t*)malloc(q_count * 2);
    r->lse = (float*)malloc((size_t)B * SQ * HQ * 4);
    r->merged_lse = (float*)malloc((size_t)B * SQ * HQ * 4);
    r->dec_o = (uint16_t*)malloc(dq_count * 2);
    r->dec_lse = (float*)malloc((size_t)B * DQ * HQ * 4);
}

static void results_free(results* r) {
    free(r->o); free(r->merged); free(r->lse); free(r->merged_lse); free(r->dec_o); free(r->dec_lse);
}

static int results_equal(const results* a, const results* b) {
    return memcmp(a->o, b->o, q_count * 2) == 0 && memcmp(a->merged, b->merged, q_count * 2) == 0 &&
           memcmp(a->lse, b->lse, (size_t)B * SQ * HQ * 4) == 0 &&
           memcmp(a->merged_lse, b->merged_lse, (size_t)B * SQ * HQ * 4) == 0 &&
           memcmp(a->dec_o, b->dec_o, dq_count * 2) == 0 && memcmp(a->dec_lse, b->dec_lse, (size_t)B * DQ * HQ * 4) == 0;
}

/* Poison, run prefill + merge + decode on x's stream, download. */
static pattn_status run_once(const problem* pr, on_device* x, results* r) {
    int32_t lens[B], dec_lens[B];
    pattn_prefill_params pp;
    pattn_decode_params dp;
    pattn_merge_params mp;
    pattn_status s;
    memcpy(lens, pr->lens, sizeof lens);
    memcpy(dec_lens, pr->dec_lens, sizeof dec_lens);
    pp = prefill_of(x, lens);
    dp = decode_of(x, dec_lens);
    mp = merge_of(x);
    if ((s = pattn_memset_async(x->o, 0xFF, q_count * 2, x->stream)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = pattn_memset_async(x->dec_o, 0xFF, dq_count * 2, x->stream)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = pattn_sequence_prefill(&pp, x->stream)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = pattn_merge_states(&mp, x->stream)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = pattn_decode(&dp, x->stream)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = pattn_stream_synchronize(x->stream)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = tu_download(r->o, x->o, q_count * 2)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = tu_download(r->lse, x->lse, (size_t)B * SQ * HQ * 4)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = tu_download(r->merged, x->merged, q_count * 2)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = tu_download(r->merged_lse, x->merged_lse, (size_t)B * SQ * HQ * 4)) != PATTN_STATUS_SUCCESS) return s;
    if ((s = tu_download(r->dec_o, x->dec_o, dq_count * 2)) != PATTN_STATUS_SUCCESS) return s;
    return tu_download(r->dec_lse, x->dec_lse, (size_t)B * DQ * HQ * 4);
}

typedef struct worker {
    const problem* pr;
    on_device* x;
    const results* expected;
    int mismatches;
    int errors;
} worker;

static void* repeat_and_compare(void* arg) {
    worker* w = (worker*)arg;
    results r;
    int it;
    results_alloc(&r);
    for (it = 0; it < ITERATIONS; ++it) {
        if (run_once(w->pr, w->x, &r) != PATTN_STATUS_SUCCESS) { ++w->errors; break; }
        if (!results_equal(&r, w->expected)) ++w->mismatches;
    }
    results_free(&r);
    return NULL;
}

/* Allocation churn on one device while the other computes. */
typedef struct churn {
    int32_t device;
    volatile int* stop;
    int errors;
    int rounds;
} churn;

static void* churn_device(void* arg) {
    churn* c = (churn*)arg;
    while (!*c->stop) {
        void *p = NULL, *s = NULL;
        if (pattn_device_malloc(c->device, (uint64_t)(8u << 20), &p) != PATTN_STATUS_SUCCESS) ++c->errors;
        if (pattn_stream_create(c->device, &s) != PATTN_STATUS_SUCCESS) ++c->errors;
        if (p && s && pattn_memset_async(p, 1, 8u << 20, s) != PATTN_STATUS_SUCCESS) ++c->errors;
        if (s && pattn_stream_synchronize(s) != PATTN_STATUS_SUCCESS) ++c->errors;
        if (pattn_stream_destroy(s) != PATTN_STATUS_SUCCESS) ++c->errors;
        if (pattn_device_free(p) != PATTN_STATUS_SUCCESS) ++c->errors;
        ++c->rounds;
    }
    return NULL;
}

/* The driver API, loaded at run time, to set and read the thread's current
 * device the way another CUDA library would. */
typedef int (*cu_init_fn)(unsigned);
typedef int (*cu_primary_retain_fn)(void**, int);
typedef int (*cu_ctx_set_fn)(void*);
typedef int (*cu_ctx_get_device_fn)(int*);
static cu_ctx_set_fn cu_ctx_set;
static cu_ctx_get_device_fn cu_ctx_get_device;
static void* primary[2];

static int load_driver(void) {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    cu_init_fn init;
    cu_primary_retain_fn retain;
    if (!lib) return 0;
    init = (cu_init_fn)dlsym(lib, "cuInit");
    retain = (cu_primary_retain_fn)dlsym(lib, "cuDevicePrimaryCtxRetain");
    cu_ctx_set = (cu_ctx_set_fn)dlsym(lib, "cuCtxSetCurrent");
    cu_ctx_get_device = (cu_ctx_get_device_fn)dlsym(lib, "cuCtxGetDevice");
    if (!init || !retain || !cu_ctx_set || !cu_ctx_get_device || init(0) != 0) return 0;
    return retain(&primary[0], 0) == 0 && retain(&primary[1], 1) == 0;
}

static int current_device(void) {
    int d = -1;
    return cu_ctx_get_device(&d) == 0 ? d : -1;
}

int main(void) {
    problem pr;
    on_device x0, x1;
    results single0, single1;
    tu_rng rng = tu_rng_make(20261203);
    int32_t n = 0, b;
    if (pattn_device_count(&n) != PATTN_STATUS_SUCCESS || n < 2) {
        printf("test_multi_gpu: %d CUDA device(s), needs 2: skipped\n", (int)n);
        return TEST_SKIP;
    }

    pr.q = (uint16_t*)malloc(q_count * 2);
    pr.k = (uint16_t*)malloc(kv_count * 2);
    pr.v = (uint16_t*)malloc(kv_count * 2);
    pr.dec_q = (uint16_t*)malloc(dq_count * 2);
    pr.dec_k = (uint16_t*)malloc(cache_count * 2);
    pr.dec_v = (uint16_t*)malloc(cache_count * 2);
    tu_fill_uniform(pr.q, PATTN_DTYPE_BF16, q_count, &rng, -3.0f, 3.0f);
    tu_fill_uniform(pr.k, PATTN_DTYPE_BF16, kv_count, &rng, -1.0f, 1.0f);
    tu_fill_uniform(pr.v, PATTN_DTYPE_BF16, kv_count, &rng, -1.0f, 1.0f);
    tu_fill_uniform(pr.dec_q, PATTN_DTYPE_BF16, dq_count, &rng, -3.0f, 3.0f);
    tu_fill_uniform(pr.dec_k, PATTN_DTYPE_BF16, cache_count, &rng, -1.0f, 1.0f);
    tu_fill_uniform(pr.dec_v, PATTN_DTYPE_BF16, cache_count, &rng, -1.0f, 1.0f);
    tu_pick_lengths(&rng, pr.lens, B, SQ);
    for (b = 0; b < B; ++b) pr.dec_lens[b] = DQ + tu_rng_int(&rng, 0, CACHE - DQ);
    {
        /* NaN in the padding must not leak on either device. */
        pattn_tensor hq = tu_tensor_4d(pr.q, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
        pattn_tensor hk = tu_tensor_4d(pr.k, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SK, HK, D);
        pattn_tensor hv = tu_tensor_4d(pr.v, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SK, HK, D);
        tu_poison_padding(&hq, pr.lens, 1, NAN);
        tu_poison_padding(&hk, pr.lens, 1, NAN);
        tu_poison_padding(&hv, pr.lens, 1, NAN);
    }

    CHECK(upload_problem(&pr, &x0, 0));
    CHECK(upload_problem(&pr, &x1, 1));
    if (tu_failures) return tu_finish("test_multi_gpu");

    /* Single-device runs, one after the other; device 0's checked against the
       float64 reference. */
    results_alloc(&single0);
    results_alloc(&single1);
    CHECK_OK(run_once(&pr, &x0, &single0));
    CHECK_OK(run_once(&pr, &x1, &single1));
    {
        tu_ref_problem rp;
        double* ref_o = (double*)malloc(sizeof(double) * q_count);
        double* ref_lse = (double*)malloc(sizeof(double) * (size_t)B * SQ * HQ);
        memset(&rp, 0, sizeof rp);
        rp.dtype = PATTN_DTYPE_BF16;
        rp.batch = B; rp.q_len = SQ; rp.kv_len = SK;
        rp.num_qo_heads = HQ; rp.num_kv_heads = HK; rp.head_dim = D;
        rp.q = tu_tensor_4d(pr.q, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
        rp.k = tu_tensor_4d(pr.k, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SK, HK, D);
        rp.v = tu_tensor_4d(pr.v, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SK, HK, D);
        rp.q_lens = pr.lens;
        rp.causal = 1;
        rp.left_padded = 1;
        tu_reference_attention(&rp, ref_o, ref_lse);
        {
            pattn_tensor ho = tu_tensor_4d(single0.o, PATTN_DTYPE_BF16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
            pattn_tensor hl = tu_tensor_3d(single0.lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ);
            tu_check_attention("device 0 prefill vs float64", &rp, &ho, &hl, ref_o, ref_lse);
        }
        free(ref_o);
        free(ref_lse);
    }
    CHECK_MSG(results_equal(&single0, &single1), "device 0 and device 1 differ on the same inputs");

    /* Both devices at once from two threads, with allocation churn on the
       other device while each works. */
    {
        pthread_t t0, t1, tc0, tc1;
        worker w0 = {&pr, &x0, &single0, 0, 0}, w1 = {&pr, &x1, &single1, 0, 0};
        volatile int stop = 0;
        churn c0 = {0, &stop, 0, 0}, c1 = {1, &stop, 0, 0};
        pthread_create(&tc1, NULL, churn_device, &c1);
        pthread_create(&tc0, NULL, churn_device, &c0);
        pthread_create(&t0, NULL, repeat_and_compare, &w0);
        pthread_create(&t1, NULL, repeat_and_compare, &w1);
        pthread_join(t0, NULL);
        pthread_join(t1, NULL);
        stop = 1;
        pthread_join(tc0, NULL);
        pthread_join(tc1, NULL);
        CHECK_MSG(w0.errors == 0 && w1.errors == 0, "concurrent calls failed (%d, %d)", w0.errors, w1.errors);
        CHECK_MSG(w0.mismatches == 0 && w1.mismatches == 0,
                  "concurrent results differ from the single-device run (%d, %d of %d)", w0.mismatches,
                  w1.mismatches, ITERATIONS);
        CHECK_MSG(c0.errors == 0 && c1.errors == 0 && c0.rounds > 0 && c1.rounds > 0,
                  "allocation churn: %d/%d errors in %d/%d rounds", c0.errors, c1.errors, c0.rounds, c1.rounds);
    }

    /* Mixed placement is refused before anything runs. */
    {
        int32_t lens[B];
        on_device mixed = x1;
        pattn_prefill_params p;
        uint16_t* out = (uint16_t*)malloc(q_count * 2);
        memcpy(lens, pr.lens, sizeof lens);
        CHECK_OK(pattn_memset_async(x1.o, 0xFF, q_count * 2, x1.stream));
        CHECK_OK(pattn_stream_synchronize(x1.stream));
        mixed.k = x0.k; /* k on device 0, the rest on device 1 */
        p = prefill_of(&mixed, lens);
        p.k.device_id = 0;
        CHECK_STATUS(pattn_sequence_prefill(&p, x1.stream), PATTN_STATUS_DEVICE_MISMATCH);
        CHECK_ERROR_MENTIONS("k");
        p = prefill_of(&mixed, lens); /* k's descriptor says device 1, its memory is device 0's */
        CHECK_STATUS(pattn_sequence_prefill(&p, x1.stream), PATTN_STATUS_DEVICE_MISMATCH);
        CHECK_ERROR_MENTIONS("k.data");
        p = prefill_of(&x1, lens); /* everything on device 1, stream of device 0 */
        CHECK_STATUS(pattn_sequence_prefill(&p, x0.stream), PATTN_STATUS_DEVICE_MISMATCH);
        CHECK_ERROR_MENTIONS("stream");
        {
            int32_t dl[B];
            pattn_decode_params d;
            memcpy(dl, pr.dec_lens, sizeof dl);
            d = decode_of(&x1, dl);
            CHECK_STATUS(pattn_decode(&d, x0.stream), PATTN_STATUS_DEVICE_MISMATCH);
        }
        {
            pattn_merge_params m = merge_of(&x1);
            CHECK_STATUS(pattn_merge_states(&m, x0.stream), PATTN_STATUS_DEVICE_MISMATCH);
        }
        CHECK_OK(pattn_device_synchronize(1));
        CHECK_OK(tu_download(out, x1.o, q_count * 2));
        {
            size_t i, written = 0;
            for (i = 0; i < q_count; ++i) written += out[i] != 0xFFFF;
            CHECK_MSG(written == 0, "a refused call wrote %zu elements of o", written);
        }
        free(out);
    }

    /* The caller's current device survives every call, on either device. */
    if (load_driver()) {
        int32_t lens[B], dl[B];
        int cur;
        for (cur = 0; cur < 2; ++cur) {
            const on_device* other = cur == 0 ? &x1 : &x0;
            pattn_prefill_params p;
            pattn_decode_params d;
            pattn_merge_params m;
            memcpy(lens, pr.lens, sizeof lens);
            memcpy(dl, pr.dec_lens, sizeof dl);
            p = prefill_of(other, lens);
            d = decode_of(other, dl);
            m = merge_of(other);
            CHECK(cu_ctx_set(primary[cur]) == 0);
            CHECK_OK(pattn_sequence_prefill(&p, other->stream));
            CHECK_MSG(current_device() == cur, "prefill left device %d current, expected %d", current_device(), cur);
            CHECK_OK(pattn_decode(&d, other->stream));
            CHECK_MSG(current_device() == cur, "decode left device %d current, expected %d", current_device(), cur);
            CHECK_OK(pattn_merge_states(&m, other->stream));
            CHECK_MSG(current_device() == cur, "merge left device %d current, expected %d", current_device(), cur);
            CHECK_OK(pattn_stream_synchronize(other->stream));
            CHECK_MSG(current_device() == cur, "stream sync left device %d current, expected %d", current_device(), cur);
        }
    } else {
        CHECK_MSG(0, "could not load the CUDA driver API (libcuda.so.1) to check the current device");
    }

    results_free(&single0);
    results_free(&single1);
    free_on_device(&x0);
    free_on_device(&x1);
    free(pr.q); free(pr.k); free(pr.v); free(pr.dec_q); free(pr.dec_k); free(pr.dec_v);
    return tu_finish("test_multi_gpu");
}
