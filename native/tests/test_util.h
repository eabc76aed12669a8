/*
 * test_util.h — header-only helpers for the C tests of PaddedAttention (C99).
 *
 * Include it from exactly one translation unit per test program (every
 * native/tests/test_*.c is its own executable). It uses only the public
 * header; the float64 reference below is written from docs/semantics.md and shares
 * no code with the library (it must never include anything from native/src).
 *
 * Checks and exit codes
 *   TEST_SKIP                      exit code 77: ctest reports the test skipped
 *   CHECK(cond)                    counts a failure and prints file:line
 *   CHECK_MSG(cond, fmt, ...)      the same with a printf-style explanation
 *   CHECK_STATUS(call, expected)   a pattn_* call returns `expected`; prints
 *                                  both status names and the library message
 *   CHECK_OK(call)                 CHECK_STATUS(call, PATTN_STATUS_SUCCESS)
 *   CHECK_ERROR_MENTIONS(text)     pattn_last_error_message() contains `text`
 *   tu_failures                    the failure count of this program
 *   tu_finish(name)                prints a summary, returns 0 or 1 for main()
 *
 * Random numbers (deterministic, seeded; splitmix64)
 *   tu_rng r = tu_rng_make(seed);
 *   tu_rng_u64(&r), tu_rng_uniform(&r, lo, hi) (float), tu_rng_int(&r, lo, hi)
 *   (inclusive bounds).
 *
 * Element conversions (round to nearest even; NaN stays NaN)
 *   tu_f32_to_f16 / tu_f16_to_f32, tu_f32_to_bf16 / tu_bf16_to_f32,
 *   tu_dtype_size(dtype), tu_load(ptr, dtype, index) -> double,
 *   tu_store(ptr, dtype, index, double value) (rounds to the dtype).
 *
 * Tensors (host-side descriptions; data may point to host or device memory)
 *   tu_tensor_4d(data, dtype, dev, id, b, s, h, d)  contiguous [b, s, h, d]
 *   tu_tensor_3d(data, dtype, dev, id, b, s, h)     contiguous [b, s, h]
 *   tu_tensor_1d(data, dtype, dev, id, n)           contiguous [n]
 *   tu_tensor_span(t)   elements from data[0] to the last element + 1
 *   tu_tensor_offset(t, i0, i1, i2, i3)  element offset of an index (unused
 *                                        trailing indices are 0)
 *   tu_fill_uniform(ptr, dtype, count, rng, lo, hi)   random fill of a buffer
 *   tu_fill_nan(ptr, dtype, count)     NaN bit patterns everywhere (poison)
 *   tu_poison_padding(t4d, lens, left_padded, value)  writes `value` (NaN or
 *     Inf) into every padding sequence row of a host [b, s, h, d] tensor;
 *     lens == NULL means no padding.
 *
 * Float64 reference of masked attention (docs/semantics.md)
 *   tu_ref_problem p = {0};  fill dtype, sizes, host q/k/v views (pattn_tensor
 *   with host data), optional host lengths, causal/left_padded (or use
 *   tu_mask_mode_flags), scale (0: 1/sqrt(head_dim)), clamp_lengths (1: clamp
 *   lengths into range as the kernels do for device lengths).
 *   tu_reference_attention(&p, ref_o, ref_lse): ref_o [b, q_len, hq, d] and
 *   ref_lse [b, q_len, hq] contiguous doubles; rows that see nothing get o = 0
 *   and lse = -inf.
 *   tu_check_attention(label, &p, o_host_view, lse_host_view_or_NULL, ref_o,
 *   ref_lse) compares per row: real rows need ||o - ref|| / ||ref|| below
 *   tu_rel_tolerance(dtype) and |lse - ref| below tu_lse_tolerance(dtype);
 *   rows that see nothing need o exactly 0 and lse exactly -inf. Returns the
 *   number of failing rows (also added to tu_failures; the first few print).
 *
 * Call parameters
 *   tu_prefill_params(mode, q, k, v, o, lse), tu_decode_params(side, q,
 *   k_cache, v_cache, o, lse): zeroed params with struct_size set.
 *
 * Device helpers (use the library's own memory API)
 *   tu_have_gpu()                        1 when pattn_device_count() > 0
 *   tu_upload(host, bytes, device_id)    device copy of a host buffer (or NULL)
 *   tu_download(host, device, bytes)     copy back; returns the status
 *   tu_random_device(rng, dtype, n, lo, hi) device buffer of uniform values
 *
 * A complete prefill case (used by test_prefill_cpu.c and test_prefill_gpu.c)
 *   tu_prefill_case c = {0}; set mode/use_lens/separate_kv/dtype/sizes/...;
 *   tu_run_prefill_case(&c, label) builds random inputs in the chosen layout
 *   (contiguous, a packed-QKV view, or strided outputs with gaps), picks
 *   valid lengths (row 0 full, row 1 empty, row 2 one token, the rest random
 *   or odd), writes NaN/Inf into the padding of q/k/v, poisons o and lse,
 *   runs pattn_sequence_prefill on host or CUDA memory, and checks every row
 *   against the float64 reference (and that gaps between strided output rows
 *   stay untouched). Returns the number of failures it added.
 */
#ifndef PADDEDATTN_TEST_UTIL_H
#define PADDEDATTN_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paddedattn.h"

#if defined(__GNUC__)
#  define TU_UNUSED __attribute__((unused))
#else
#  define TU_UNUSED
#endif

/* ------------------------------------------------------------------------ */
/* Checks                                                                   */
/* ------------------------------------------------------------------------ */

