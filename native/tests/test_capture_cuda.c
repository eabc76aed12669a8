/*
 * test_capture_cuda.c — every CUDA path captured into a CUDA graph:
 * prefill (host lengths by value <= 256 rows and uploaded above, device
 * lengths, no lengths), decode (host lengths by value <= 512 rows and
 * uploaded above, device lengths, forced and chosen splits) and merge, at
 * batch 1 to 4096. Each case runs eagerly, is captured (global capture mode,
 * as torch.cuda.graph), then other calls with other lengths run on the same
 * stream while the host length arrays the capture saw are overwritten; the
 * graph is replayed twice and must reproduce the eager output bit for bit.
 * (The refusal of a call on the legacy default stream while another stream
 * captures is test_capture_legacy_cuda.c: it makes a CUDA call fail on
 * purpose, which the sanitizer run reports.)
 * Exits 77 (skipped) without a GPU or in a CPU-only build.
 */
#include "test_util.h"

#if defined(PATTN_TEST_WITH_CUDART)
#include <cuda_runtime.h>

enum { SQ = 8, SK = 12, HQ = 4, HK = 2, D = 64, DEC_Q = 2, CACHE = 40 };

#define CUDA_OK(call)                                                                          \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        CHECK_MSG(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_));                 \
    } while (0)

/* One call to capture: which op, its params (device tensors), the host
 * length arrays it reads (overwritten after the capture) and its outputs. */
typedef struct capture_case {
    const char* label;
    int op; /* 0 prefill, 1 decode, 2 merge */
    pattn_prefill_params prefill;
    pattn_decode_params decode;
    pattn_merge_params merge;
    int32_t* host_lens[2];
    int32_t host_lens_max[2];
    int32_t batch;
    void* out;
    size_t out_bytes;
    void* out2; /* lse */
    size_t out2_bytes;
} capture_case;

static pattn_status run_case(const capture_case* c, cudaStream_t stream) {
    if (c->op == 0) return pattn_sequence_prefill(&c->prefill, stream);
    if (c->op == 1) return pattn_decode(&c->decode, stream);
    return pattn_merge_states(&c->merge, stream);
}

static void poison(const capture_case* c, cudaStream_t stream) {
    CHECK_OK(pattn_memset_async(c->out, 0xFF, c->out_bytes, stream));
    if (c->out2) CHECK_OK(pattn_memset_async(c->out2, 0xFF, c->out2_bytes, stream));
}

static void download(const capture_case* c, cudaStream_t stream, unsigned char* o, unsigned char* l) {
    CHECK_OK(pattn_stream_synchronize(stream));
    CHECK_OK(tu_download(o, c->out, c->out_bytes));
    if (c->out2) CHECK_OK(tu_download(l, c->out2, c->out2_bytes));
}

static void random_lengths(tu_rng* rng, int32_t* lens, int32_t batch, int32_t hi) {
    int32_t b;
    for (b = 0; b < batch; ++b) lens[b] = tu_rng_int(rng, 0, hi);
    if (batch > 1) {
        lens[0] = hi;
        lens[batch - 1] = 0;
    }
}

/* Eager, capture, other calls (host lengths overwritten), replay x2. */
static void check_case(capture_case* c, cudaStream_t stream, tu_rng* rng) {
    unsigned char* want_o = (unsigned char*)malloc(c->out_bytes);
    unsigned char* got_o = (unsigned char*)malloc(c->out_bytes);
    unsigned char* want_l = c->out2 ? (unsigned char*)malloc(c->out2_bytes) : NULL;
    unsigned char* got_l = c->out2 ? (unsigned char*)malloc(c->out2_bytes) : NULL;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    pattn_status s;
    int replay, i;

    poison(c, stream);
    CHECK_OK(run_case(c, stream));
    download(c, stream, want_o, want_l);

    poison(c, stream);
    CHECK_OK(pattn_stream_synchronize(stream));
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    s = run_case(c, stream);
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CHECK_MSG(s == PATTN_STATUS_SUCCESS, "[%s] captured call: %s (%s)", c->label, pattn_status_string(s),
              pattn_last_error_message());
    if (graph == NULL || s != PATTN_STATUS_SUCCESS) goto done;
    CUDA_OK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
    if (exec == NULL) goto done;

    for (replay = 0; replay < 2; ++replay) {
        /* Other calls with other lengths; the capture's host arrays change. */
        for (i = 0; i < 2; ++i) {
            if (c->host_lens[i]) random_lengths(rng, c->host_lens[i], c->batch, c->host_lens_max[i]);
        }
        poison(c, stream);
        CHECK_OK(run_case(c, stream));
        CHECK_OK(pattn_stream_synchronize(stream));

        poison(c, stream);
        CUDA_OK(cudaGraphLaunch(exec, stream));
        download(c, stream, got_o, got_l);
        CHECK_MSG(memcmp(want_o, got_o, c->out_bytes) == 0, "[%s] replay %d: o differs from the eager run",
                  c->label, replay);
        if (c->out2)
            CHECK_MSG(memcmp(want_l, got_l, c->out2_bytes) == 0, "[%s] replay %d: lse differs from the eager run",
                      c->label, replay);
    }
done:
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    free(want_o);
    free(got_o);
    free(want_l);
    free(got_l);
}

