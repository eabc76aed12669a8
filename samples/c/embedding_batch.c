/*
 * embedding_batch.c — PaddedAttention from C, through the public header only.
 *
 * A decoder-style embedding batch: sequences of different lengths, left
 * padded to one length, causal prefill (PATTN_MASK_CAUSAL_PADDED_LEFT), then
 * last-token pooling (row q_len - 1 of every sequence holds the embedding).
 * Runs on the first CUDA device when there is one (bf16), else on the CPU
 * backend (f32); --cpu forces the CPU. Every output row is compared with a
 * naive float64 reference; exit status 1 on a mismatch, 2 on an error.
 *
 *   cc -std=c11 -Inative/include samples/c/embedding_batch.c -Lbuild/native -lpaddedattn -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"

enum { BATCH = 6, SEQ_LEN = 37, NUM_QO_HEADS = 8, NUM_KV_HEADS = 2, HEAD_DIM = 64 };
static const int32_t kValidLens[BATCH] = {37, 1, 17, 0, 36, 5};

#define CHECK(call)                                                              \
    do {                                                                         \
        pattn_status status_ = (call);                                           \
        if (status_ != PATTN_STATUS_SUCCESS) {                                   \
            fprintf(stderr, "%s failed: %s: %s\n", #call,                        \
                    pattn_status_string(status_), pattn_last_error_message());   \
            exit(2);                                                             \
        }                                                                        \
    } while (0)

/* Deterministic uniform [-1, 1) numbers, so a failure can be reproduced. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float next_uniform(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (2.0 / 16777216.0) - 1.0);
}

static uint16_t float_to_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* NaN stays NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u);                                            /* round to nearest even */
    return (uint16_t)(bits >> 16);
}

static float bf16_to_float(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    memcpy(&result, &bits, sizeof result);
    return result;
}

static size_t offset_of(int b, int s, int h, int heads) {
    return (((size_t)b * SEQ_LEN + s) * heads + h) * HEAD_DIM;
}

static pattn_tensor describe(void* data, pattn_dtype dtype, pattn_device_type where, int heads) {
    pattn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.device_type = where;
    t.device_id = 0;
    t.ndim = 4;
    t.shape[0] = BATCH; t.shape[1] = SEQ_LEN; t.shape[2] = heads; t.shape[3] = HEAD_DIM;
    t.strides[3] = 1;
    t.strides[2] = HEAD_DIM;
    t.strides[1] = (int64_t)heads * HEAD_DIM;
    t.strides[0] = (int64_t)SEQ_LEN * heads * HEAD_DIM;
    return t;
}

/* Causal attention of one real query row over the real keys, in float64. */
static void reference_row(const float* q, const float* k, const float* v, int b, int i, int h,
                          double* out) {
    const int valid = kValidLens[b], first = SEQ_LEN - valid;
    const int kv_head = h / (NUM_QO_HEADS / NUM_KV_HEADS);
    const double scale = 1.0 / sqrt((double)HEAD_DIM);
    double scores[SEQ_LEN], top = -INFINITY, total = 0.0;
    for (int j = 0; j <= i; ++j) { /* kv == qv: query i sees keys 0..i */
        double dot = 0.0;
        for (int d = 0; d < HEAD_DIM; ++d)
            dot += (double)q[offset_of(b, first + i, h, NUM_QO_HEADS) + d] *
                   (double)k[offset_of(b, first + j, kv_head, NUM_KV_HEADS) + d];
        scores[j] = dot * scale;
        if (scores[j] > top) top = scores[j];
    }
    for (int d = 0; d < HEAD_DIM; ++d) out[d] = 0.0;
    for (int j = 0; j <= i; ++j) {
        const double w = exp(scores[j] - top);
        total += w;
        for (int d = 0; d < HEAD_DIM; ++d)
            out[d] += w * (double)v[offset_of(b, first + j, kv_head, NUM_KV_HEADS) + d];
    }
    for (int d = 0; d < HEAD_DIM; ++d) out[d] /= total;
}

