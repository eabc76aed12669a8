/* Every error path of the argument checking: the status and that the message
 * names the argument (and the value); status strings, versions, no-op calls,
 * struct_size, CUDA calls without a GPU or without CUDA in the build. */
#include "test_util.h"

#include <pthread.h>

enum { B = 3, SQ = 8, SK = 8, HQ = 4, HK = 2, D = 64 };

/* Host buffers of a valid f16 call (q, k, v, o, lse, lengths). */
static uint16_t g_q[B * SQ * HQ * D], g_k[B * SK * HK * D], g_v[B * SK * HK * D], g_o[B * SQ * HQ * D];
static float g_lse[B * SQ * HQ];
static int32_t g_qlens[B] = {8, 3, 0}, g_kvlens[B] = {8, 5, 1};
/* 16-byte aligned host memory that stands in for device memory in checks
 * that come before any pointer is looked at. */
static uint16_t g_fake_device[4096] __attribute__((aligned(64)));

static pattn_prefill_params valid_params(void) {
    pattn_prefill_params p = tu_prefill_params(
        PATTN_MASK_CAUSAL_PADDED_LEFT, tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D),
        tu_tensor_4d(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D),
        tu_tensor_3d(g_lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ));
    p.q_valid_lens = tu_tensor_1d(g_qlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    p.kv_valid_lens = tu_tensor_1d(g_kvlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    return p;
}

/* The same shapes on "CUDA device 0" (pointers into host memory: the checks
 * exercised with it fail before the memory is touched). */
static pattn_prefill_params cuda_params(void) {
    pattn_prefill_params p = valid_params();
    pattn_tensor* t[5] = {&p.q, &p.k, &p.v, &p.o, &p.lse};
    int i;
    for (i = 0; i < 5; ++i) {
        t[i]->device_type = PATTN_DEVICE_CUDA;
        t[i]->data = g_fake_device;
    }
    return p;
}

/* Breaks a copy of `base` (named `bad` in `breakage`), then expects `call`
 * on it to return `status` with a message that mentions `text`. */
#define EXPECT_BROKEN_THEN(type, call, base, breakage, status, check) \
    do {                                                            \
        type bad = (base);                                          \
        breakage;                                                   \
        CHECK_STATUS(call(&bad, NULL), status);                     \
        check;                                                      \
    } while (0)
#define EXPECT_BROKEN(type, call, base, breakage, status, text) \
    EXPECT_BROKEN_THEN(type, call, base, breakage, status, CHECK_ERROR_MENTIONS(text))

#define EXPECT_PREFILL(base, breakage, status, text) \
    EXPECT_BROKEN(pattn_prefill_params, pattn_sequence_prefill, base, breakage, status, text)
#define EXPECT_DECODE(base, breakage, status, text) \
    EXPECT_BROKEN(pattn_decode_params, pattn_decode, base, breakage, status, text)
#define EXPECT_MERGE(base, breakage, status, text) \
    EXPECT_BROKEN(pattn_merge_params, pattn_merge_states, base, breakage, status, text)

/* pattn_last_error_argument() names exactly `name`. */
#define CHECK_ERROR_ARGUMENT(name)                                                \
    do {                                                                          \
        const char* arg_ = pattn_last_error_argument();                           \
        CHECK_MSG(arg_ != NULL && strcmp(arg_, (name)) == 0,                      \
                  "argument \"%s\", expected \"%s\" (message: \"%s\")",          \
                  arg_ ? arg_ : "(null)", (name), pattn_last_error_message());    \
    } while (0)

/* Like EXPECT_*, and the failure names argument `arg`. */
#define EXPECT_ARG(type, call, base, breakage, status, arg) \
    EXPECT_BROKEN_THEN(type, call, base, breakage, status, CHECK_ERROR_ARGUMENT(arg))
#define EXPECT_PREFILL_ARG(base, breakage, status, arg) \
    EXPECT_ARG(pattn_prefill_params, pattn_sequence_prefill, base, breakage, status, arg)
#define EXPECT_DECODE_ARG(base, breakage, status, arg) \
    EXPECT_ARG(pattn_decode_params, pattn_decode, base, breakage, status, arg)
#define EXPECT_MERGE_ARG(base, breakage, status, arg) \
    EXPECT_ARG(pattn_merge_params, pattn_merge_states, base, breakage, status, arg)

static int is_cpu_only_build(void) {
    return strstr(pattn_version_string(), "CPU-only") != NULL;
}

static void test_versions_and_strings(void) {
    CHECK(pattn_abi_version() == PATTN_ABI_VERSION);
    CHECK(pattn_version_string() != NULL && strstr(pattn_version_string(), "0.1.0") != NULL);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_SUCCESS), "PATTN_STATUS_SUCCESS") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_INVALID_ARGUMENT), "PATTN_STATUS_INVALID_ARGUMENT") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_UNSUPPORTED), "PATTN_STATUS_UNSUPPORTED") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_DEVICE_MISMATCH), "PATTN_STATUS_DEVICE_MISMATCH") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_OUT_OF_MEMORY), "PATTN_STATUS_OUT_OF_MEMORY") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_CUDA_ERROR), "PATTN_STATUS_CUDA_ERROR") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_CUDA_NOT_BUILT), "PATTN_STATUS_CUDA_NOT_BUILT") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_NO_DEVICE), "PATTN_STATUS_NO_DEVICE") == 0);
    CHECK(strcmp(pattn_status_string(PATTN_STATUS_INTERNAL_ERROR), "PATTN_STATUS_INTERNAL_ERROR") == 0);
    CHECK(strcmp(pattn_status_string((pattn_status)99), "unknown status") == 0);
    CHECK(pattn_last_error_message() != NULL);
}