static void free_device(void** ptrs, int count) {
    int i;
    for (i = 0; i < count; ++i) pattn_device_free(ptrs[i]);
}

static pattn_tensor dev4(void* p, pattn_dtype dt, int64_t a, int64_t b, int64_t c, int64_t d) {
    return tu_tensor_4d(p, dt, PATTN_DEVICE_CUDA, 0, a, b, c, d);
}

/* lens_place: 0 none, 1 host, 2 device; kv_only: only kv_valid_lens. */
static void prefill_case(cudaStream_t stream, tu_rng* rng, int32_t batch, int lens_place, int kv_only,
                         pattn_mask_mode mode) {
    const size_t nq = (size_t)batch * SQ * HQ * D, nk = (size_t)batch * SK * HK * D, nl = (size_t)batch * SQ * HQ;
    void* q = tu_random_device(rng, PATTN_DTYPE_F16, nq, -1, 1);
    void* k = tu_random_device(rng, PATTN_DTYPE_F16, nk, -1, 1);
    void* v = tu_random_device(rng, PATTN_DTYPE_F16, nk, -1, 1);
    void* o = tu_upload(NULL, nq * 2, 0);
    void* lse = tu_upload(NULL, nl * 4, 0);
    int32_t* qlens = (int32_t*)malloc((size_t)batch * 4);
    int32_t* kvlens = (int32_t*)malloc((size_t)batch * 4);
    void *dq = NULL, *dkv = NULL;
    capture_case c;
    char label[96];
    memset(&c, 0, sizeof c);
    snprintf(label, sizeof label, "prefill batch %d, %s lengths%s, mode %d", (int)batch,
             lens_place == 0 ? "no" : lens_place == 1 ? "host" : "device", kv_only ? " (kv only)" : "", (int)mode);
    c.label = label;
    c.op = 0;
    c.batch = batch;
    random_lengths(rng, qlens, batch, SQ);
    random_lengths(rng, kvlens, batch, SK);
    c.prefill = tu_prefill_params(mode, dev4(q, PATTN_DTYPE_F16, batch, SQ, HQ, D),
                                  dev4(k, PATTN_DTYPE_F16, batch, SK, HK, D), dev4(v, PATTN_DTYPE_F16, batch, SK, HK, D),
                                  dev4(o, PATTN_DTYPE_F16, batch, SQ, HQ, D),
                                  tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, batch, SQ, HQ));
    if (lens_place == 0) {
        /* every row full: q_len must equal kv_len only with q lengths, so none here */
    } else if (lens_place == 1) {
        if (!kv_only) {
            c.prefill.q_valid_lens = tu_tensor_1d(qlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, batch);
            c.host_lens[0] = qlens;
            c.host_lens_max[0] = SQ;
        }
        c.prefill.kv_valid_lens = tu_tensor_1d(kvlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, batch);
        c.host_lens[1] = kvlens;
        c.host_lens_max[1] = SK;
    } else {
        dq = tu_upload(qlens, (size_t)batch * 4, 0);
        dkv = tu_upload(kvlens, (size_t)batch * 4, 0);
        if (!kv_only) c.prefill.q_valid_lens = tu_tensor_1d(dq, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, batch);
        c.prefill.kv_valid_lens = tu_tensor_1d(dkv, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, batch);
    }
    c.out = o;
    c.out_bytes = nq * 2;
    c.out2 = lse;
    c.out2_bytes = nl * 4;
    check_case(&c, stream, rng);
    {
        void* all[7] = {q, k, v, o, lse, dq, dkv};
        free_device(all, 7);
    }
    free(qlens);
    free(kvlens);
}

