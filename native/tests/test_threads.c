/*
 * test_threads.c — concurrent calls on the CPU backend: 8 threads, each
 * running prefill, decode and merge calls on its own inputs (and failing
 * calls, whose thread-local message and argument must stay its own), must
 * give bit for bit what the same calls give one at a time. Built also with
 * ThreadSanitizer by build.sh test (data races are fatal there).
 */
#include <pthread.h>

#include "test_util.h"

enum { THREADS = 8, ROUNDS = 6, B = 3, SQ = 19, SK = 23, HQ = 4, HK = 2, D = 32 };

typedef struct job {
    int index;
    uint16_t q[B * SQ * HQ * D], k[B * SK * HK * D], v[B * SK * HK * D];
    uint16_t o[B * SQ * HQ * D], o_serial[B * SQ * HQ * D];
    float lse[B * SQ * HQ], lse_serial[B * SQ * HQ];
    uint16_t mo[SQ * HQ * D], mo_serial[SQ * HQ * D];
    float ml[SQ * HQ], ml_serial[SQ * HQ];
    int32_t qlens[B], kvlens[B];
    int failures;
} job;

static job g_jobs[THREADS];

static pattn_prefill_params prefill_of(job* j, uint16_t* o, float* lse) {
    pattn_prefill_params p = tu_prefill_params(
        (pattn_mask_mode)(j->index % 4), tu_tensor_4d(j->q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D),
        tu_tensor_4d(j->k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(j->v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D),
        tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ));
    p.q_valid_lens = tu_tensor_1d(j->qlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    p.kv_valid_lens = tu_tensor_1d(j->kvlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    return p;
}

/* Merge of the first batch row's serial output with itself, weighted by the
 * lse of the first and second rows: [SQ, HQ, D]. */
static pattn_merge_params merge_of(job* j, uint16_t* mo, float* ml) {
    pattn_merge_params m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.o_a = tu_tensor_3d(j->o_serial, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, SQ, HQ, D);
    m.o_b = m.o_a;
    m.o_out = tu_tensor_3d(mo, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, SQ, HQ, D);
    m.lse_a = tu_tensor_nd(j->lse_serial, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
    m.lse_b = tu_tensor_nd(j->lse_serial + SQ * HQ, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
    m.lse_out = tu_tensor_nd(ml, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
    return m;
}

static void* worker(void* arg) {
    job* j = (job*)arg;
    int r;
    for (r = 0; r < ROUNDS; ++r) {
        pattn_prefill_params p = prefill_of(j, j->o, j->lse);
        pattn_merge_params m;
        /* A failing call: its message and argument are this thread's. */
        p.softmax_scale = -1.0f - (float)j->index;
        if (pattn_sequence_prefill(&p, NULL) != PATTN_STATUS_INVALID_ARGUMENT ||
            strcmp(pattn_last_error_argument(), "softmax_scale") != 0 ||
            strstr(pattn_last_error_message(), "is negative") == NULL)
            j->failures++;
        p.softmax_scale = 0.0f;
        tu_fill_nan(j->o, PATTN_DTYPE_F16, sizeof j->o / 2);
        if (pattn_sequence_prefill(&p, NULL) != PATTN_STATUS_SUCCESS) j->failures++;
        if (memcmp(j->o, j->o_serial, sizeof j->o) != 0 || memcmp(j->lse, j->lse_serial, sizeof j->lse) != 0)
            j->failures++;
        m = merge_of(j, j->mo, j->ml);
        if (pattn_merge_states(&m, NULL) != PATTN_STATUS_SUCCESS) j->failures++;
        if (memcmp(j->mo, j->mo_serial, sizeof j->mo) != 0 || memcmp(j->ml, j->ml_serial, sizeof j->ml) != 0)
            j->failures++;
    }
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    int t;
    for (t = 0; t < THREADS; ++t) {
        job* j = &g_jobs[t];
        tu_rng rng = tu_rng_make(900 + (uint64_t)t);
        pattn_prefill_params p;
        pattn_merge_params m;
        j->index = t;
        tu_fill_uniform(j->q, PATTN_DTYPE_F16, sizeof j->q / 2, &rng, -1, 1);
        tu_fill_uniform(j->k, PATTN_DTYPE_F16, sizeof j->k / 2, &rng, -1, 1);
        tu_fill_uniform(j->v, PATTN_DTYPE_F16, sizeof j->v / 2, &rng, -1, 1);
        tu_pick_lengths(&rng, j->qlens, B, SQ);
        tu_pick_lengths(&rng, j->kvlens, B, SK);
        p = prefill_of(j, j->o_serial, j->lse_serial);
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
        m = merge_of(j, j->mo_serial, j->ml_serial);
        CHECK_OK(pattn_merge_states(&m, NULL));
    }
    for (t = 0; t < THREADS; ++t) CHECK(pthread_create(&threads[t], NULL, worker, &g_jobs[t]) == 0);
    for (t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
    for (t = 0; t < THREADS; ++t)
        CHECK_MSG(g_jobs[t].failures == 0, "thread %d: %d concurrent call(s) differ from the serial ones", t,
                  g_jobs[t].failures);
    return tu_finish("test_threads");
}
