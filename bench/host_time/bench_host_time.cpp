/* Host time of one pattn_sequence_prefill call on the GPU path, from C: the
 * case of bench/PaddedAttention.HostTime (rows of 32 tokens, lengths uniform
 * in 1..32, 8/2 heads x 64, bf16, causal right padding) for 1 .. 4096 rows,
 * lengths in host memory and in device memory. Built with the library
 * (native/CMakeLists.txt, target bench_host_time; C++ only for the runtime
 * calls' default arguments; not a ctest: it needs a GPU).
 *
 *   bench_host_time [rows,rows,...]      default 1,64,256,1024,4096
 *
 * Per case: "burst" = median over 20 samples of 256 calls on a drained stream
 * of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) and wall time per call;
 * "single" = median over 200 single calls on a drained stream (the host's own
 * cost, without waiting for a GPU that fell behind a burst); "gpu" = event
 * time per call of 64 calls back to back (when it exceeds the burst's wall
 * time the burst is bound by the GPU, not the host). Before timing, one call
 * with o poisoned (NaN) is checked: every real row finite, every padding row 0.
 * BENCH_QUICK=1 halves the samples. PADDEDATTN_* switches (docs/building.md)
 * apply as usual. Built with the CUDA
 * runtime (PATTN_BENCH_WITH_CUDART), it also times the runtime calls one
 * prefill call makes, for reference. Exit 0 with a note without a GPU. */
#define _POSIX_C_SOURCE 199309L  /* clock_gettime */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_timing.h"
#include "paddedattn.h"

#if defined(PATTN_BENCH_WITH_CUDART)
#include <cuda_runtime.h>
#endif

enum { kSeq = 32, kHq = 8, kHkv = 2, kD = 64, kBurst = 256, kSamples = 20, kSingles = 200 };
/* BENCH_QUICK=1: half the samples and warm-up (a short GPU session). */
static int g_samples = kSamples, g_singles = kSingles;
static double g_warmup_us = 2e5;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static pattn_tensor tensor(void* data, pattn_dtype dt, pattn_device_type where, int ndim, const int64_t* shape) {
    pattn_tensor t;
    int i;
    int64_t stride = 1;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dt;
    t.device_type = where;
    t.device_id = 0;
    t.ndim = ndim;
    for (i = ndim - 1; i >= 0; --i) {
        t.shape[i] = shape[i];
        t.strides[i] = stride;
        stride *= shape[i];
    }
    return t;
}