static void decode_case(cudaStream_t stream, tu_rng* rng, int32_t batch, int lens_place, int32_t num_splits) {
    const size_t nq = (size_t)batch * DEC_Q * HQ * D, nk = (size_t)batch * CACHE * HK * D;
    const size_t nl = (size_t)batch * DEC_Q * HQ;
    void* q = tu_random_device(rng, PATTN_DTYPE_BF16, nq, -1, 1);
    void* k = tu_random_device(rng, PATTN_DTYPE_BF16, nk, -1, 1);
    void* v = tu_random_device(rng, PATTN_DTYPE_BF16, nk, -1, 1);
    void* o = tu_upload(NULL, nq * 2, 0);
    void* lse = tu_upload(NULL, nl * 4, 0);
    int32_t* kvlens = (int32_t*)malloc((size_t)batch * 4);
    void* dkv = NULL;
    capture_case c;
    char label[96];
    memset(&c, 0, sizeof c);
    snprintf(label, sizeof label, "decode batch %d, %s lengths, num_splits %d", (int)batch,
             lens_place == 0 ? "no" : lens_place == 1 ? "host" : "device", (int)num_splits);
    c.label = label;
    c.op = 1;
    c.batch = batch;
    random_lengths(rng, kvlens, batch, CACHE);
    c.decode = tu_decode_params(PATTN_PADDING_LEFT, dev4(q, PATTN_DTYPE_BF16, batch, DEC_Q, HQ, D),
                                dev4(k, PATTN_DTYPE_BF16, batch, CACHE, HK, D),
                                dev4(v, PATTN_DTYPE_BF16, batch, CACHE, HK, D),
                                dev4(o, PATTN_DTYPE_BF16, batch, DEC_Q, HQ, D),
                                tu_tensor_3d(lse, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, batch, DEC_Q, HQ));
    c.decode.num_splits = num_splits;
    if (lens_place == 1) {
        c.decode.kv_valid_lens = tu_tensor_1d(kvlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, batch);
        c.host_lens[1] = kvlens;
        c.host_lens_max[1] = CACHE;
    } else if (lens_place == 2) {
        dkv = tu_upload(kvlens, (size_t)batch * 4, 0);
        c.decode.kv_valid_lens = tu_tensor_1d(dkv, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, batch);
    }
    c.out = o;
    c.out_bytes = nq * 2;
    c.out2 = lse;
    c.out2_bytes = nl * 4;
    check_case(&c, stream, rng);
    {
        void* all[6] = {q, k, v, o, lse, dkv};
        free_device(all, 6);
    }
    free(kvlens);
}

static void merge_case(cudaStream_t stream, tu_rng* rng, int32_t tokens) {
    const size_t no = (size_t)tokens * HQ * D, nl = (size_t)tokens * HQ;
    void* oa = tu_random_device(rng, PATTN_DTYPE_F16, no, -1, 1);
    void* ob = tu_random_device(rng, PATTN_DTYPE_F16, no, -1, 1);
    void* la = tu_random_device(rng, PATTN_DTYPE_F32, nl, -5, 5);
    void* lb = tu_random_device(rng, PATTN_DTYPE_F32, nl, -5, 5);
    void* oo = tu_upload(NULL, no * 2, 0);
    void* lo = tu_upload(NULL, nl * 4, 0);
    capture_case c;
    char label[64];
    memset(&c, 0, sizeof c);
    snprintf(label, sizeof label, "merge %d tokens", (int)tokens);
    c.label = label;
    c.op = 2;
    c.batch = tokens;
    c.merge.struct_size = sizeof c.merge;
    c.merge.o_a = tu_tensor_3d(oa, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, tokens, HQ, D);
    c.merge.o_b = tu_tensor_3d(ob, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, tokens, HQ, D);
    c.merge.o_out = tu_tensor_3d(oo, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, tokens, HQ, D);
    c.merge.lse_a = tu_tensor_nd(la, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 2, c.merge.o_a.shape);
    c.merge.lse_b = tu_tensor_nd(lb, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 2, c.merge.o_a.shape);
    c.merge.lse_out = tu_tensor_nd(lo, PATTN_DTYPE_F32, PATTN_DEVICE_CUDA, 0, 2, c.merge.o_a.shape);
    c.out = oo;
    c.out_bytes = no * 2;
    c.out2 = lo;
    c.out2_bytes = nl * 4;
    check_case(&c, stream, rng);
    {
        void* all[6] = {oa, ob, la, lb, oo, lo};
        free_device(all, 6);
    }
}

int main(void) {
    static const int32_t prefill_batches[] = {1, 3, 256, 257, 1000, 4096};
    static const int32_t decode_batches[] = {1, 511, 512, 513, 4096};
    cudaStream_t stream = NULL;
    tu_rng rng = tu_rng_make(2026);
    size_t i;
    if (!tu_have_gpu()) {
        printf("test_capture_cuda: no GPU, skipped\n");
        return TEST_SKIP;
    }
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    for (i = 0; i < sizeof prefill_batches / sizeof prefill_batches[0]; ++i) {
        const int32_t b = prefill_batches[i];
        prefill_case(stream, &rng, b, 1, 0, PATTN_MASK_CAUSAL_PADDED_LEFT);
        prefill_case(stream, &rng, b, 1, 1, PATTN_MASK_PADDED);
        prefill_case(stream, &rng, b, 2, 0, PATTN_MASK_CAUSAL_PADDED_RIGHT);
    }
    prefill_case(stream, &rng, 4096, 0, 0, PATTN_MASK_PADDED_LEFT);
    for (i = 0; i < sizeof decode_batches / sizeof decode_batches[0]; ++i) {
        const int32_t b = decode_batches[i];
        decode_case(stream, &rng, b, 1, 0);
        decode_case(stream, &rng, b, 1, 1);
        decode_case(stream, &rng, b, 2, 0);
    }
    decode_case(stream, &rng, 4096, 0, 3);
    merge_case(stream, &rng, 1);
    merge_case(stream, &rng, 4096 * 8);
    cudaStreamDestroy(stream);
    return tu_finish("test_capture_cuda");
}

#else  /* CPU-only build: nothing to capture */
int main(void) {
    printf("test_capture_cuda: CPU-only build, skipped\n");
    return TEST_SKIP;
}
#endif