#define TEST_SKIP 77

static int tu_failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            tu_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        if (!(cond)) {                                                           \
            tu_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

#define CHECK_STATUS(call, expected)                                             \
    do {                                                                         \
        pattn_status tu_got_ = (call);                                           \
        pattn_status tu_want_ = (expected);                                      \
        if (tu_got_ != tu_want_) {                                               \
            tu_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (message: \"%s\")\n", \
                    __FILE__, __LINE__, #call, pattn_status_string(tu_got_),     \
                    pattn_status_string(tu_want_), pattn_last_error_message());  \
        }                                                                        \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, PATTN_STATUS_SUCCESS)

#define CHECK_ERROR_MENTIONS(text)                                               \
    do {                                                                         \
        const char* tu_msg_ = pattn_last_error_message();                        \
        if (tu_msg_ == NULL || strstr(tu_msg_, (text)) == NULL) {                \
            tu_failures++;                                                       \
            fprintf(stderr, "%s:%d: error message \"%s\" does not mention \"%s\"\n", \
                    __FILE__, __LINE__, tu_msg_ ? tu_msg_ : "(null)", (text));   \
        }                                                                        \
    } while (0)

static TU_UNUSED int tu_finish(const char* name) {
    if (tu_failures == 0) {
        printf("%s: all checks passed\n", name);
        return 0;
    }
    printf("%s: %d check(s) FAILED\n", name, tu_failures);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Random numbers: splitmix64                                               */
/* ------------------------------------------------------------------------ */

typedef struct tu_rng {
    uint64_t state;
} tu_rng;

static TU_UNUSED tu_rng tu_rng_make(uint64_t seed) {
    tu_rng r;
    r.state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    return r;
}

static TU_UNUSED uint64_t tu_rng_u64(tu_rng* r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static TU_UNUSED float tu_rng_uniform(tu_rng* r, float lo, float hi) {
    double u = (double)(tu_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

/* Uniform integer in [lo, hi] (inclusive). */
static TU_UNUSED int32_t tu_rng_int(tu_rng* r, int32_t lo, int32_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo + 1);
    return (int32_t)((int64_t)lo + (int64_t)(tu_rng_u64(r) % span));
}

/* ------------------------------------------------------------------------ */
/* Element conversions                                                      */
/* ------------------------------------------------------------------------ */

static TU_UNUSED uint32_t tu_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static TU_UNUSED float tu_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static TU_UNUSED uint16_t tu_f32_to_bf16(float f) {
    uint32_t u = tu_f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7FFFu + ((u >> 16) & 1u);                                             /* nearest even */
    return (uint16_t)(u >> 16);
}

static TU_UNUSED float tu_bf16_to_f32(uint16_t h) { return tu_bits_f32((uint32_t)h << 16); }

static TU_UNUSED uint16_t tu_f32_to_f16(float f) {
    uint32_t u = tu_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t abs = u & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);        /* NaN */
    if (abs >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);       /* rounds to >= 65520: Inf */
    if (abs < 0x38800000u) {                                          /* below 2^-14: subnormal or 0 */
        /* value = abs_float; f16 subnormal unit is 2^-24 */
        float a = tu_bits_f32(abs);
        float scaled = a * 16777216.0f;                               /* a / 2^-24, exact */
        /* round half to even */
        float fl = floorf(scaled);
        float diff = scaled - fl;
        uint32_t m = (uint32_t)fl;
        if (diff > 0.5f || (diff == 0.5f && (m & 1u))) m++;
        return (uint16_t)(sign | m);                                  /* m == 0x400 becomes the smallest normal */
    }
    {
        uint32_t exp = ((abs >> 23) - 127 + 15);
        uint32_t mant = abs & 0x7FFFFFu;
        uint32_t h = (exp << 10) | (mant >> 13);
        uint32_t rest = mant & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;     /* carry may bump the exponent */
        return (uint16_t)(sign | h);
    }
}

static TU_UNUSED float tu_f16_to_f32(uint16_t h) {
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t exp = ((uint32_t)h >> 10) & 0x1Fu;
    uint32_t mant = (uint32_t)h & 0x3FFu;
    if (exp == 0x1F) return tu_bits_f32(sign | 0x7F800000u | (mant << 13));
    if (exp == 0) {
        float v = (float)mant * (1.0f / 16777216.0f);                 /* mant * 2^-24 */
        return sign ? -v : v;
    }
    return tu_bits_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

static TU_UNUSED size_t tu_dtype_size(pattn_dtype dtype) {
    switch (dtype) {
        case PATTN_DTYPE_F32: return 4;
        case PATTN_DTYPE_F16: return 2;
        case PATTN_DTYPE_BF16: return 2;
        case PATTN_DTYPE_I32: return 4;
    }
    return 0;
}

static TU_UNUSED const char* tu_dtype_name(pattn_dtype dtype) {
    switch (dtype) {
        case PATTN_DTYPE_F32: return "f32";
        case PATTN_DTYPE_F16: return "f16";
        case PATTN_DTYPE_BF16: return "bf16";
        case PATTN_DTYPE_I32: return "i32";
    }
    return "?";
}

static TU_UNUSED double tu_load(const void* base, pattn_dtype dtype, size_t index) {
    switch (dtype) {
        case PATTN_DTYPE_F32: return ((const float*)base)[index];
        case PATTN_DTYPE_F16: return tu_f16_to_f32(((const uint16_t*)base)[index]);
        case PATTN_DTYPE_BF16: return tu_bf16_to_f32(((const uint16_t*)base)[index]);
        case PATTN_DTYPE_I32: return ((const int32_t*)base)[index];
    }
    return NAN;
}

static TU_UNUSED void tu_store(void* base, pattn_dtype dtype, size_t index, double value) {
    switch (dtype) {
        case PATTN_DTYPE_F32: ((float*)base)[index] = (float)value; break;
        case PATTN_DTYPE_F16: ((uint16_t*)base)[index] = tu_f32_to_f16((float)value); break;
        case PATTN_DTYPE_BF16: ((uint16_t*)base)[index] = tu_f32_to_bf16((float)value); break;
        case PATTN_DTYPE_I32: ((int32_t*)base)[index] = (int32_t)value; break;
    }
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */
/* ------------------------------------------------------------------------ */

static TU_UNUSED pattn_tensor tu_tensor_nd(void* data, pattn_dtype dtype, pattn_device_type dev,
                                           int32_t device_id, int32_t ndim, const int64_t* shape) {
    pattn_tensor t;
    int i;
    int64_t stride = 1;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.device_type = dev;
    t.device_id = device_id;
    t.ndim = ndim;
    for (i = ndim - 1; i >= 0; --i) {
        t.shape[i] = shape[i];
        t.strides[i] = stride;
        stride *= shape[i] > 0 ? shape[i] : 1;
    }
    return t;
}

static TU_UNUSED pattn_tensor tu_tensor_4d(void* data, pattn_dtype dtype, pattn_device_type dev,
                                           int32_t device_id, int64_t b, int64_t s, int64_t h,
                                           int64_t d) {
    int64_t shape[4];
    shape[0] = b; shape[1] = s; shape[2] = h; shape[3] = d;
    return tu_tensor_nd(data, dtype, dev, device_id, 4, shape);
}

static TU_UNUSED pattn_tensor tu_tensor_3d(void* data, pattn_dtype dtype, pattn_device_type dev,
                                           int32_t device_id, int64_t b, int64_t s, int64_t h) {
    int64_t shape[3];
    shape[0] = b; shape[1] = s; shape[2] = h;
    return tu_tensor_nd(data, dtype, dev, device_id, 3, shape);
}

static TU_UNUSED pattn_tensor tu_tensor_1d(void* data, pattn_dtype dtype, pattn_device_type dev,
                                           int32_t device_id, int64_t n) {
    return tu_tensor_nd(data, dtype, dev, device_id, 1, &n);
}

/* Elements from data[0] up to one past the farthest element (0 if empty). */
static TU_UNUSED size_t tu_tensor_span(const pattn_tensor* t) {
    int64_t last = 0;
    int i;
    for (i = 0; i < t->ndim; ++i) {
        if (t->shape[i] <= 0) return 0;
        last += (t->shape[i] - 1) * t->strides[i];
    }
    return (size_t)(last + 1);
}

static TU_UNUSED int64_t tu_tensor_offset(const pattn_tensor* t, int64_t i0, int64_t i1,
                                          int64_t i2, int64_t i3) {
    int64_t idx[4];
    int64_t off = 0;
    int i;
    idx[0] = i0; idx[1] = i1; idx[2] = i2; idx[3] = i3;
    for (i = 0; i < t->ndim && i < 4; ++i) off += idx[i] * t->strides[i];
    return off;
}

static TU_UNUSED void tu_fill_uniform(void* data, pattn_dtype dtype, size_t count, tu_rng* rng,
                                      float lo, float hi) {
    size_t i;
    for (i = 0; i < count; ++i) tu_store(data, dtype, i, tu_rng_uniform(rng, lo, hi));
}

/* Poison: NaN bit patterns (with a recognizable payload for f32). */
static TU_UNUSED void tu_fill_nan(void* data, pattn_dtype dtype, size_t count) {
    size_t i;
    for (i = 0; i < count; ++i) {
        switch (dtype) {
            case PATTN_DTYPE_F32: {
                uint32_t bits = 0x7FC0DEADu;
                memcpy((char*)data + 4 * i, &bits, 4);
                break;
            }
            case PATTN_DTYPE_F16: ((uint16_t*)data)[i] = 0x7E5Au; break;
            case PATTN_DTYPE_BF16: ((uint16_t*)data)[i] = 0x7FDAu; break;
            case PATTN_DTYPE_I32: ((int32_t*)data)[i] = (int32_t)0x7FC0DEAD; break;
        }
    }
}

/* Writes `value` into every element of the padding sequence rows of a host
 * [b, s, h, d] tensor. Row b has lens[b] real rows (clamped to [0, s]), at
 * the end when left_padded, else at the start. */
static TU_UNUSED void tu_poison_padding(const pattn_tensor* t, const int32_t* lens,
                                        int left_padded, double value) {
    int64_t b, s, h, d;
    if (lens == NULL) return;
    for (b = 0; b < t->shape[0]; ++b) {
        int64_t len = lens[b] < 0 ? 0 : (lens[b] > t->shape[1] ? t->shape[1] : lens[b]);
        for (s = 0; s < t->shape[1]; ++s) {
            int real = left_padded ? (s >= t->shape[1] - len) : (s < len);
            if (real) continue;
            for (h = 0; h < t->shape[2]; ++h)
                for (d = 0; d < t->shape[3]; ++d)
                    tu_store(t->data, t->dtype, (size_t)tu_tensor_offset(t, b, s, h, d), value);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Float64 reference of masked attention (docs/semantics.md)                */
/* ------------------------------------------------------------------------ */

typedef struct tu_ref_problem {
    pattn_dtype dtype;
    int32_t batch, q_len, kv_len;
    int32_t num_qo_heads, num_kv_heads, head_dim;
    pattn_tensor q, k, v;          /* host views [b, len, heads, d] */
    const int32_t* q_lens;         /* host, [batch] or NULL (every query row real) */
    const int32_t* kv_lens;        /* host, [batch] or NULL (= q_lens, or kv_len when both NULL) */
    int causal;
    int left_padded;
    double scale;                  /* 0: 1/sqrt(head_dim) */
    int clamp_lengths;             /* 1: lengths outside [0, len] are clamped */
    /* Sliding window (has_window; each side -1 = unlimited) around the
       diagonal d = i + kv - qv: keys d - window_left .. d + window_right;
       soft_cap > 0: scores become soft_cap * tanh(score / soft_cap). */
    int has_window;
    int32_t window_left, window_right;
    double soft_cap;
} tu_ref_problem;

static TU_UNUSED void tu_mask_mode_flags(pattn_mask_mode mode, int* causal, int* left_padded) {
    *causal = (mode == PATTN_MASK_CAUSAL_PADDED_LEFT || mode == PATTN_MASK_CAUSAL_PADDED_RIGHT);
    *left_padded = (mode == PATTN_MASK_CAUSAL_PADDED_LEFT || mode == PATTN_MASK_PADDED_LEFT);
}

static TU_UNUSED int32_t tu_clamp_i32(int32_t x, int32_t hi) {
    return x < 0 ? 0 : (x > hi ? hi : x);
}

static TU_UNUSED void tu_reference_attention(const tu_ref_problem* p, double* ref_o,
                                             double* ref_lse) {
    const int32_t group = p->num_qo_heads / p->num_kv_heads;
    const double scale = p->scale != 0.0 ? p->scale : 1.0 / sqrt((double)p->head_dim);
    double* scores = (double*)malloc(sizeof(double) * (size_t)(p->kv_len > 0 ? p->kv_len : 1));
    char* visible = (char*)malloc((size_t)(p->kv_len > 0 ? p->kv_len : 1));
    double* qrow = (double*)malloc(sizeof(double) * (size_t)(p->head_dim > 0 ? p->head_dim : 1));
    int32_t b, h, r, c, d;
    for (b = 0; b < p->batch; ++b) {
        /* Real query and key counts of this row. */
        int32_t qv = p->q_lens ? p->q_lens[b] : p->q_len;
        int32_t kv = p->kv_lens ? p->kv_lens[b] : (p->q_lens ? p->q_lens[b] : p->kv_len);
        if (p->clamp_lengths) {
            qv = tu_clamp_i32(qv, p->q_len);
            kv = tu_clamp_i32(kv, p->kv_len);
        }
        for (h = 0; h < p->num_qo_heads; ++h) {
            const int32_t hk = h / group;
            for (r = 0; r < p->q_len; ++r) {
                double* out = ref_o + (((size_t)b * p->q_len + r) * p->num_qo_heads + h) * p->head_dim;
                double* lse = ref_lse + ((size_t)b * p->q_len + r) * p->num_qo_heads + h;
                /* Index i of this query among the real ones, or -1 for padding. */
                int32_t i = -1;
                double m = -INFINITY, sum = 0.0;
                int any = 0;
                if (p->left_padded) {
                    if (r >= p->q_len - qv) i = r - (p->q_len - qv);
                } else {
                    if (r < qv) i = r;
                }
                for (d = 0; d < p->head_dim; ++d) out[d] = 0.0;
                *lse = -INFINITY;
                if (i < 0) continue;
                for (d = 0; d < p->head_dim; ++d)
                    qrow[d] = tu_load(p->q.data, p->dtype, (size_t)tu_tensor_offset(&p->q, b, r, h, d));
                for (c = 0; c < p->kv_len; ++c) {
                    int32_t j = -1;
                    visible[c] = 0;
                    if (p->left_padded) {
                        if (c >= p->kv_len - kv) j = c - (p->kv_len - kv);
                    } else {
                        if (c < kv) j = c;
                    }
                    if (j < 0) continue;
                    if (p->causal && !((int64_t)j <= (int64_t)i + kv - qv)) continue;
                    if (p->has_window && p->window_left >= 0 && (int64_t)j < (int64_t)i + kv - qv - p->window_left)
                        continue;
                    if (p->has_window && p->window_right >= 0 && (int64_t)j > (int64_t)i + kv - qv + p->window_right)
                        continue;
                    visible[c] = 1;
                    any = 1;
                    {
                        double dot = 0.0;
                        for (d = 0; d < p->head_dim; ++d)
                            dot += qrow[d] *
                                   tu_load(p->k.data, p->dtype, (size_t)tu_tensor_offset(&p->k, b, c, hk, d));
                        scores[c] = scale * dot;
                        if (p->soft_cap > 0.0) scores[c] = p->soft_cap * tanh(scores[c] / p->soft_cap);
                        if (scores[c] > m) m = scores[c];
                    }
                }
                if (!any) continue;
                for (c = 0; c < p->kv_len; ++c) {
                    if (!visible[c]) continue;
                    scores[c] = exp(scores[c] - m);
                    sum += scores[c];
                }
                for (c = 0; c < p->kv_len; ++c) {
                    double w;
                    if (!visible[c]) continue;
                    w = scores[c] / sum;
                    for (d = 0; d < p->head_dim; ++d)
                        out[d] += w * tu_load(p->v.data, p->dtype, (size_t)tu_tensor_offset(&p->v, b, c, hk, d));
                }
                *lse = m + log(sum);
            }
        }
    }
    free(scores);
    free(visible);
    free(qrow);
}

static TU_UNUSED double tu_rel_tolerance(pattn_dtype dtype) {
    switch (dtype) {
        case PATTN_DTYPE_F32: return 1e-5;
        case PATTN_DTYPE_F16: return 2e-3;
        case PATTN_DTYPE_BF16: return 1.6e-2;
        default: return 0.0;
    }
}

static TU_UNUSED double tu_lse_tolerance(pattn_dtype dtype) {
    return dtype == PATTN_DTYPE_F32 ? 1e-5 : 1e-3;
}

/* Compares a host output view (and optional host lse view) with the
 * reference. Returns the number of failing rows. */
static TU_UNUSED int tu_check_attention(const char* label, const tu_ref_problem* p,
                                        const pattn_tensor* o, const pattn_tensor* lse,
                                        const double* ref_o, const double* ref_lse) {
    const double tol = tu_rel_tolerance(p->dtype);
    const double lse_tol = tu_lse_tolerance(p->dtype);
    int bad = 0;
    int32_t b, r, h, d;
    for (b = 0; b < p->batch; ++b)
        for (r = 0; r < p->q_len; ++r)
            for (h = 0; h < p->num_qo_heads; ++h) {
                const size_t row = ((size_t)b * p->q_len + r) * p->num_qo_heads + h;
                const double* ref = ref_o + row * p->head_dim;
                const double ref_l = ref_lse[row];
                int row_bad = 0;
                double err2 = 0.0, ref2 = 0.0, rel = 0.0, got_l = 0.0;
                if (isinf(ref_l) && ref_l < 0) {
                    /* Sees nothing: exactly 0 and -inf. */
                    for (d = 0; d < p->head_dim; ++d) {
                        double x = tu_load(o->data, o->dtype, (size_t)tu_tensor_offset(o, b, r, h, d));
                        if (x != 0.0) row_bad = 1;
                    }
                    if (lse) {
                        got_l = tu_load(lse->data, lse->dtype, (size_t)tu_tensor_offset(lse, b, r, h, 0));
                        if (!(isinf(got_l) && got_l < 0)) row_bad = 2;
                    }
                } else {
                    for (d = 0; d < p->head_dim; ++d) {
                        double x = tu_load(o->data, o->dtype, (size_t)tu_tensor_offset(o, b, r, h, d));
                        err2 += (x - ref[d]) * (x - ref[d]);
                        ref2 += ref[d] * ref[d];
                    }
                    rel = ref2 > 0.0 ? sqrt(err2 / ref2) : sqrt(err2);
                    if (!(rel < tol)) row_bad = 3;
                    if (lse) {
                        got_l = tu_load(lse->data, lse->dtype, (size_t)tu_tensor_offset(lse, b, r, h, 0));
                        if (!(fabs(got_l - ref_l) < lse_tol)) row_bad = 4;
                    }
                }
                if (row_bad) {
                    if (bad < 5)
                        fprintf(stderr,
                                "  [%s] b=%d row=%d head=%d: %s (rel err %.3g, tol %.3g; lse %.9g, ref %.9g)\n",
                                label, b, r, h,
                                row_bad == 1   ? "o should be exactly 0"
                                : row_bad == 2 ? "lse should be -inf"
                                : row_bad == 3 ? "o differs from the reference"
                                               : "lse differs from the reference",
                                rel, tol, got_l, ref_l);
                    bad++;
                }
            }
    if (bad) {
        fprintf(stderr, "%s: %d bad row(s)\n", label, bad);
        tu_failures++;
    }
    return bad;
}

/* ------------------------------------------------------------------------ */
/* Call parameters                                                          */
/* ------------------------------------------------------------------------ */

/* Zeroed params with struct_size, the mode and the tensors set; lengths,
   scale (and for decode num_splits) stay 0 unless the caller sets them. */
static TU_UNUSED pattn_prefill_params tu_prefill_params(pattn_mask_mode mode, pattn_tensor q, pattn_tensor k,
                                                        pattn_tensor v, pattn_tensor o, pattn_tensor lse) {
    const pattn_prefill_params p = {.struct_size = sizeof(pattn_prefill_params), .mask_mode = mode,
                                    .q = q, .k = k, .v = v, .o = o, .lse = lse};
    return p;
}

static TU_UNUSED pattn_decode_params tu_decode_params(pattn_padding_side side, pattn_tensor q, pattn_tensor k_cache,
                                                      pattn_tensor v_cache, pattn_tensor o, pattn_tensor lse) {
    const pattn_decode_params p = {.struct_size = sizeof(pattn_decode_params), .padding_side = side, .q = q,
                                   .k_cache = k_cache, .v_cache = v_cache, .o = o, .lse = lse};
    return p;
}

/* ------------------------------------------------------------------------ */
/* Device helpers                                                           */
/* ------------------------------------------------------------------------ */

static TU_UNUSED int tu_have_gpu(void) {
    int32_t n = 0;
    if (pattn_device_count(&n) != PATTN_STATUS_SUCCESS) return 0;
    return n > 0;
}

static TU_UNUSED void* tu_upload(const void* host, size_t bytes, int32_t device_id) {
    void* dev = NULL;
    /* A real pointer even for empty tensors. */
    if (pattn_device_malloc(device_id, bytes > 0 ? bytes : 16, &dev) != PATTN_STATUS_SUCCESS) return NULL;
    if (host && bytes > 0 && pattn_memcpy(dev, host, bytes) != PATTN_STATUS_SUCCESS) {
        pattn_device_free(dev);
        return NULL;
    }
    return dev;
}

static TU_UNUSED pattn_status tu_download(void* host, const void* device, size_t bytes) {
    if (bytes == 0) return PATTN_STATUS_SUCCESS;
    return pattn_memcpy(host, device, bytes);
}

/* A device buffer of `count` uniform values in [lo, hi) (or NULL). */
static TU_UNUSED void* tu_random_device(tu_rng* rng, pattn_dtype dtype, size_t count, float lo, float hi) {
    void* host = malloc(count * tu_dtype_size(dtype));
    void* dev = NULL;
    if (host == NULL) return NULL;
    tu_fill_uniform(host, dtype, count, rng, lo, hi);
    dev = tu_upload(host, count * tu_dtype_size(dtype), 0);
    free(host);
    return dev;
}


/* ------------------------------------------------------------------------ */
/* A complete prefill case                                                  */
/* ------------------------------------------------------------------------ */

enum {
    TU_LAYOUT_CONTIGUOUS = 0,
    TU_LAYOUT_PACKED_QKV = 1,   /* q, k, v are head ranges of one [b, s, hq + 2 hkv, d] buffer */
    TU_LAYOUT_STRIDED_OUT = 2   /* o rows padded by 8 elements, lse stored as [b, h, s] */
};

typedef struct tu_prefill_case {
    pattn_mask_mode mode;
    int use_lens;          /* pass q_valid_lens */
    int separate_kv;       /* pass kv_valid_lens too (always when q_len != kv_len and use_lens) */
    int kv_lens_only;      /* pass kv_valid_lens without q_valid_lens */
    pattn_dtype dtype;
    int32_t batch, q_len, kv_len, num_qo_heads, num_kv_heads, head_dim;
    int layout;
    int with_lse;
    int pad_poison;        /* 0: random padding, 1: NaN, 2: +Inf, 3: -Inf */
    float scale;           /* 0: default */
    int on_cuda;           /* run on CUDA device 0 */
    int lens_on_device;    /* CUDA: lengths in device memory */
    int out_of_range_lens; /* CUDA device lengths: some lengths outside [0, len] (clamped) */
    void* stream;
    uint64_t seed;
    /* Attention variants (0 = off): window on/off and its sides (-1 =
       unlimited), the logit soft cap, and a q range wider than [-3, 3]
       (q_range > 0) for large logits. */
    int window;
    int32_t window_left, window_right;
    float soft_cap;
    float q_range;
} tu_prefill_case;

static TU_UNUSED void tu_pick_lengths(tu_rng* rng, int32_t* lens, int32_t batch, int32_t len) {
    static const int32_t odd[] = {1, 7, 63, 65, 127, 333};
    int32_t b;
    for (b = 0; b < batch; ++b) {
        int32_t v;
        if (b == 0) v = len;
        else if (b == 1) v = 0;
        else if (b == 2) v = len > 0 ? 1 : 0;
        else if (tu_rng_int(rng, 0, 1)) v = tu_rng_int(rng, 0, len);
        else {
            v = odd[tu_rng_int(rng, 0, 5)];
            if (v > len) v = len;
        }
        lens[b] = v;
    }
}

static TU_UNUSED int tu_run_prefill_case(const tu_prefill_case* c, const char* label) {
    const int failures_before = tu_failures;
    const size_t es = tu_dtype_size(c->dtype);
    const int32_t B = c->batch, SQ = c->q_len, SK = c->kv_len, HQ = c->num_qo_heads,
                  HK = c->num_kv_heads, D = c->head_dim;
    const pattn_device_type dev = c->on_cuda ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
    tu_rng rng = tu_rng_make(c->seed);
    int causal, left;
    pattn_tensor q, k, v, o, lse, host_q, host_k, host_v, host_o, host_lse;
    void *qbuf = NULL, *kbuf = NULL, *vbuf = NULL, *obuf = NULL;
    float* lsebuf = NULL;
    size_t qbytes = 0, kbytes = 0, vbytes = 0, obytes = 0, lsebytes = 0;
    int32_t* q_lens = (int32_t*)malloc(sizeof(int32_t) * (size_t)(B > 0 ? B : 1));
    int32_t* kv_lens = (int32_t*)malloc(sizeof(int32_t) * (size_t)(B > 0 ? B : 1));
    int32_t* q_lens_passed = (int32_t*)malloc(sizeof(int32_t) * (size_t)(B > 0 ? B : 1));
    int32_t* kv_lens_passed = (int32_t*)malloc(sizeof(int32_t) * (size_t)(B > 0 ? B : 1));
    const int pass_q_lens = c->use_lens && !c->kv_lens_only;
    const int pass_kv_lens = c->kv_lens_only || (c->use_lens && (c->separate_kv || SQ != SK));
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *dlse = NULL, *dql = NULL, *dkl = NULL;
    double *ref_o, *ref_lse;
    pattn_prefill_params params;
    int32_t b;

    tu_mask_mode_flags(c->mode, &causal, &left);

    /* Host buffers in the chosen layout. */
    if (c->layout == TU_LAYOUT_PACKED_QKV) {
        const int64_t H = HQ + 2 * HK;
        const size_t count = (size_t)B * SQ * H * D;
        qbytes = count * es;
        qbuf = malloc(qbytes > 0 ? qbytes : 1);
        tu_fill_uniform(qbuf, c->dtype, count, &rng, -1.0f, 1.0f);
        q = tu_tensor_4d(qbuf, c->dtype, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
        q.strides[0] = (int64_t)SQ * H * D; q.strides[1] = H * D; q.strides[2] = D;
        k = q; k.shape[2] = HK; k.data = (char*)qbuf + (size_t)HQ * D * es;
        v = k; v.data = (char*)qbuf + (size_t)(HQ + HK) * D * es;
        /* q gets a wider range so that the softmax is not flat. */
        for (b = 0; b < B; ++b) {
            int32_t s, h, d;
            for (s = 0; s < SQ; ++s)
                for (h = 0; h < HQ; ++h)
                    for (d = 0; d < D; ++d)
                        tu_store(qbuf, c->dtype, (size_t)tu_tensor_offset(&q, b, s, h, d),
                                 tu_rng_uniform(&rng, -3.0f, 3.0f));
        }
    } else {
        qbytes = (size_t)B * SQ * HQ * D * es;
        kbytes = vbytes = (size_t)B * SK * HK * D * es;
        qbuf = malloc(qbytes > 0 ? qbytes : 1);
        kbuf = malloc(kbytes > 0 ? kbytes : 1);
        vbuf = malloc(vbytes > 0 ? vbytes : 1);
        tu_fill_uniform(qbuf, c->dtype, (size_t)B * SQ * HQ * D, &rng, c->q_range > 0 ? -c->q_range : -3.0f,
                        c->q_range > 0 ? c->q_range : 3.0f);
        tu_fill_uniform(kbuf, c->dtype, (size_t)B * SK * HK * D, &rng, -1.0f, 1.0f);
        tu_fill_uniform(vbuf, c->dtype, (size_t)B * SK * HK * D, &rng, -1.0f, 1.0f);
        q = tu_tensor_4d(qbuf, c->dtype, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
        k = tu_tensor_4d(kbuf, c->dtype, PATTN_DEVICE_CPU, 0, B, SK, HK, D);
        v = tu_tensor_4d(vbuf, c->dtype, PATTN_DEVICE_CPU, 0, B, SK, HK, D);
    }
    if (c->layout == TU_LAYOUT_STRIDED_OUT) {
        const int64_t DP = D + 8;
        const size_t count = (size_t)B * SQ * HQ * DP;
        obytes = count * es;
        obuf = malloc(obytes > 0 ? obytes : 1);
        tu_fill_nan(obuf, c->dtype, count);
        o = tu_tensor_4d(obuf, c->dtype, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
        o.strides[0] = (int64_t)SQ * HQ * DP; o.strides[1] = HQ * DP; o.strides[2] = DP;
        lsebytes = (size_t)B * HQ * SQ * sizeof(float);
        lsebuf = (float*)malloc(lsebytes > 0 ? lsebytes : 1);
        tu_fill_nan(lsebuf, PATTN_DTYPE_F32, (size_t)B * HQ * SQ);
        lse = tu_tensor_3d(lsebuf, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ);
        lse.strides[0] = (int64_t)HQ * SQ; lse.strides[1] = 1; lse.strides[2] = SQ;
    } else {
        obytes = (size_t)B * SQ * HQ * D * es;
        obuf = malloc(obytes > 0 ? obytes : 1);
        tu_fill_nan(obuf, c->dtype, (size_t)B * SQ * HQ * D);
        o = tu_tensor_4d(obuf, c->dtype, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
        lsebytes = (size_t)B * SQ * HQ * sizeof(float);
        lsebuf = (float*)malloc(lsebytes > 0 ? lsebytes : 1);
        tu_fill_nan(lsebuf, PATTN_DTYPE_F32, (size_t)B * SQ * HQ);
        lse = tu_tensor_3d(lsebuf, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ);
    }

    /* Valid lengths; the reference and the padding poison use the effective
       (clamped) values. */
    tu_pick_lengths(&rng, q_lens, B, SQ);
    if (pass_kv_lens) tu_pick_lengths(&rng, kv_lens, B, SK);
    for (b = 0; b < B; ++b) {
        if (!pass_q_lens) q_lens[b] = SQ;
        if (!pass_kv_lens) kv_lens[b] = c->use_lens ? q_lens[b] : SK;
        q_lens_passed[b] = q_lens[b];
        kv_lens_passed[b] = kv_lens[b];
    }
    if (c->out_of_range_lens) {
        /* Device lengths outside the range are clamped by the library. */
        for (b = 0; b < B; ++b) {
            if (b % 3 == 1) { q_lens_passed[b] = -5; kv_lens_passed[b] = -1000; }
            if (b % 3 == 2) { q_lens_passed[b] = SQ + 3; kv_lens_passed[b] = SK + 1000; }
        }
        for (b = 0; b < B; ++b) {
            q_lens[b] = pass_q_lens ? tu_clamp_i32(q_lens_passed[b], SQ) : SQ;
            kv_lens[b] = pass_kv_lens ? tu_clamp_i32(kv_lens_passed[b], SK) : q_lens[b];
        }
    }
    if (c->pad_poison) {
        const double value = c->pad_poison == 1 ? NAN : (c->pad_poison == 2 ? INFINITY : -INFINITY);
        if (c->use_lens || c->kv_lens_only) {
            tu_poison_padding(&q, q_lens, left, value);
            tu_poison_padding(&k, kv_lens, left, value);
            tu_poison_padding(&v, kv_lens, left, value);
        }
    }

    host_q = q; host_k = k; host_v = v; host_o = o; host_lse = lse;

    memset(&params, 0, sizeof params);
    params.struct_size = sizeof params;
    params.mask_mode = c->mode;
    params.softmax_scale = c->scale;
    params.window_enabled = c->window ? 1u : 0u;
    params.window_left = c->window_left;
    params.window_right = c->window_right;
    params.logits_soft_cap = c->soft_cap;
    if (c->on_cuda) {
        dq = tu_upload(qbuf, qbytes, 0);
        if (c->layout != TU_LAYOUT_PACKED_QKV) {
            dk = tu_upload(kbuf, kbytes, 0);
            dv = tu_upload(vbuf, vbytes, 0);
        }
        dout = tu_upload(obuf, obytes, 0);
        dlse = tu_upload(lsebuf, lsebytes, 0);
        CHECK_MSG(dq && dout && dlse && (c->layout == TU_LAYOUT_PACKED_QKV || (dk && dv)),
                  "[%s] device allocation failed: %s", label, pattn_last_error_message());
        if (!(dq && dout && dlse && (c->layout == TU_LAYOUT_PACKED_QKV || (dk && dv)))) goto cleanup;
        q.data = dq;
        if (c->layout == TU_LAYOUT_PACKED_QKV) {
            k.data = (char*)dq + ((char*)k.data - (char*)qbuf);
            v.data = (char*)dq + ((char*)v.data - (char*)qbuf);
        } else {
            k.data = dk;
            v.data = dv;
        }
        o.data = dout;
        lse.data = dlse;
        q.device_type = k.device_type = v.device_type = o.device_type = lse.device_type = dev;
    }
    params.q = q; params.k = k; params.v = v; params.o = o;
    if (c->with_lse) params.lse = lse;
    if (pass_q_lens || pass_kv_lens) {
        pattn_device_type ld = (c->on_cuda && c->lens_on_device) ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
        const int32_t* ql = q_lens_passed;
        const int32_t* kl = kv_lens_passed;
        if (ld == PATTN_DEVICE_CUDA) {
            dql = tu_upload(q_lens_passed, sizeof(int32_t) * (size_t)B, 0);
            dkl = tu_upload(kv_lens_passed, sizeof(int32_t) * (size_t)B, 0);
            ql = (const int32_t*)dql;
            kl = (const int32_t*)dkl;
        }
        if (pass_q_lens) params.q_valid_lens = tu_tensor_1d((void*)ql, PATTN_DTYPE_I32, ld, 0, B);
        if (pass_kv_lens) params.kv_valid_lens = tu_tensor_1d((void*)kl, PATTN_DTYPE_I32, ld, 0, B);
    }

    {
        pattn_status st = pattn_sequence_prefill(&params, c->stream);
        CHECK_MSG(st == PATTN_STATUS_SUCCESS, "[%s] pattn_sequence_prefill returned %s: %s", label,
                  pattn_status_string(st), pattn_last_error_message());
        if (st != PATTN_STATUS_SUCCESS) goto cleanup;
    }
    if (c->on_cuda) {
        CHECK_OK(pattn_stream_synchronize(c->stream));
        CHECK_OK(tu_download(obuf, dout, obytes));
        CHECK_OK(tu_download(lsebuf, dlse, lsebytes));
    }

    ref_o = (double*)malloc(sizeof(double) * ((size_t)B * SQ * HQ * D + 1));
    ref_lse = (double*)malloc(sizeof(double) * ((size_t)B * SQ * HQ + 1));
    {
        tu_ref_problem p;
        memset(&p, 0, sizeof p);
        p.dtype = c->dtype;
        p.batch = B; p.q_len = SQ; p.kv_len = SK;
        p.num_qo_heads = HQ; p.num_kv_heads = HK; p.head_dim = D;
        p.q = host_q; p.k = host_k; p.v = host_v;
        p.q_lens = q_lens; p.kv_lens = kv_lens;
        p.causal = causal; p.left_padded = left;
        p.scale = c->scale;
        p.has_window = c->window;
        p.window_left = c->window_left;
        p.window_right = c->window_right;
        p.soft_cap = c->soft_cap;
        tu_reference_attention(&p, ref_o, ref_lse);
        tu_check_attention(label, &p, &host_o, c->with_lse ? &host_lse : NULL, ref_o, ref_lse);
    }
    if (c->layout == TU_LAYOUT_STRIDED_OUT) {
        /* The gap after each strided output row is never written. */
        size_t i, count = (size_t)B * SQ * HQ, bad = 0;
        for (i = 0; i < count; ++i) {
            int e;
            for (e = 0; e < 8; ++e) {
                double x = tu_load(obuf, c->dtype, i * (size_t)(D + 8) + (size_t)D + (size_t)e);
                if (!isnan(x)) bad++;
            }
        }
        CHECK_MSG(bad == 0, "[%s] %zu elements between strided output rows were written", label, bad);
    }
    if (!c->with_lse) {
        size_t i, lbad = 0;
        for (i = 0; i < (size_t)B * SQ * HQ; ++i)
            if (!isnan(lsebuf[i])) lbad++;
        CHECK_MSG(lbad == 0, "[%s] lse was written although it was not requested", label);
    }
    free(ref_o);
    free(ref_lse);

cleanup:
    if (c->on_cuda) {
        pattn_device_free(dq); pattn_device_free(dk); pattn_device_free(dv);
        pattn_device_free(dout); pattn_device_free(dlse);
        pattn_device_free(dql); pattn_device_free(dkl);
    }
    free(qbuf); free(kbuf); free(vbuf); free(obuf); free(lsebuf);
    free(q_lens); free(kv_lens); free(q_lens_passed); free(kv_lens_passed);
    return tu_failures - failures_before;
}

#endif /* PADDEDATTN_TEST_UTIL_H */