static void test_prefill_errors(void) {
    pattn_prefill_params p;
    tu_rng rng = tu_rng_make(7);
    tu_fill_uniform(g_q, PATTN_DTYPE_F16, sizeof g_q / 2, &rng, -1, 1);
    tu_fill_uniform(g_k, PATTN_DTYPE_F16, sizeof g_k / 2, &rng, -1, 1);
    tu_fill_uniform(g_v, PATTN_DTYPE_F16, sizeof g_v / 2, &rng, -1, 1);

    /* The baseline is valid, and success clears the message. */
    CHECK_STATUS(pattn_sequence_prefill(NULL, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("params");
    p = valid_params();
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK(strcmp(pattn_last_error_message(), "") == 0);

    /* The struct itself. */
    EXPECT_PREFILL(valid_params(), bad.struct_size = sizeof bad - 4,
        PATTN_STATUS_INVALID_ARGUMENT, "struct_size");
    EXPECT_PREFILL(valid_params(), bad.struct_size = 0,
        PATTN_STATUS_INVALID_ARGUMENT, "struct_size = 0");
    EXPECT_PREFILL(valid_params(), bad.reserved = 1,
        PATTN_STATUS_INVALID_ARGUMENT, "reserved = 1");
    EXPECT_PREFILL(valid_params(), bad.mask_mode = (pattn_mask_mode)9,
        PATTN_STATUS_INVALID_ARGUMENT, "mask_mode = 9");
    EXPECT_PREFILL(valid_params(), bad.softmax_scale = NAN,
        PATTN_STATUS_INVALID_ARGUMENT, "softmax_scale");

    /* Null data. */
    EXPECT_PREFILL(valid_params(), bad.q.data = NULL,
        PATTN_STATUS_INVALID_ARGUMENT, "q.data is NULL");
    EXPECT_PREFILL(valid_params(), bad.k.data = NULL,
        PATTN_STATUS_INVALID_ARGUMENT, "k.data is NULL");
    EXPECT_PREFILL(valid_params(), bad.v.data = NULL,
        PATTN_STATUS_INVALID_ARGUMENT, "v.data is NULL");
    EXPECT_PREFILL(valid_params(), bad.o.data = NULL,
        PATTN_STATUS_INVALID_ARGUMENT, "o.data is NULL");

    /* Rank, sizes, strides, enum values. */
    EXPECT_PREFILL(valid_params(), bad.q.ndim = 3,
        PATTN_STATUS_INVALID_ARGUMENT, "q.ndim = 3");
    EXPECT_PREFILL(valid_params(), bad.v.ndim = 5,
        PATTN_STATUS_INVALID_ARGUMENT, "v.ndim = 5");
    EXPECT_PREFILL(valid_params(), bad.lse.ndim = 4,
        PATTN_STATUS_INVALID_ARGUMENT, "lse.ndim = 4");
    EXPECT_PREFILL(valid_params(), bad.q_valid_lens.ndim = 2,
        PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens.ndim = 2");
    EXPECT_PREFILL(valid_params(), bad.k.shape[1] = -1,
        PATTN_STATUS_INVALID_ARGUMENT, "k.shape[1] = -1");
    EXPECT_PREFILL(valid_params(), bad.o.strides[0] = -4096,
        PATTN_STATUS_INVALID_ARGUMENT, "o.strides[0] = -4096");
    EXPECT_PREFILL(valid_params(), bad.q.strides[3] = 2,
        PATTN_STATUS_INVALID_ARGUMENT, "q.strides[3] = 2");
    EXPECT_PREFILL(valid_params(), bad.v.strides[3] = 0,
        PATTN_STATUS_INVALID_ARGUMENT, "v.strides[3] = 0");
    EXPECT_PREFILL(valid_params(), bad.q.dtype = (pattn_dtype)7,
        PATTN_STATUS_INVALID_ARGUMENT, "q.dtype = 7");
    EXPECT_PREFILL(valid_params(), bad.k.device_type = (pattn_device_type)5,
        PATTN_STATUS_INVALID_ARGUMENT, "k.device_type = 5");

    /* Data types. */
    EXPECT_PREFILL(valid_params(), bad.q.dtype = bad.k.dtype = bad.v.dtype = bad.o.dtype = PATTN_DTYPE_I32,
        PATTN_STATUS_UNSUPPORTED, "q.dtype = I32");
    EXPECT_PREFILL(valid_params(), bad.k.dtype = PATTN_DTYPE_BF16,
        PATTN_STATUS_INVALID_ARGUMENT, "k.dtype = BF16 does not match q.dtype = F16");
    EXPECT_PREFILL(valid_params(), bad.o.dtype = PATTN_DTYPE_F32,
        PATTN_STATUS_INVALID_ARGUMENT, "o.dtype = F32");
    EXPECT_PREFILL(valid_params(), bad.lse.dtype = PATTN_DTYPE_F16,
        PATTN_STATUS_INVALID_ARGUMENT, "lse.dtype = F16");
    EXPECT_PREFILL(valid_params(), bad.q_valid_lens.dtype = PATTN_DTYPE_F32,
        PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens.dtype = F32");
    EXPECT_PREFILL(valid_params(), bad.kv_valid_lens.dtype = PATTN_DTYPE_F16,
        PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens.dtype = F16");

    /* Shapes. */
    EXPECT_PREFILL(valid_params(), bad.k.shape[0] = B - 1,
        PATTN_STATUS_INVALID_ARGUMENT, "k.shape[0] (batch) = 2");
    EXPECT_PREFILL(valid_params(), bad.k.shape[3] = 32; bad.v.shape[3] = 32,
        PATTN_STATUS_INVALID_ARGUMENT, "k.shape[3] (head_dim) = 32");
    EXPECT_PREFILL(valid_params(), bad.v.shape[1] = SK - 1,
        PATTN_STATUS_INVALID_ARGUMENT, "v.shape[1] = 7");
    EXPECT_PREFILL(valid_params(), bad.o.shape[2] = HQ - 1,
        PATTN_STATUS_INVALID_ARGUMENT, "o.shape[2] = 3");
    EXPECT_PREFILL(valid_params(), bad.lse.shape[1] = SQ + 1,
        PATTN_STATUS_INVALID_ARGUMENT, "lse.shape[1] = 9");
    EXPECT_PREFILL(valid_params(), bad.q_valid_lens.shape[0] = B + 1,
        PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens.shape[0] (batch) = 4");
    EXPECT_PREFILL(valid_params(), bad.kv_valid_lens.strides[0] = 2,
        PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens.strides[0] = 2");

    /* Heads: Hq % Hkv, and a k with no heads. */
    EXPECT_PREFILL(valid_params(), bad.q.shape[2] = 3; bad.o.shape[2] = 3; bad.lse.shape[2] = 3,
        PATTN_STATUS_INVALID_ARGUMENT, "(num_qo_heads) = 3 is not a multiple of k.shape[2] (num_kv_heads) = 2");
    EXPECT_PREFILL(valid_params(), bad.k.shape[2] = 0; bad.v.shape[2] = 0,
        PATTN_STATUS_INVALID_ARGUMENT, "num_kv_heads) = 0");

    /* Head dim on the CPU: 1 to 512. */
    EXPECT_PREFILL(valid_params(), bad.q.shape[3] = bad.k.shape[3] = bad.v.shape[3] = bad.o.shape[3] = 600,
        PATTN_STATUS_UNSUPPORTED, "q.shape[3] (head_dim) = 600 is not supported");

    /* Host lengths outside [0, len]. */
    {
        int32_t bad_q[B] = {8, 9, 0}, neg[B] = {8, -1, 0}, bad_kv[B] = {8, 5, 12};
        EXPECT_PREFILL(valid_params(), bad.q_valid_lens.data = bad_q,
            PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens[1] = 9 is outside [0, q_len = 8]");
        EXPECT_PREFILL(valid_params(), bad.q_valid_lens.data = neg,
            PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens[1] = -1");
        EXPECT_PREFILL(valid_params(), bad.kv_valid_lens.data = bad_kv,
            PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens[2] = 12 is outside [0, kv_len = 8]");
    }

    /* kv_valid_lens absent while q_len != kv_len. */
    p = valid_params();
    p.k.shape[1] = p.v.shape[1] = SK - 2;
    p.kv_valid_lens.data = NULL;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("kv_valid_lens is absent");
    /* ... but with it, q_len != kv_len is fine (lengths within the new kv_len). */
    {
        int32_t kv_ok[B] = {6, 5, 1};
        p.kv_valid_lens.data = kv_ok;
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
    }

    /* Mixed placement. */
    EXPECT_PREFILL(valid_params(), bad.k.device_type = PATTN_DEVICE_CUDA,
        PATTN_STATUS_DEVICE_MISMATCH, "k is on CUDA device 0 but q is in host memory");
    EXPECT_PREFILL(valid_params(), bad.lse.device_type = PATTN_DEVICE_CUDA,
        PATTN_STATUS_DEVICE_MISMATCH, "lse is on CUDA device 0");
    EXPECT_PREFILL(valid_params(), bad.q_valid_lens.device_type = PATTN_DEVICE_CUDA,
        PATTN_STATUS_DEVICE_MISMATCH, "q_valid_lens is on CUDA device 0 but q is in host memory");
    EXPECT_PREFILL(cuda_params(), bad.o.device_id = 1,
        PATTN_STATUS_DEVICE_MISMATCH, "o is on CUDA device 1 but q is on CUDA device 0");
    EXPECT_PREFILL(cuda_params(), bad.kv_valid_lens.device_type = PATTN_DEVICE_CUDA; bad.kv_valid_lens.data = g_fake_device,
        PATTN_STATUS_DEVICE_MISMATCH, "q_valid_lens is in host memory but kv_valid_lens is on the device");
    EXPECT_PREFILL(cuda_params(), bad.q_valid_lens.device_type = PATTN_DEVICE_CUDA; bad.q_valid_lens.device_id = 2,
        PATTN_STATUS_DEVICE_MISMATCH, "q_valid_lens is on CUDA device 2");
    EXPECT_PREFILL(cuda_params(), bad.q.device_id = -1; bad.k.device_id = -1,
        PATTN_STATUS_INVALID_ARGUMENT, "q.device_id = -1");

    /* CUDA-path rules that hold whatever the machine: dtype, head_dim,
       16-byte alignment of data and strides. */
    EXPECT_PREFILL(cuda_params(), bad.q.dtype = bad.k.dtype = bad.v.dtype = bad.o.dtype = PATTN_DTYPE_F32,
        PATTN_STATUS_UNSUPPORTED, "q.dtype = F32 is supported only on the CPU backend");
    EXPECT_PREFILL(cuda_params(), bad.q.shape[3] = bad.k.shape[3] = bad.v.shape[3] = bad.o.shape[3] = 48,
        PATTN_STATUS_UNSUPPORTED,
        "q.shape[3] (head_dim) = 48 is not supported (supported on CUDA: 32, 64, 80, 96, 128, 256)");
    EXPECT_PREFILL(cuda_params(), bad.v.data = (char*)g_fake_device + 2,
        PATTN_STATUS_INVALID_ARGUMENT, "not 16-byte aligned");
    CHECK_ERROR_MENTIONS("v.data");
    EXPECT_PREFILL(cuda_params(), bad.q.strides[2] = 68; bad.q.strides[1] = 68 * HQ; bad.q.strides[0] = 68 * HQ * SQ,
        PATTN_STATUS_INVALID_ARGUMENT, "q.strides[2] (head stride) = 68 is not a multiple of 8");
    EXPECT_PREFILL(cuda_params(), bad.k.strides[1] = HK * D + 4; bad.k.strides[0] = (HK * D + 4) * SK,
        PATTN_STATUS_INVALID_ARGUMENT, "k.strides[1] (sequence stride)");

    /* A CUDA call on a machine without a GPU fails cleanly. */
    if (!tu_have_gpu()) {
        p = cuda_params();
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL),
                     is_cpu_only_build() ? PATTN_STATUS_CUDA_NOT_BUILT : PATTN_STATUS_NO_DEVICE);
        CHECK_ERROR_MENTIONS("q");
    } else {
        /* Host memory described as device memory is caught. */
        EXPECT_PREFILL(cuda_params(), (void)0, PATTN_STATUS_DEVICE_MISMATCH, "q.device_type is CUDA");
    }
}

static void test_prefill_no_ops(void) {
    pattn_prefill_params p;
    size_t i;
    /* batch == 0: nothing is read or written, NULL data allowed. */
    p = valid_params();
    p.q.shape[0] = p.k.shape[0] = p.v.shape[0] = p.o.shape[0] = p.lse.shape[0] = 0;
    p.q_valid_lens.shape[0] = p.kv_valid_lens.shape[0] = 0;
    p.q.data = p.k.data = p.v.data = p.o.data = NULL;
    p.lse.data = NULL;
    p.q_valid_lens.data = p.kv_valid_lens.data = NULL;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    /* q_len == 0: o untouched. */
    tu_fill_nan(g_o, PATTN_DTYPE_F16, sizeof g_o / 2);
    p = valid_params();
    p.q.shape[1] = p.o.shape[1] = p.lse.shape[1] = 0;
    p.k.shape[1] = p.v.shape[1] = 0;
    {
        int32_t zeros[B] = {0, 0, 0};
        p.q_valid_lens.data = zeros;
        p.kv_valid_lens.data = zeros;
        CHECK_OK(pattn_sequence_prefill(&p, NULL));
    }
    for (i = 0; i < sizeof g_o / 2; ++i)
        if (!isnan(tu_load(g_o, PATTN_DTYPE_F16, i))) break;
    CHECK_MSG(i == sizeof g_o / 2, "q_len == 0 wrote o[%zu]", i);
    /* num_qo_heads == 0. */
    p = valid_params();
    p.q.shape[2] = p.o.shape[2] = p.lse.shape[2] = 0;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    /* A no-op on CUDA tensors succeeds even without a GPU (nothing to run). */
    p = cuda_params();
    p.q.shape[0] = p.k.shape[0] = p.v.shape[0] = p.o.shape[0] = p.lse.shape[0] = 0;
    p.q_valid_lens.data = p.kv_valid_lens.data = NULL;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
}

static pattn_decode_params valid_decode(void) {
    pattn_decode_params p = tu_decode_params(
        PATTN_PADDING_LEFT, tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 2, HQ, D),
        tu_tensor_4d(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 2, HQ, D),
        tu_tensor_3d(g_lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, 2, HQ));
    p.kv_valid_lens = tu_tensor_1d(g_kvlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    return p;
}

static void test_decode_errors(void) {
    pattn_decode_params p = valid_decode();
    CHECK_OK(pattn_decode(&p, NULL));
    CHECK_STATUS(pattn_decode(NULL, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("params");
    EXPECT_DECODE(valid_decode(), bad.struct_size = 8,
        PATTN_STATUS_INVALID_ARGUMENT, "struct_size = 8");
    EXPECT_DECODE(valid_decode(), bad.padding_side = (pattn_padding_side)4,
        PATTN_STATUS_INVALID_ARGUMENT, "padding_side = 4");
    EXPECT_DECODE(valid_decode(), bad.num_splits = -1,
        PATTN_STATUS_INVALID_ARGUMENT, "num_splits = -1");
    EXPECT_DECODE(valid_decode(), bad.q.shape[1] = bad.o.shape[1] = bad.lse.shape[1] = 17,
        PATTN_STATUS_INVALID_ARGUMENT, "(q_len) = 17 is outside [1, 16]");
    EXPECT_DECODE(valid_decode(), bad.k_cache.shape[2] = 3,
        PATTN_STATUS_INVALID_ARGUMENT, "v_cache.shape[2] = 2 does not match k_cache.shape[2] = 3");
    EXPECT_DECODE(valid_decode(), bad.v_cache.dtype = PATTN_DTYPE_BF16,
        PATTN_STATUS_INVALID_ARGUMENT, "v_cache.dtype = BF16");
    EXPECT_DECODE(valid_decode(), bad.k_cache.data = NULL,
        PATTN_STATUS_INVALID_ARGUMENT, "k_cache.data is NULL");
    {
        int32_t bad_kv[B] = {8, 9, 1};
        EXPECT_DECODE(valid_decode(), bad.kv_valid_lens.data = bad_kv,
            PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens[1] = 9 is outside [0, cache_len = 8]");
    }
    EXPECT_DECODE(valid_decode(), bad.k_cache.device_type = PATTN_DEVICE_CUDA,
        PATTN_STATUS_DEVICE_MISMATCH, "k_cache is on CUDA device 0 but q is in host memory");
    /* No-ops: batch 0, q_len 0. */
    p = valid_decode();
    p.q.shape[0] = p.k_cache.shape[0] = p.v_cache.shape[0] = p.o.shape[0] = p.lse.shape[0] = 0;
    p.kv_valid_lens.shape[0] = 0;
    CHECK_OK(pattn_decode(&p, NULL));
    p = valid_decode(); p.q.shape[1] = p.o.shape[1] = p.lse.shape[1] = 0;
    CHECK_OK(pattn_decode(&p, NULL));
}

static float g_lse_a[B * SQ * HQ], g_lse_b[B * SQ * HQ], g_lse_out[B * SQ * HQ];

static pattn_merge_params valid_merge(void) {
    pattn_merge_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.o_a = tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
    p.o_b = tu_tensor_4d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D);
    p.o_out = p.o_b;
    p.lse_a = tu_tensor_3d(g_lse_a, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ);
    p.lse_b = tu_tensor_3d(g_lse_b, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ);
    p.lse_out = tu_tensor_3d(g_lse_out, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ);
    return p;
}

static void test_merge_errors(void) {
    pattn_merge_params p;
    size_t i;
    tu_rng rng = tu_rng_make(11);
    for (i = 0; i < (size_t)B * SQ * HQ; ++i) {
        g_lse_a[i] = tu_rng_uniform(&rng, -2, 2);
        g_lse_b[i] = tu_rng_uniform(&rng, -2, 2);
    }
    tu_fill_uniform(g_o, PATTN_DTYPE_F16, sizeof g_o / 2, &rng, -1, 1);
    p = valid_merge();
    CHECK_OK(pattn_merge_states(&p, NULL));
    CHECK_STATUS(pattn_merge_states(NULL, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("params");
    EXPECT_MERGE(valid_merge(), bad.struct_size = 1,
        PATTN_STATUS_INVALID_ARGUMENT, "struct_size = 1");
    EXPECT_MERGE(valid_merge(), bad.reserved = 3,
        PATTN_STATUS_INVALID_ARGUMENT, "reserved = 3");
    EXPECT_MERGE(valid_merge(), bad.o_a.ndim = 2,
        PATTN_STATUS_INVALID_ARGUMENT, "o_a.ndim = 2");
    EXPECT_MERGE(valid_merge(), bad.o_b.shape[1] = 5,
        PATTN_STATUS_INVALID_ARGUMENT, "o_b.shape[1] = 5 does not match o_a.shape[1] = 8");
    EXPECT_MERGE(valid_merge(), bad.lse_b.shape[2] = 1,
        PATTN_STATUS_INVALID_ARGUMENT, "lse_b.shape[2] = 1");
    EXPECT_MERGE(valid_merge(), bad.lse_out.dtype = PATTN_DTYPE_F16,
        PATTN_STATUS_INVALID_ARGUMENT, "lse_out.dtype = F16");
    EXPECT_MERGE(valid_merge(), bad.o_out.dtype = PATTN_DTYPE_BF16,
        PATTN_STATUS_INVALID_ARGUMENT, "o_out.dtype = BF16 does not match o_a.dtype = F16");
    EXPECT_MERGE(valid_merge(), bad.o_a.dtype = bad.o_b.dtype = bad.o_out.dtype = PATTN_DTYPE_I32,
        PATTN_STATUS_UNSUPPORTED, "o_a.dtype = I32");
    EXPECT_MERGE(valid_merge(), bad.lse_a.data = NULL,
        PATTN_STATUS_INVALID_ARGUMENT, "lse_a.data is NULL");
    EXPECT_MERGE(valid_merge(), bad.o_b.strides[3] = 2,
        PATTN_STATUS_INVALID_ARGUMENT, "o_b.strides[3] = 2");
    EXPECT_MERGE(valid_merge(), bad.lse_b.device_type = PATTN_DEVICE_CUDA,
        PATTN_STATUS_DEVICE_MISMATCH, "lse_b is on CUDA device 0 but o_a is in host memory");
    /* Rank 3 works; no-op with zero tokens. */
    p = valid_merge();
    p.o_a = tu_tensor_3d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B * SQ, HQ, D);
    p.o_b = tu_tensor_3d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B * SQ, HQ, D);
    p.o_out = p.o_b;
    p.lse_a = tu_tensor_nd(g_lse_a, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, p.o_a.shape);
    p.lse_b = tu_tensor_nd(g_lse_b, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, p.o_a.shape);
    p.lse_out = tu_tensor_nd(g_lse_out, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, p.o_a.shape);
    CHECK_OK(pattn_merge_states(&p, NULL));
    EXPECT_MERGE(p, bad.lse_b.ndim = 3,
        PATTN_STATUS_INVALID_ARGUMENT, "lse_b.ndim = 3, expected 2");
    p.o_a.shape[0] = p.o_b.shape[0] = p.o_out.shape[0] = 0;
    p.lse_a.shape[0] = p.lse_b.shape[0] = p.lse_out.shape[0] = 0;
    CHECK_OK(pattn_merge_states(&p, NULL));
}

static void test_device_api_without_gpu(void) {
    int32_t count = -1;
    void* ptr = (void*)1;
    pattn_status expected;
    pattn_device_properties props;
    CHECK_OK(pattn_device_count(&count));
    CHECK(count >= 0);
    CHECK_STATUS(pattn_device_count(NULL), PATTN_STATUS_INVALID_ARGUMENT);
    if (count > 0) return; /* test_device_api.c covers machines with a GPU */
    /* Documented: a CPU-only build answers CUDA_NOT_BUILT, a CUDA build on a
       machine without a device NO_DEVICE. */
    expected = is_cpu_only_build() ? PATTN_STATUS_CUDA_NOT_BUILT : PATTN_STATUS_NO_DEVICE;
    CHECK_STATUS(pattn_device_malloc(0, 1024, &ptr), expected);
    CHECK(ptr == NULL);
    CHECK_ERROR_MENTIONS(is_cpu_only_build() ? "built without CUDA" : "no CUDA device");
    CHECK_STATUS(pattn_stream_create(0, &ptr), expected);
    memset(&props, 0, sizeof props);
    props.struct_size = sizeof props;
    CHECK_STATUS(pattn_device_get_properties(0, &props), expected);
    CHECK_STATUS(pattn_device_synchronize(0), expected);
    if (is_cpu_only_build()) {
        char host[16];
        CHECK_STATUS(pattn_host_malloc_pinned(64, &ptr), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK_STATUS(pattn_memcpy(host, host + 8, 8), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK_STATUS(pattn_stream_synchronize(NULL), PATTN_STATUS_CUDA_NOT_BUILT);
    }
}

/* The message is per thread: a failure on another thread leaves this
 * thread's message alone, and that thread sees its own. */
static void* fail_on_other_thread(void* result) {
    pattn_prefill_params p = valid_params();
    p.mask_mode = (pattn_mask_mode)42;
    *(int*)result = pattn_sequence_prefill(&p, NULL) == PATTN_STATUS_INVALID_ARGUMENT &&
                    strstr(pattn_last_error_message(), "mask_mode = 42") != NULL;
    return NULL;
}

static void test_thread_local_message(void) {
    pthread_t thread;
    int other_ok = 0;
    pattn_prefill_params p = valid_params();
    p.reserved = 5;
    CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK(pthread_create(&thread, NULL, fail_on_other_thread, &other_ok) == 0);
    pthread_join(thread, NULL);
    CHECK(other_ok);
    CHECK_ERROR_MENTIONS("reserved = 5");
}

/* pattn_last_error_argument(): the rejected argument as spelled in the params
 * struct, "" after a success, cleared by the next call, per thread. */
static void test_error_argument(void) {
    pattn_prefill_params p = valid_params();
    CHECK(pattn_last_error_argument() != NULL);
    CHECK_STATUS(pattn_sequence_prefill(NULL, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_ARGUMENT("params");
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK_ERROR_ARGUMENT("");

    EXPECT_PREFILL_ARG(valid_params(), bad.struct_size = 0, PATTN_STATUS_INVALID_ARGUMENT, "struct_size");
    EXPECT_PREFILL_ARG(valid_params(), bad.reserved = 2, PATTN_STATUS_INVALID_ARGUMENT, "reserved");
    EXPECT_PREFILL_ARG(valid_params(), bad.mask_mode = (pattn_mask_mode)9, PATTN_STATUS_INVALID_ARGUMENT, "mask_mode");
    EXPECT_PREFILL_ARG(valid_params(), bad.softmax_scale = INFINITY, PATTN_STATUS_INVALID_ARGUMENT, "softmax_scale");
    EXPECT_PREFILL_ARG(valid_params(), bad.q.data = NULL, PATTN_STATUS_INVALID_ARGUMENT, "q");
    EXPECT_PREFILL_ARG(valid_params(), bad.k.ndim = 3, PATTN_STATUS_INVALID_ARGUMENT, "k");
    EXPECT_PREFILL_ARG(valid_params(), bad.v.shape[1] = SK - 1, PATTN_STATUS_INVALID_ARGUMENT, "v");
    EXPECT_PREFILL_ARG(valid_params(), bad.o.dtype = PATTN_DTYPE_BF16, PATTN_STATUS_INVALID_ARGUMENT, "o");
    EXPECT_PREFILL_ARG(valid_params(), bad.lse.shape[2] = 1, PATTN_STATUS_INVALID_ARGUMENT, "lse");
    EXPECT_PREFILL_ARG(valid_params(), bad.q_valid_lens.dtype = PATTN_DTYPE_F32, PATTN_STATUS_INVALID_ARGUMENT,
                       "q_valid_lens");
    EXPECT_PREFILL_ARG(valid_params(), bad.kv_valid_lens.strides[0] = 3, PATTN_STATUS_INVALID_ARGUMENT,
                       "kv_valid_lens");
    EXPECT_PREFILL_ARG(valid_params(), bad.k.device_type = PATTN_DEVICE_CUDA, PATTN_STATUS_DEVICE_MISMATCH, "k");
    EXPECT_PREFILL_ARG(valid_params(), bad.q.shape[3] = bad.k.shape[3] = bad.v.shape[3] = bad.o.shape[3] = 600,
                       PATTN_STATUS_UNSUPPORTED, "q");
    {
        int32_t bad_kv[B] = {8, 5, 12};
        EXPECT_PREFILL_ARG(valid_params(), bad.kv_valid_lens.data = bad_kv, PATTN_STATUS_INVALID_ARGUMENT,
                           "kv_valid_lens");
    }
    EXPECT_PREFILL_ARG(cuda_params(), bad.v.data = (char*)g_fake_device + 2, PATTN_STATUS_INVALID_ARGUMENT, "v");

    EXPECT_DECODE_ARG(valid_decode(), bad.padding_side = (pattn_padding_side)7, PATTN_STATUS_INVALID_ARGUMENT,
                      "padding_side");
    EXPECT_DECODE_ARG(valid_decode(), bad.num_splits = -3, PATTN_STATUS_INVALID_ARGUMENT, "num_splits");
    EXPECT_DECODE_ARG(valid_decode(), bad.k_cache.data = NULL, PATTN_STATUS_INVALID_ARGUMENT, "k_cache");
    EXPECT_DECODE_ARG(valid_decode(), bad.v_cache.dtype = PATTN_DTYPE_BF16, PATTN_STATUS_INVALID_ARGUMENT, "v_cache");

    EXPECT_MERGE_ARG(valid_merge(), bad.o_a.ndim = 2, PATTN_STATUS_INVALID_ARGUMENT, "o_a");
    EXPECT_MERGE_ARG(valid_merge(), bad.o_b.shape[1] = 5, PATTN_STATUS_INVALID_ARGUMENT, "o_b");
    EXPECT_MERGE_ARG(valid_merge(), bad.lse_out.dtype = PATTN_DTYPE_F16, PATTN_STATUS_INVALID_ARGUMENT, "lse_out");
    EXPECT_MERGE_ARG(valid_merge(), bad.lse_b.device_type = PATTN_DEVICE_CUDA, PATTN_STATUS_DEVICE_MISMATCH, "lse_b");

    /* Functions outside the params structs name their parameters. */
    CHECK_STATUS(pattn_device_count(NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_ARGUMENT("count");
    /* The next call clears it. */
    {
        int32_t count = 0;
        CHECK_OK(pattn_device_count(&count));
        CHECK_ERROR_ARGUMENT("");
    }
}

int main(void) {
    test_versions_and_strings();
    test_error_argument();
    test_thread_local_message();
    test_prefill_errors();
    test_prefill_no_ops();
    test_decode_errors();
    test_merge_errors();
    test_device_api_without_gpu();
    return tu_finish("test_api_errors");
}