#define OK(call)                                                                            \
    do {                                                                                    \
        pattn_status s_ = (call);                                                           \
        if (s_ != PATTN_STATUS_SUCCESS) {                                                   \
            fprintf(stderr, "%s:%d: %s -> %d: %s\n", __FILE__, __LINE__, #call, (int)s_,     \
                    pattn_last_error_message());                                            \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void run_case(int rows, int device_lengths, void* stream) {
    const int64_t qshape[4] = {rows, kSeq, kHq, kD}, kvshape[4] = {rows, kSeq, kHkv, kD}, lshape[1] = {rows};
    const uint64_t q_bytes = (uint64_t)rows * kSeq * kHq * kD * 2, kv_bytes = (uint64_t)rows * kSeq * kHkv * kD * 2;
    void *q, *k, *v, *o, *dlens;
    int32_t* lens = (int32_t*)malloc(sizeof(int32_t) * (size_t)rows);
    uint16_t* fill = (uint16_t*)malloc(q_bytes);
    uint16_t* out = (uint16_t*)malloc(q_bytes);
    pattn_prefill_params p;
    double cpu[kSamples], wall[kSamples], single[kSingles], single_cpu[kSingles];
    void *e0, *e1;
    float gpu_ms = 0.0f;
    int s, i, b, t, bad = 0;
    size_t x;

    for (b = 0; b < rows; ++b) lens[b] = 1 + (int32_t)(next_u32() % kSeq);
    /* Values in +-[1, 2) (never 0), one block of 64K repeated: the host time
       does not depend on them. */
    for (x = 0; x < q_bytes / 2; ++x)
        fill[x] = x < 65536 ? (uint16_t)((0x3F80u + (next_u32() & 0x7Fu)) ^ (x & 1 ? 0x8000u : 0u)) : fill[x & 65535];
    OK(pattn_device_malloc(0, q_bytes, &q));
    OK(pattn_device_malloc(0, kv_bytes, &k));
    OK(pattn_device_malloc(0, kv_bytes, &v));
    OK(pattn_device_malloc(0, q_bytes, &o));
    OK(pattn_device_malloc(0, sizeof(int32_t) * (uint64_t)rows, &dlens));
    OK(pattn_memcpy(q, fill, q_bytes));
    OK(pattn_memcpy(k, fill, kv_bytes));
    OK(pattn_memcpy(v, fill + kv_bytes / 4, kv_bytes));
    OK(pattn_memcpy(dlens, lens, sizeof(int32_t) * (uint64_t)rows));

    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.mask_mode = PATTN_MASK_CAUSAL_PADDED_RIGHT;
    p.q = tensor(q, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 4, qshape);
    p.k = tensor(k, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 4, kvshape);
    p.v = tensor(v, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 4, kvshape);
    p.o = tensor(o, PATTN_DTYPE_BF16, PATTN_DEVICE_CUDA, 4, qshape);
    p.q_valid_lens = device_lengths ? tensor(dlens, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 1, lshape)
                                    : tensor(lens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 1, lshape);

    /* The timed call does the work: o poisoned with NaN, one call, then every
       real row finite and every padding row 0 (docs/semantics.md). */
    OK(pattn_memset_async(o, 0xFF, q_bytes, stream));
    OK(pattn_sequence_prefill(&p, stream));
    OK(pattn_stream_synchronize(stream));
    OK(pattn_memcpy(out, o, q_bytes));
    for (b = 0; b < rows && bad < 5; ++b)
        for (t = 0; t < kSeq; ++t)
            for (i = 0; i < kHq * kD; ++i) {
                const float f = bf16_to_f32(out[((size_t)b * kSeq + t) * kHq * kD + i]);
                if (t < lens[b] ? !isfinite(f) : f != 0.0f) {
                    if (bad++ < 5) fprintf(stderr, "row %d token %d (length %d) holds %g\n", b, t, lens[b], f);
                    break;
                }
            }
    if (bad) {
        fprintf(stderr, "rows %d %s lengths: wrong output\n", rows, device_lengths ? "device" : "host");
        exit(1);
    }

    /* Warm-up: bursts for ~0.2 s (staging ring, pool, first-use setup). */
    {
        const double until = clock_us(CLOCK_MONOTONIC) + g_warmup_us;
        while (clock_us(CLOCK_MONOTONIC) < until) {
            OK(pattn_stream_synchronize(stream));
            for (i = 0; i < kBurst; ++i) OK(pattn_sequence_prefill(&p, stream));
        }
    }
    for (s = 0; s < g_samples; ++s) {
        double c0, w0;
        OK(pattn_stream_synchronize(stream));
        c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
        w0 = clock_us(CLOCK_MONOTONIC);
        for (i = 0; i < kBurst; ++i) OK(pattn_sequence_prefill(&p, stream));
        wall[s] = (clock_us(CLOCK_MONOTONIC) - w0) / kBurst;
        cpu[s] = (clock_us(CLOCK_THREAD_CPUTIME_ID) - c0) / kBurst;
    }
    for (s = 0; s < g_singles; ++s) {
        double c0, w0;
        OK(pattn_stream_synchronize(stream));
        c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
        w0 = clock_us(CLOCK_MONOTONIC);
        OK(pattn_sequence_prefill(&p, stream));
        single[s] = clock_us(CLOCK_MONOTONIC) - w0;
        single_cpu[s] = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    OK(pattn_event_create(0, &e0));
    OK(pattn_event_create(0, &e1));
    OK(pattn_stream_synchronize(stream));
    OK(pattn_event_record(e0, stream));
    for (i = 0; i < 64; ++i) OK(pattn_sequence_prefill(&p, stream));
    OK(pattn_event_record(e1, stream));
    OK(pattn_event_synchronize(e1));
    OK(pattn_event_elapsed_ms(e0, e1, &gpu_ms));
    OK(pattn_event_destroy(e0));
    OK(pattn_event_destroy(e1));

    printf("rows %5d  %-6s  burst cpu %8.2f us  wall %8.2f us   single wall %8.2f us  cpu %8.2f us   gpu %8.2f us/call\n",
           rows, device_lengths ? "device" : "host", median(cpu, g_samples), median(wall, g_samples),
           median(single, g_singles), median(single_cpu, g_singles), 1000.0 * gpu_ms / 64);
    fflush(stdout);
    OK(pattn_device_free(q));
    OK(pattn_device_free(k));
    OK(pattn_device_free(v));
    OK(pattn_device_free(o));
    OK(pattn_device_free(dlens));
    free(lens);
    free(fill);
    free(out);
}

#if defined(PATTN_BENCH_WITH_CUDART)
/* Median cost of single CUDA runtime calls of the kind one prefill call makes. */
static void time_runtime_calls(void) {
    enum { N = 2000 };
    static double v[N];
    cudaStream_t st;
    cudaEvent_t ev;
    void *dev, *dev2, *pinned;
    int32_t host_array[64];
    int i, d = 0;
    cudaStreamCaptureStatus cs;
    unsigned long long id;
    cudaPointerAttributes attr;
    cudaMemPool_t pool;
    cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
    cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    cudaMalloc(&dev, 1 << 20);
    cudaMalloc(&dev2, 1 << 20);
    cudaHostAlloc(&pinned, 1 << 20, cudaHostAllocPortable);
    cudaDeviceGetDefaultMemPool(&pool, 0);
#define TIME(label, stmt)                                                   \
    do {                                                                    \
        for (i = 0; i < N; ++i) {                                           \
            const double t0 = clock_us(CLOCK_MONOTONIC);                    \
            stmt;                                                           \
            v[i] = clock_us(CLOCK_MONOTONIC) - t0;                          \
        }                                                                   \
        printf("runtime %-44s %7.3f us\n", label, median(v, N));            \
    } while (0)
    TIME("cudaGetDevice", cudaGetDevice(&d));
    TIME("cudaGetDeviceCount", cudaGetDeviceCount(&d));
    TIME("cudaSetDevice (current one)", cudaSetDevice(0));
    TIME("cudaPointerGetAttributes (device memory)", cudaPointerGetAttributes(&attr, dev));
    TIME("cudaPointerGetAttributes (pageable host)", (cudaPointerGetAttributes(&attr, host_array), cudaGetLastError()));
    TIME("cudaPointerGetAttributes (pinned host)", cudaPointerGetAttributes(&attr, pinned));
    TIME("cudaStreamGetCaptureInfo", cudaStreamGetCaptureInfo(st, &cs, &id));
    TIME("cudaStreamIsCapturing", cudaStreamIsCapturing(st, &cs));
#if CUDART_VERSION >= 12080
    TIME("cudaStreamGetDevice", cudaStreamGetDevice(st, &d));
#endif
    TIME("cudaGetLastError", cudaGetLastError());
    TIME("cudaEventRecord", cudaEventRecord(ev, st));
    cudaStreamSynchronize(st);
    TIME("cudaEventQuery (done)", cudaEventQuery(ev));
    TIME("cudaMemcpyAsync 16 KB pinned->device", cudaMemcpyAsync(dev, pinned, 16384, cudaMemcpyHostToDevice, st));
    cudaStreamSynchronize(st);
    TIME("cudaMemcpyAsync 512 KB pinned->device", cudaMemcpyAsync(dev, pinned, 524288, cudaMemcpyHostToDevice, st));
    cudaStreamSynchronize(st);
    TIME("memcpy 16 KB into pinned memory", memcpy((char*)pinned + 524288, pinned, 16384));
    {
        void* ptrs[N];
        for (i = 0; i < N; ++i) {
            const double t0 = clock_us(CLOCK_MONOTONIC);
            cudaMallocFromPoolAsync(&ptrs[i], 16384, pool, st);
            cudaFreeAsync(ptrs[i], st);
            v[i] = clock_us(CLOCK_MONOTONIC) - t0;
        }
        printf("runtime %-44s %7.3f us\n", "cudaMallocFromPoolAsync + cudaFreeAsync", median(v, N));
    }
    cudaStreamSynchronize(st);
#undef TIME
    cudaFreeHost(pinned);
    cudaFree(dev);
    cudaFree(dev2);
    cudaEventDestroy(ev);
    cudaStreamDestroy(st);
}
#endif

int main(int argc, char** argv) {
    int rows[16] = {1, 64, 256, 1024, 4096}, n = 5, count = 0, i, dl;
    void* stream = NULL;
    if (argc > 1) {
        char* s = argv[1];
        n = 0;
        while (*s && n < 16) {
            rows[n++] = (int)strtol(s, &s, 10);
            if (*s == ',') ++s;
        }
    }
    if (getenv("BENCH_QUICK")) {
        g_samples = kSamples / 2;
        g_singles = kSingles / 2;
        g_warmup_us = 1e5;
    }
    if (pattn_device_count(&count) != PATTN_STATUS_SUCCESS || count == 0) {
        printf("bench_host_time: no CUDA device, nothing to measure\n");
        return 0;
    }
    printf("bench_host_time: %s; rows of %d tokens (lengths 1..%d), %d/%d heads x %d, bf16, causal right padding\n",
           pattn_version_string(), kSeq, kSeq, kHq, kHkv, kD);
    OK(pattn_stream_create(0, &stream));
    for (i = 0; i < n; ++i)
        for (dl = 0; dl < 2; ++dl) run_case(rows[i], dl, stream);
    OK(pattn_stream_destroy(stream));
#if defined(PATTN_BENCH_WITH_CUDART)
    if (!getenv("BENCH_NO_RUNTIME_CALLS")) time_runtime_calls();
#endif
    return 0;
}
