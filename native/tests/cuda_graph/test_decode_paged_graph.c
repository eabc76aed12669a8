/*
 * test_decode_paged_graph.c — paged decode captured into a CUDA graph and
 * replayed while the rows grow: the lengths and the page table live in
 * device memory, so the replays read their current values. Each replay is
 * compared with the CPU backend on the same inputs (itself checked against
 * a float64 reference by test_decode_paged). Also checks that the captured
 * call needs no synchronization (capture mode global refuses one) and that
 * NaN in the pages a row does not use yet never reaches its output.
 * Links the CUDA runtime itself (built only with the CUDA backend); exits 77
 * without a GPU.
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

enum { B = 3, QL = 2, HQ = 8, HK = 2, D = 128, PS = 16, MAXP = 12, PAGES = B * MAXP + 1 };

int main(void) {
    const pattn_dtype dt = PATTN_DTYPE_BF16;
    const size_t es = 2, page_elems = (size_t)PS * HK * D, q_elems = (size_t)B * QL * HQ * D;
    int32_t table[B * MAXP], lens[B] = {17, 64, 100};
    static const int32_t growth[3][B] = {{17, 64, 100}, {18, 80, 101}, {33, 191, 150}};
    uint16_t *q = malloc(q_elems * es), *k = malloc(PAGES * page_elems * es), *v = malloc(PAGES * page_elems * es);
    uint16_t *o_gpu = malloc(q_elems * es), *o_cpu = malloc(q_elems * es);
    void *qd, *kd, *vd, *od, *td, *ld;
    cudaStream_t stream;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    pattn_decode_params p, host;
    tu_rng rng = tu_rng_make(4242);
    int b, e, step;
    if (!tu_have_gpu()) {
        printf("test_decode_paged_graph: no GPU, skipped\n");
        return TEST_SKIP;
    }
    /* Rows 1 and 2 share row 0's first page; the rest are distinct, in reverse order. */
    for (b = 0; b < B; ++b)
        for (e = 0; e < MAXP; ++e) table[b * MAXP + e] = (b > 0 && e == 0) ? PAGES - 1 : PAGES - 2 - (b * MAXP + e);
    table[0] = PAGES - 1;
    tu_fill_uniform(q, dt, q_elems, &rng, -2.0f, 2.0f);
    tu_fill_uniform(k, dt, PAGES * page_elems, &rng, -2.0f, 2.0f);
    tu_fill_uniform(v, dt, PAGES * page_elems, &rng, -1.0f, 1.0f);
    /* Page 0 sits only in row 2's last entry, past every length it takes: NaN. */
    tu_fill_nan(k, dt, page_elems);
    tu_fill_nan(v, dt, page_elems);

    qd = tu_upload(q, q_elems * es, 0);
    kd = tu_upload(k, PAGES * page_elems * es, 0);
    vd = tu_upload(v, PAGES * page_elems * es, 0);
    od = tu_upload(NULL, q_elems * es, 0);
    td = tu_upload(table, sizeof table, 0);
    ld = tu_upload(lens, sizeof lens, 0);
    CHECK(qd && kd && vd && od && td && ld);
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

    p = tu_decode_params(PATTN_PADDING_RIGHT, tu_tensor_4d(qd, dt, PATTN_DEVICE_CUDA, 0, B, QL, HQ, D),
                         tu_tensor_4d(kd, dt, PATTN_DEVICE_CUDA, 0, PAGES, PS, HK, D),
                         tu_tensor_4d(vd, dt, PATTN_DEVICE_CUDA, 0, PAGES, PS, HK, D),
                         tu_tensor_4d(od, dt, PATTN_DEVICE_CUDA, 0, B, QL, HQ, D),
                         tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, B, QL, HQ));
    p.page_table = tu_tensor_nd(td, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, 2, (int64_t[]){B, MAXP});
    p.kv_valid_lens = tu_tensor_1d(ld, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, B);
    p.num_splits = 3;  /* split kernel + combine kernel (or the cluster merge) in the graph */

    /* One eager call first, as a serving loop makes before it captures. */
    CHECK_OK(pattn_decode(&p, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    CHECK_OK(pattn_decode(&p, stream));
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CUDA_OK(cudaGraphInstantiateWithFlags(&exec, graph, 0));

    host = p;
    host.q = tu_tensor_4d(q, dt, PATTN_DEVICE_CPU, 0, B, QL, HQ, D);
    host.k_cache = tu_tensor_4d(k, dt, PATTN_DEVICE_CPU, 0, PAGES, PS, HK, D);
    host.v_cache = tu_tensor_4d(v, dt, PATTN_DEVICE_CPU, 0, PAGES, PS, HK, D);
    host.o = tu_tensor_4d(o_cpu, dt, PATTN_DEVICE_CPU, 0, B, QL, HQ, D);
    host.lse = tu_tensor_3d(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, QL, HQ);
    host.page_table = tu_tensor_nd(table, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 2, (int64_t[]){B, MAXP});
    host.kv_valid_lens = tu_tensor_1d(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);

    for (step = 0; step < 3; ++step) {
        double worst = 0.0;
        size_t i;
        memcpy(lens, growth[step], sizeof lens);
        CUDA_OK(cudaMemcpyAsync(ld, lens, sizeof lens, cudaMemcpyHostToDevice, stream));
        CUDA_OK(cudaMemsetAsync(od, 0xFF, q_elems * es, stream)); /* NaN in bf16 */
        CUDA_OK(cudaGraphLaunch(exec, stream));
        CUDA_OK(cudaStreamSynchronize(stream));
        CHECK_OK(tu_download(o_gpu, od, q_elems * es));
        CHECK_OK(pattn_decode(&host, NULL));
        for (i = 0; i < q_elems; ++i) {
            const double a = tu_load(o_gpu, dt, i), r = tu_load(o_cpu, dt, i);
            const double d = fabs(a - r);
            CHECK_MSG(!isnan(a), "replay %d: o[%zu] is NaN", step, i);
            if (d > worst) worst = d;
        }
        CHECK_MSG(worst < 2e-2, "replay %d (lengths %d, %d, %d): max |gpu - cpu| = %g", step, lens[0], lens[1],
                  lens[2], worst);
    }

    CUDA_OK(cudaGraphExecDestroy(exec));
    CUDA_OK(cudaGraphDestroy(graph));
    CUDA_OK(cudaStreamDestroy(stream));
    pattn_device_free(qd);
    pattn_device_free(kd);
    pattn_device_free(vd);
    pattn_device_free(od);
    pattn_device_free(td);
    pattn_device_free(ld);
    free(q);
    free(k);
    free(v);
    free(o_gpu);
    free(o_cpu);
    return tu_finish("test_decode_paged_graph");
}
