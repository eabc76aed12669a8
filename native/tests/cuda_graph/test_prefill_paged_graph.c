/*
 * test_prefill_paged_graph.c — paged prefill (new tokens after a cached
 * prefix) captured into a CUDA graph and replayed with other lengths: the
 * valid lengths and the page table live in device memory, so each replay
 * reads their current values (a chunked-prefill loop: each step adds a few
 * new tokens per row behind a growing prefix). Each replay is compared with
 * the CPU backend on the same inputs (itself checked against a float64
 * reference by test_prefill_paged). Capture mode global refuses any
 * synchronization inside the captured call; NaN in the pages no row uses yet
 * and in the padding query rows must never reach an output. Links the CUDA
 * runtime itself (built only with the CUDA backend); exits 77 without a GPU.
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"
#include "test_util.h"

#define CUDA_OK(call)                                                                        \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        CHECK_MSG(e_ == cudaSuccess, "%s failed: %s", #call, cudaGetErrorString(e_));         \
    } while (0)

enum { B = 3, QL = 40, HQ = 8, HK = 2, D = 128, PS = 16, MAXP = 16, PAGES = B * MAXP + 1 };

int main(void) {
    const pattn_dtype dt = PATTN_DTYPE_BF16;
    const size_t es = 2, page_elems = (size_t)PS * HK * D, q_elems = (size_t)B * QL * HQ * D;
    const size_t lse_elems = (size_t)B * QL * HQ;
    int32_t table[B * MAXP], q_lens[B], kv_lens[B];
    /* New tokens and total keys per row at each step (kv - q: the cached prefix). */
    static const int32_t new_q[3][B] = {{40, 7, 1}, {33, 0, 40}, {1, 40, 17}};
    static const int32_t total[3][B] = {{40, 100, 31}, {150, 100, 200}, {151, 240, 239}};
    uint16_t *q = malloc(q_elems * es), *k = malloc(PAGES * page_elems * es), *v = malloc(PAGES * page_elems * es);
    uint16_t *o_gpu = malloc(q_elems * es), *o_cpu = malloc(q_elems * es);
    float *lse_gpu = malloc(lse_elems * 4), *lse_cpu = malloc(lse_elems * 4);
    void *qd, *kd, *vd, *od, *lsed, *td, *qld, *kld;
    cudaStream_t stream;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    pattn_prefill_params p, host;
    tu_rng rng = tu_rng_make(5151);
    int b, e, step;
    if (!tu_have_gpu()) {
        printf("test_prefill_paged_graph: no GPU, skipped\n");
        return TEST_SKIP;
    }
    /* Rows 1 and 2 share row 0's first page; the rest are distinct, in reverse order. */
    for (b = 0; b < B; ++b)
        for (e = 0; e < MAXP; ++e) table[b * MAXP + e] = (b > 0 && e == 0) ? PAGES - 1 : PAGES - 2 - (b * MAXP + e);
    table[0] = PAGES - 1;
    tu_fill_uniform(k, dt, PAGES * page_elems, &rng, -2.0f, 2.0f);
    tu_fill_uniform(v, dt, PAGES * page_elems, &rng, -1.0f, 1.0f);
    /* Page 0 sits only in row 2's last entry, past every length it takes: NaN. */
    tu_fill_nan(k, dt, page_elems);
    tu_fill_nan(v, dt, page_elems);
    memcpy(q_lens, new_q[0], sizeof q_lens);
    memcpy(kv_lens, total[0], sizeof kv_lens);

    qd = tu_upload(NULL, q_elems * es, 0);
    kd = tu_upload(k, PAGES * page_elems * es, 0);
    vd = tu_upload(v, PAGES * page_elems * es, 0);
    od = tu_upload(NULL, q_elems * es, 0);
    lsed = tu_upload(NULL, lse_elems * 4, 0);
    td = tu_upload(table, sizeof table, 0);
    qld = tu_upload(q_lens, sizeof q_lens, 0);
    kld = tu_upload(kv_lens, sizeof kv_lens, 0);
    CHECK(qd && kd && vd && od && lsed && td && qld && kld);
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

    p = tu_prefill_params(PATTN_MASK_CAUSAL_PADDED_RIGHT, tu_tensor_4d(qd, dt, PATTN_DEVICE_CUDA, 0, B, QL, HQ, D),
                          tu_tensor_4d(kd, dt, PATTN_DEVICE_CUDA, 0, PAGES, PS, HK, D),
                          tu_tensor_4d(vd, dt, PATTN_DEVICE_CUDA, 0, PAGES, PS, HK, D),
                          tu_tensor_4d(od, dt, PATTN_DEVICE_CUDA, 0, B, QL, HQ, D),
                          tu_tensor_3d(lsed, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, B, QL, HQ));
    p.page_table = tu_tensor_nd(td, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, 2, (int64_t[]){B, MAXP});
    p.q_valid_lens = tu_tensor_1d(qld, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, B);
    p.kv_valid_lens = tu_tensor_1d(kld, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, B);

    /* One eager call first, as a serving loop makes before it captures. */
    CHECK_OK(pattn_sequence_prefill(&p, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    CHECK_OK(pattn_sequence_prefill(&p, stream));
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CUDA_OK(cudaGraphInstantiateWithFlags(&exec, graph, 0));

    host = p;
    host.q = tu_tensor_4d(q, dt, PATTN_DEVICE_CPU, 0, B, QL, HQ, D);
    host.k = tu_tensor_4d(k, dt, PATTN_DEVICE_CPU, 0, PAGES, PS, HK, D);
    host.v = tu_tensor_4d(v, dt, PATTN_DEVICE_CPU, 0, PAGES, PS, HK, D);
    host.o = tu_tensor_4d(o_cpu, dt, PATTN_DEVICE_CPU, 0, B, QL, HQ, D);
    host.lse = tu_tensor_3d(lse_cpu, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, QL, HQ);
    host.page_table = tu_tensor_nd(table, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 2, (int64_t[]){B, MAXP});
    host.q_valid_lens = tu_tensor_1d(q_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    host.kv_valid_lens = tu_tensor_1d(kv_lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);

    for (step = 0; step < 3; ++step) {
        double worst = 0.0, worst_lse = 0.0;
        size_t i;
        memcpy(q_lens, new_q[step], sizeof q_lens);
        memcpy(kv_lens, total[step], sizeof kv_lens);
        /* Fresh queries each step, NaN in the padding rows. */
        tu_fill_nan(q, dt, q_elems);
        for (b = 0; b < B; ++b)
            tu_fill_uniform(q + (size_t)b * QL * HQ * D, dt, (size_t)q_lens[b] * HQ * D, &rng, -2.0f, 2.0f);
        CUDA_OK(cudaMemcpyAsync(qd, q, q_elems * es, cudaMemcpyHostToDevice, stream));
        CUDA_OK(cudaMemcpyAsync(qld, q_lens, sizeof q_lens, cudaMemcpyHostToDevice, stream));
        CUDA_OK(cudaMemcpyAsync(kld, kv_lens, sizeof kv_lens, cudaMemcpyHostToDevice, stream));
        CUDA_OK(cudaMemsetAsync(od, 0xFF, q_elems * es, stream)); /* NaN in bf16 */
        CUDA_OK(cudaMemsetAsync(lsed, 0xFF, lse_elems * 4, stream));
        CUDA_OK(cudaGraphLaunch(exec, stream));
        CUDA_OK(cudaStreamSynchronize(stream));
        CHECK_OK(tu_download(o_gpu, od, q_elems * es));
        CHECK_OK(tu_download(lse_gpu, lsed, lse_elems * 4));
        CHECK_OK(pattn_sequence_prefill(&host, NULL));
        for (i = 0; i < q_elems; ++i) {
            const double a = tu_load(o_gpu, dt, i), r = tu_load(o_cpu, dt, i);
            CHECK_MSG(!isnan(a), "replay %d: o[%zu] is NaN", step, i);
            if (fabs(a - r) > worst) worst = fabs(a - r);
        }
        for (i = 0; i < lse_elems; ++i) {
            const double a = lse_gpu[i], r = lse_cpu[i];
            if (isinf(r)) {
                CHECK_MSG(a == r, "replay %d: lse[%zu] = %g, expected %g", step, i, a, r);
            } else if (!(fabs(a - r) <= worst_lse)) {
                worst_lse = isnan(a) ? INFINITY : fabs(a - r);
            }
        }
        CHECK_MSG(worst < 2e-2, "replay %d: max |o gpu - cpu| = %g", step, worst);
        CHECK_MSG(worst_lse < 1e-3, "replay %d: max |lse gpu - cpu| = %g", step, worst_lse);
    }

    CUDA_OK(cudaGraphExecDestroy(exec));
    CUDA_OK(cudaGraphDestroy(graph));
    CUDA_OK(cudaStreamDestroy(stream));
    pattn_device_free(qd);
    pattn_device_free(kd);
    pattn_device_free(vd);
    pattn_device_free(od);
    pattn_device_free(lsed);
    pattn_device_free(td);
    pattn_device_free(qld);
    pattn_device_free(kld);
    free(q);
    free(k);
    free(v);
    free(o_gpu);
    free(o_cpu);
    free(lse_gpu);
    free(lse_cpu);
    return tu_finish("test_prefill_paged_graph");
}
