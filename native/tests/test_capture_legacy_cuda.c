/*
 * test_capture_legacy_cuda.c — a call on the legacy default stream (NULL)
 * while another, blocking stream of the device is being captured in the
 * global mode (torch.cuda.graph's default) is refused with INVALID_ARGUMENT
 * naming "stream", before it touches any stream, and the capture stays
 * valid; prefill, decode and merge alike, then the capturing stream itself
 * is accepted.
 *
 * Its own program because the library learns of that situation only from a
 * CUDA call that fails on purpose (cudaStreamGetCaptureInfo on the legacy
 * stream answers cudaErrorStreamCaptureImplicit, common/capture.cu; no call
 * tells it without failing), and compute-sanitizer reports every failing
 * API call: native/tests/run_memcheck.sh runs this program with
 * --report-api-errors no (memory errors still count) and every other GPU
 * test with API errors reported. Exits 77 without a GPU or in a CPU-only build.
 */
#include "test_util.h"

#if defined(PATTN_TEST_WITH_CUDART)
#include <cuda_runtime.h>

enum { SQ = 8, HQ = 4, HK = 2, D = 64 };

#define CUDA_OK(call)                                                                          \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        CHECK_MSG(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_));                 \
    } while (0)

/* One op on `stream`: 0 prefill, 1 decode, 2 merge, over small device tensors. */
static pattn_status run_op(int op, void* q, void* k, void* v, void* o, void* lse, void* stream) {
    if (op == 0) {
        pattn_prefill_params p = tu_prefill_params(
            PATTN_MASK_CAUSAL_PADDED_RIGHT, tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, SQ, HQ, D),
            tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, SQ, HK, D),
            tu_tensor_4d(v, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, SQ, HK, D),
            tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, SQ, HQ, D),
            tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 1, SQ, HQ));
        return pattn_sequence_prefill(&p, stream);
    }
    if (op == 1) {
        pattn_decode_params p = tu_decode_params(
            PATTN_PADDING_RIGHT, tu_tensor_4d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, 1, HQ, D),
            tu_tensor_4d(k, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, SQ, HK, D),
            tu_tensor_4d(v, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, SQ, HK, D),
            tu_tensor_4d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, 1, HQ, D),
            tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 1, 1, HQ));
        return pattn_decode(&p, stream);
    }
    {
        /* o_a = q rows, lse_a = its first SQ * HQ floats of k (any finite values). */
        pattn_merge_params m;
        memset(&m, 0, sizeof m);
        m.struct_size = sizeof m;
        m.o_a = m.o_b = tu_tensor_3d(q, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, SQ, HQ, D);
        m.o_out = tu_tensor_3d(o, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, SQ, HQ, D);
        m.lse_a = m.lse_b = tu_tensor_nd(v, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 2, m.o_a.shape);
        m.lse_out = tu_tensor_nd(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 2, m.o_a.shape);
        return pattn_merge_states(&m, stream);
    }
}

int main(void) {
    static const char* const names[3] = {"prefill", "decode", "merge"};
    tu_rng rng = tu_rng_make(2027);
    void *q, *k, *v, *o, *lse;
    int op;
    if (!tu_have_gpu()) {
        printf("test_capture_legacy_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    q = tu_random_device(&rng, PATTN_DTYPE_F16, (size_t)SQ * HQ * D, -1, 1);
    k = tu_random_device(&rng, PATTN_DTYPE_F16, (size_t)SQ * HK * D, -1, 1);
    /* v doubles as the merge's lse (f32 in [-1, 1]): at least SQ * HQ floats. */
    v = tu_random_device(&rng, PATTN_DTYPE_F32, (size_t)SQ * HK * D / 2, -1, 1);
    o = tu_upload(NULL, (size_t)SQ * HQ * D * 2, 0);
    lse = tu_upload(NULL, (size_t)SQ * HQ * 4, 0);
    CHECK(q && k && v && o && lse);
    for (op = 0; op < 3 && q && k && v && o && lse; ++op) {
        cudaGraph_t graph = NULL;
        cudaStream_t blocking = NULL;
        enum cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
        /* A blocking stream, so that the legacy stream synchronizes with it. */
        CUDA_OK(cudaStreamCreate(&blocking));
        CUDA_OK(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeGlobal));
        CHECK_STATUS(run_op(op, q, k, v, o, lse, NULL), PATTN_STATUS_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("legacy default stream");
        CHECK_MSG(strcmp(pattn_last_error_argument(), "stream") == 0, "%s: the error names \"%s\"", names[op],
                  pattn_last_error_argument());
        CUDA_OK(cudaStreamIsCapturing(blocking, &status));
        CHECK_MSG(status == cudaStreamCaptureStatusActive, "%s: the capture was invalidated (status %d)", names[op],
                  (int)status);
        CHECK_OK(run_op(op, q, k, v, o, lse, blocking));
        CUDA_OK(cudaStreamEndCapture(blocking, &graph));
        CHECK_MSG(graph != NULL, "%s: no graph", names[op]);
        if (graph) cudaGraphDestroy(graph);
        cudaStreamDestroy(blocking);
    }
    pattn_device_free(q); pattn_device_free(k); pattn_device_free(v); pattn_device_free(o); pattn_device_free(lse);
    return tu_finish("test_capture_legacy_cuda");
}

#else  /* CPU-only build: nothing to capture */
int main(void) {
    printf("test_capture_legacy_cuda: CPU-only build, skipped\n");
    return TEST_SKIP;
}
#endif