int main(int argc, char** argv) {
    int force_cpu = argc > 1 && strcmp(argv[1], "--cpu") == 0;
    int32_t device_count = 0;
    CHECK(pattn_device_count(&device_count));
    const int on_gpu = device_count > 0 && !force_cpu;
    /* The CPU backend takes f32; the CUDA kernels take f16/bf16. */
    const pattn_dtype dtype = on_gpu ? PATTN_DTYPE_BF16 : PATTN_DTYPE_F32;
    const size_t elem = on_gpu ? sizeof(uint16_t) : sizeof(float);
    const double tolerance = on_gpu ? 1.6e-2 : 1e-5;

    const size_t q_count = (size_t)BATCH * SEQ_LEN * NUM_QO_HEADS * HEAD_DIM;
    const size_t kv_count = (size_t)BATCH * SEQ_LEN * NUM_KV_HEADS * HEAD_DIM;
    float* q = malloc(q_count * sizeof(float));
    float* k = malloc(kv_count * sizeof(float));
    float* v = malloc(kv_count * sizeof(float));
    float* o = malloc(q_count * sizeof(float));
    void* q_host = malloc(q_count * elem);
    void* k_host = malloc(kv_count * elem);
    void* v_host = malloc(kv_count * elem);
    void* o_host = malloc(q_count * elem);
    if (!q || !k || !v || !o || !q_host || !k_host || !v_host || !o_host) {
        fprintf(stderr, "out of host memory\n");
        return 2;
    }

    for (size_t i = 0; i < q_count; ++i) q[i] = next_uniform();
    for (size_t i = 0; i < kv_count; ++i) { k[i] = next_uniform(); v[i] = next_uniform(); }
    /* Padding keys hold NaN: they must never reach a real row. */
    for (int b = 0; b < BATCH; ++b)
        for (int s = 0; s < SEQ_LEN - kValidLens[b]; ++s)
            for (int h = 0; h < NUM_KV_HEADS; ++h)
                for (int d = 0; d < HEAD_DIM; ++d)
                    k[offset_of(b, s, h, NUM_KV_HEADS) + d] = v[offset_of(b, s, h, NUM_KV_HEADS) + d] = NAN;

    /* Inputs in the run's dtype; the reference reads back the rounded values
     * so that it sees exactly what the library sees. */
    for (size_t i = 0; i < q_count; ++i) {
        if (on_gpu) { ((uint16_t*)q_host)[i] = float_to_bf16(q[i]); q[i] = bf16_to_float(((uint16_t*)q_host)[i]); }
        else ((float*)q_host)[i] = q[i];
    }
    for (size_t i = 0; i < kv_count; ++i) {
        if (on_gpu) {
            ((uint16_t*)k_host)[i] = float_to_bf16(k[i]); k[i] = bf16_to_float(((uint16_t*)k_host)[i]);
            ((uint16_t*)v_host)[i] = float_to_bf16(v[i]); v[i] = bf16_to_float(((uint16_t*)v_host)[i]);
        } else {
            ((float*)k_host)[i] = k[i];
            ((float*)v_host)[i] = v[i];
        }
    }
    memset(o_host, 0xff, q_count * elem); /* NaN pattern: unwritten elements show */

    void *q_dev = q_host, *k_dev = k_host, *v_dev = v_host, *o_dev = o_host, *lens_dev = (void*)kValidLens;
    pattn_device_type where = PATTN_DEVICE_CPU;
    if (on_gpu) {
        where = PATTN_DEVICE_CUDA;
        CHECK(pattn_device_malloc(0, q_count * elem, &q_dev));
        CHECK(pattn_device_malloc(0, kv_count * elem, &k_dev));
        CHECK(pattn_device_malloc(0, kv_count * elem, &v_dev));
        CHECK(pattn_device_malloc(0, q_count * elem, &o_dev));
        CHECK(pattn_device_malloc(0, sizeof kValidLens, &lens_dev));
        CHECK(pattn_memcpy(q_dev, q_host, q_count * elem));
        CHECK(pattn_memcpy(k_dev, k_host, kv_count * elem));
        CHECK(pattn_memcpy(v_dev, v_host, kv_count * elem));
        CHECK(pattn_memcpy(o_dev, o_host, q_count * elem));
        CHECK(pattn_memcpy(lens_dev, kValidLens, sizeof kValidLens));
    }

    pattn_prefill_params params;
    memset(&params, 0, sizeof params);
    params.struct_size = sizeof params;
    params.mask_mode = PATTN_MASK_CAUSAL_PADDED_LEFT;
    params.q = describe(q_dev, dtype, where, NUM_QO_HEADS);
    params.k = describe(k_dev, dtype, where, NUM_KV_HEADS);
    params.v = describe(v_dev, dtype, where, NUM_KV_HEADS);
    params.o = describe(o_dev, dtype, where, NUM_QO_HEADS);
    /* params.lse.data == NULL: no lse wanted; kv_valid_lens absent: equal to q's. */
    params.q_valid_lens.data = lens_dev;
    params.q_valid_lens.dtype = PATTN_DTYPE_I32;
    params.q_valid_lens.device_type = where;
    params.q_valid_lens.ndim = 1;
    params.q_valid_lens.shape[0] = BATCH;
    params.q_valid_lens.strides[0] = 1;
    params.softmax_scale = 0.0f; /* 1/sqrt(head_dim) */
    /* Attention variants stay off here (zero): a sliding-window layer sets
       window_enabled = 1 and window_left (e.g. 4096, -1 = unlimited); a
       Gemma-2-style layer sets logits_soft_cap (e.g. 50.0f). See
       docs/semantics.md. */
    params.window_enabled = 0;
    params.logits_soft_cap = 0.0f;

    CHECK(pattn_sequence_prefill(&params, NULL));
    if (on_gpu) {
        CHECK(pattn_device_synchronize(0));
        CHECK(pattn_memcpy(o_host, o_dev, q_count * elem));
        pattn_device_free(q_dev); pattn_device_free(k_dev); pattn_device_free(v_dev);
        pattn_device_free(o_dev); pattn_device_free(lens_dev);
    }
    for (size_t i = 0; i < q_count; ++i)
        o[i] = on_gpu ? bf16_to_float(((uint16_t*)o_host)[i]) : ((float*)o_host)[i];

    /* Every row: real rows against the reference, padding rows exactly 0. */
    double worst = 0.0, worst_pooled = 0.0;
    int mismatches = 0;
    double expected[HEAD_DIM];
    for (int b = 0; b < BATCH; ++b) {
        const int first = SEQ_LEN - kValidLens[b];
        for (int s = 0; s < SEQ_LEN; ++s) {
            for (int h = 0; h < NUM_QO_HEADS; ++h) {
                const float* row = o + offset_of(b, s, h, NUM_QO_HEADS);
                if (s < first) {
                    for (int d = 0; d < HEAD_DIM; ++d)
                        if (row[d] != 0.0f) {
                            if (mismatches++ < 10)
                                printf("padding row b=%d s=%d h=%d d=%d holds %g, expected 0\n", b, s, h, d, row[d]);
                            break;
                        }
                    continue;
                }
                reference_row(q, k, v, b, s - first, h, expected);
                double diff = 0.0, norm = 0.0;
                for (int d = 0; d < HEAD_DIM; ++d) {
                    diff += (row[d] - expected[d]) * (row[d] - expected[d]);
                    norm += expected[d] * expected[d];
                }
                double rel = sqrt(diff) / (norm > 0.0 ? sqrt(norm) : 1.0);
                if (rel != rel) rel = INFINITY; /* NaN is a mismatch */
                if (rel > worst) worst = rel;
                if (s == SEQ_LEN - 1 && rel > worst_pooled) worst_pooled = rel;
                if (rel > tolerance && mismatches++ < 10)
                    printf("row b=%d s=%d h=%d: relative error %.3g > %.3g\n", b, s, h, rel, tolerance);
            }
        }
    }

    /* Last-token pooling: the embedding of sequence b is row SEQ_LEN - 1,
     * all heads concatenated, L2-normalized. */
    printf("PaddedAttention %s on %s (%s), batch %d x %d tokens, heads %d/%d, head_dim %d\n",
           pattn_version_string(), on_gpu ? "cuda:0" : "cpu", on_gpu ? "bf16" : "f32",
           BATCH, SEQ_LEN, NUM_QO_HEADS, NUM_KV_HEADS, HEAD_DIM);
    printf("%4s %6s %12s %10s\n", "seq", "length", "|embedding|", "emb[0]");
    for (int b = 0; b < BATCH; ++b) {
        const float* pooled = o + offset_of(b, SEQ_LEN - 1, 0, NUM_QO_HEADS);
        double norm = 0.0;
        for (int i = 0; i < NUM_QO_HEADS * HEAD_DIM; ++i) norm += (double)pooled[i] * pooled[i];
        norm = sqrt(norm);
        printf("%4d %6d %12.5f %10.5f\n", b, kValidLens[b], norm, norm > 0.0 ? pooled[0] / norm : 0.0);
    }
    printf("max relative error: all rows %.3e, pooled rows %.3e (tolerance %.1e)\n", worst, worst_pooled, tolerance);
    printf("c sample: %s\n", mismatches ? "FAILED" : "passed");

    free(q); free(k); free(v); free(o);
    free(q_host); free(k_host); free(v_host); free(o_host);
    return mismatches ? 1 : 0;
}
