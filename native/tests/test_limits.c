/*
 * test_limits.c — sizes, strides, enum values and overlaps that must be
 * refused before anything is read or written (or, for the allowed in-place
 * forms, computed right), on the CPU backend:
 *   - shape products past int64 with NULL data (prefill and merge);
 *   - sequence lengths past the documented longest row (kv_len 2^31 - 1,
 *     q_len 2^31 - 63), and query rows past 2^30;
 *   - strides whose views reach past byte 2^63 - 1 (q.strides[0] = 2^62);
 *   - enum fields holding values outside their enum (42);
 *   - outputs overlapping inputs or each other (o over k, o one row past q,
 *     lse over o, merge o_out one token past o_a, a stride-0 output), and
 *     the allowed exact forms (o == q; merge in place) against the
 *     out-of-place results, bit for bit.
 * Every refusal names the argument (pattn_last_error_argument).
 */
#include "test_util.h"

enum { B = 3, SQ = 8, SK = 8, HQ = 4, HK = 2, D = 64 };

/* Every buffer in one arena, each in its own slot with a gap after it at
 * least as large as any view of the test, so that an overlap made on
 * purpose touches only the buffer it was aimed at. */
enum { SLOT = 32768 }; /* bytes; the largest view (o) has 12288 */
static unsigned char g_arena[12 * SLOT] __attribute__((aligned(64)));
#define g_q ((uint16_t*)(g_arena + 0 * SLOT))
#define g_k ((uint16_t*)(g_arena + 1 * SLOT))
#define g_v ((uint16_t*)(g_arena + 2 * SLOT))
#define g_o ((uint16_t*)(g_arena + 3 * SLOT))
#define g_o2 ((uint16_t*)(g_arena + 4 * SLOT))
#define g_lse ((float*)(g_arena + 5 * SLOT))
#define g_lse2 ((float*)(g_arena + 6 * SLOT))
#define g_qlens ((int32_t*)(g_arena + 7 * SLOT))
#define g_kvlens ((int32_t*)(g_arena + 8 * SLOT))
#define O_BYTES ((size_t)B * SQ * HQ * D * 2)
#define LSE_BYTES ((size_t)B * SQ * HQ * 4)

static void set_lengths(void) {
    const int32_t q[B] = {8, 3, 0}, kv[B] = {8, 5, 1};
    memcpy(g_qlens, q, sizeof q);
    memcpy(g_kvlens, kv, sizeof kv);
}

static pattn_prefill_params valid_params(void) {
    pattn_prefill_params p = tu_prefill_params(
        PATTN_MASK_CAUSAL_PADDED_RIGHT, tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D),
        tu_tensor_4d(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SQ, HQ, D),
        tu_tensor_3d(g_lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, SQ, HQ));
    p.q_valid_lens = tu_tensor_1d(g_qlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    p.kv_valid_lens = tu_tensor_1d(g_kvlens, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, B);
    return p;
}

/* The call returns `status`, the message mentions `text` and the argument is `arg`. */
#define EXPECT_REFUSED(call, status, text, arg)                                            \
    do {                                                                                   \
        CHECK_STATUS(call, status);                                                        \
        CHECK_ERROR_MENTIONS(text);                                                        \
        CHECK_MSG(strcmp(pattn_last_error_argument(), (arg)) == 0,                         \
                  "argument \"%s\", expected \"%s\"", pattn_last_error_argument(), (arg)); \
    } while (0)

/* A view of `shape` with every stride 0 but the last (one element of memory
 * stands for all of it). */
static pattn_tensor broadcast(void* data, pattn_dtype dtype, int ndim, const int64_t* shape) {
    pattn_tensor t = tu_tensor_nd(data, dtype, PATTN_DEVICE_CPU, 0, ndim, shape);
    int i;
    for (i = 0; i < ndim - 1; ++i) t.strides[i] = 0;
    return t;
}

/* Shape products that wrap int64 to 0 must not pass for "empty". */
static void test_element_count_overflow(void) {
    const int64_t huge[4] = {1 << 19, 1 << 19, 1 << 17, 512}; /* 2^64 elements */
    pattn_prefill_params p = valid_params();
    pattn_merge_params m;
    p.q = tu_tensor_nd(NULL, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 4, huge);
    p.k = p.v = p.o = p.q;
    p.lse.data = NULL;
    p.q_valid_lens.data = p.kv_valid_lens.data = NULL;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overflows int64", "q");

    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.o_a = tu_tensor_nd(NULL, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 4, huge);
    m.o_b = m.o_out = broadcast(g_o, PATTN_DTYPE_F32, 4, huge);
    m.lse_a = m.lse_b = m.lse_out = broadcast(g_lse, PATTN_DTYPE_F32, 3, huge);
    EXPECT_REFUSED(pattn_merge_states(&m, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overflows int64", "o_a");
}

/* Longest row: 2^26 keys and queries; 2^31 - 1 keys used to run for minutes
 * and crash in the CPU backend's 32-bit tile loop, 2^31 - 63 queries threw
 * from a vector size. Both are refused at once now. */
static void test_sequence_limits(void) {
    pattn_prefill_params p;
    {
        const int64_t q_shape[4] = {1, 1, 1, D}, kv_shape[4] = {1, 2147483647, 1, D};
        p = valid_params();
        p.mask_mode = PATTN_MASK_PADDED;
        p.q = tu_tensor_nd(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 4, q_shape);
        p.o = tu_tensor_nd(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 4, q_shape);
        p.k = broadcast(g_k, PATTN_DTYPE_F16, 4, kv_shape);
        p.v = broadcast(g_v, PATTN_DTYPE_F16, 4, kv_shape);
        p.lse.data = NULL;
        p.q_valid_lens.data = p.kv_valid_lens.data = NULL;
        EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "(kv_len) = 2147483647", "k");
        /* Just past the limit, and at it (then the rows are checked further). */
        p.k.shape[1] = p.v.shape[1] = (1 << 26) + 1;
        EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "67108864", "k");
    }
    {
        const int64_t q_shape[4] = {1, 2147483647 - 62, 1, D}, kv_shape[4] = {1, 1, 1, D};
        int32_t one = 1;
        p = valid_params();
        p.q = broadcast(g_q, PATTN_DTYPE_F16, 4, q_shape);
        p.o = broadcast(g_o, PATTN_DTYPE_F16, 4, q_shape);
        p.k = tu_tensor_nd(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 4, kv_shape);
        p.v = tu_tensor_nd(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, 4, kv_shape);
        p.lse.data = NULL;
        p.q_valid_lens.data = NULL;
        p.kv_valid_lens = tu_tensor_1d(&one, PATTN_DTYPE_I32, PATTN_DEVICE_CPU, 0, 1);
        EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "(q_len) = 2147483585", "q");
    }
    {
        /* 2^14 rows x 2^10 queries x 2^7 heads = 2^31 query rows. */
        const int64_t q_shape[4] = {1 << 14, 1 << 10, 1 << 7, D}, kv_shape[4] = {1 << 14, 1, 1, D};
        p = valid_params();
        p.q = broadcast(g_q, PATTN_DTYPE_F16, 4, q_shape);
        p.o = broadcast(g_o, PATTN_DTYPE_F16, 4, q_shape);
        p.k = broadcast(g_k, PATTN_DTYPE_F16, 4, kv_shape);
        p.v = broadcast(g_v, PATTN_DTYPE_F16, 4, kv_shape);
        p.lse.data = NULL;
        p.q_valid_lens.data = p.kv_valid_lens.data = NULL;
        p.mask_mode = PATTN_MASK_PADDED;
        EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "query rows", "q");
    }
}

/* A stride whose view reaches past byte 2^63 - 1 wrapped the address. */
static void test_stride_range(void) {
    pattn_prefill_params p = valid_params();
    pattn_decode_params d;
    p.q.strides[0] = (int64_t)1 << 62;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "2^63 - 1", "q");
    p = valid_params();
    p.lse.strides[1] = (int64_t)1 << 61;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "2^63 - 1", "lse");
    /* Within int64 but past the end of the address space. */
    p = valid_params();
    p.v.strides[0] = (int64_t)1 << 61;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "v", "v");
    d = tu_decode_params(PATTN_PADDING_RIGHT, tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 1, HQ, D),
                         tu_tensor_4d(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
                         tu_tensor_4d(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
                         tu_tensor_4d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 1, HQ, D),
                         tu_tensor_3d(g_lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, 1, HQ));
    CHECK_OK(pattn_decode(&d, NULL));
    d.k_cache.strides[1] = (int64_t)1 << 62;
    EXPECT_REFUSED(pattn_decode(&d, NULL), PATTN_STATUS_INVALID_ARGUMENT, "2^63 - 1", "k_cache");
}

/* Enum fields are read as integers: 42 is refused, never loaded as an enum
 * (the UBSan build of this test fails on such a load). */
static void test_enum_values(void) {
    const int32_t bad = 42;
    pattn_prefill_params p = valid_params();
    pattn_decode_params d;
    memcpy(&p.mask_mode, &bad, sizeof bad);
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "mask_mode = 42", "mask_mode");
    p = valid_params();
    memcpy(&p.k.dtype, &bad, sizeof bad);
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "k.dtype = 42", "k");
    p = valid_params();
    memcpy(&p.lse.device_type, &bad, sizeof bad);
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "lse.device_type = 42", "lse");
    p = valid_params();
    memcpy(&p.q_valid_lens.dtype, &bad, sizeof bad);
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens.dtype = 42",
                   "q_valid_lens");
    d = tu_decode_params(PATTN_PADDING_RIGHT, tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 1, HQ, D),
                         tu_tensor_4d(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
                         tu_tensor_4d(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
                         tu_tensor_4d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 1, HQ, D),
                         tu_tensor_3d(g_lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, 1, HQ));
    memcpy(&d.padding_side, &bad, sizeof bad);
    EXPECT_REFUSED(pattn_decode(&d, NULL), PATTN_STATUS_INVALID_ARGUMENT, "padding_side = 42", "padding_side");
    {
        pattn_merge_params m;
        memset(&m, 0, sizeof m);
        m.struct_size = sizeof m;
        m.o_a = m.o_b = m.o_out = tu_tensor_3d(g_o, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, SQ, HQ, D);
        m.lse_a = m.lse_b = m.lse_out = tu_tensor_nd(g_lse, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
        memcpy(&m.o_b.dtype, &bad, sizeof bad);
        EXPECT_REFUSED(pattn_merge_states(&m, NULL), PATTN_STATUS_INVALID_ARGUMENT, "o_b.dtype = 42", "o_b");
    }
}

static int same_bits(const void* a, const void* b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

/* Outputs that overlap inputs gave run-dependent values; now they are
 * refused, naming both. Exact o == q is computed in place, bit for bit as
 * out of place. */
static void test_prefill_aliasing(void) {
    pattn_prefill_params p;
    tu_rng rng = tu_rng_make(101);
    tu_fill_uniform(g_q, PATTN_DTYPE_F16, (size_t)B * SQ * HQ * D, &rng, -1, 1);
    tu_fill_uniform(g_k, PATTN_DTYPE_F16, (size_t)B * SK * HK * D, &rng, -1, 1);
    tu_fill_uniform(g_v, PATTN_DTYPE_F16, (size_t)B * SK * HK * D, &rng, -1, 1);

    p = valid_params();
    p.o.data = g_k;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps k", "o");
    p = valid_params();
    p.o.data = g_q + HQ * D; /* one row past q */
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps q", "o");
    p = valid_params();
    p.lse.data = g_o;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "lse", "o");
    CHECK_ERROR_MENTIONS("overlaps");
    p = valid_params();
    p.lse.data = g_kvlens; /* any overlap with the lengths, too */
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps kv_valid_lens", "lse");
    /* An output with a stride-0 dimension writes one place twice. */
    p = valid_params();
    p.o.strides[1] = 0;
    EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "o.strides[1] = 0", "o");

    /* o == q exactly: the same bits as o elsewhere. */
    p = valid_params();
    p.o.data = g_o2;
    p.lse.data = g_lse2;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    p = valid_params();
    p.o.data = g_q;
    CHECK_OK(pattn_sequence_prefill(&p, NULL));
    CHECK_MSG(same_bits(g_q, g_o2, O_BYTES), "prefill with o == q differs from o elsewhere");
    CHECK_MSG(same_bits(g_lse, g_lse2, LSE_BYTES), "prefill with o == q: lse differs");
    /* q and o the same memory but not the same view (other strides): refused. */
    p = valid_params();
    p.o.data = g_q;
    p.o.strides[2] = D; p.o.strides[1] = D * HQ; p.o.strides[0] = D * HQ * SQ;
    p.o.shape[1] = p.q.shape[1] = SQ / 2;
    p.lse.shape[1] = SQ / 2;
    p.q.strides[1] = 2 * HQ * D;
    {
        int32_t short_q[B] = {4, 3, 0};
        p.q_valid_lens.data = short_q;
        p.kv_valid_lens.data = NULL;
        p.k.shape[1] = p.v.shape[1] = SQ / 2;
        EXPECT_REFUSED(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps q", "o");
    }
}

static void test_decode_aliasing(void) {
    pattn_decode_params d = tu_decode_params(
        PATTN_PADDING_LEFT, tu_tensor_4d(g_q, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 2, HQ, D),
        tu_tensor_4d(g_k, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_v, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, SK, HK, D),
        tu_tensor_4d(g_o2, PATTN_DTYPE_F16, PATTN_DEVICE_CPU, 0, B, 2, HQ, D),
        tu_tensor_3d(g_lse2, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, B, 2, HQ));
    pattn_decode_params bad = d;
    tu_rng rng = tu_rng_make(102);
    tu_fill_uniform(g_q, PATTN_DTYPE_F16, (size_t)B * 2 * HQ * D, &rng, -1, 1);
    bad.o.data = g_v;
    EXPECT_REFUSED(pattn_decode(&bad, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps v_cache", "o");
    bad = d;
    bad.lse.data = (char*)g_k + 64;
    EXPECT_REFUSED(pattn_decode(&bad, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps k_cache", "lse");
    CHECK_OK(pattn_decode(&d, NULL));
    bad = d;
    bad.o.data = g_q;
    bad.lse.data = g_lse;
    CHECK_OK(pattn_decode(&bad, NULL));
    CHECK_MSG(same_bits(g_q, g_o2, (size_t)B * 2 * HQ * D * 2), "decode with o == q differs from o elsewhere");
}

static void test_merge_aliasing(void) {
    /* Slots of the arena again (3 x 8 KB of o, 3 x 128 B of lse). */
    float* const oa = (float*)(g_arena + 0 * SLOT);
    float* const ob = (float*)(g_arena + 1 * SLOT);
    float* const out = (float*)(g_arena + 2 * SLOT);
    float* const la = (float*)(g_arena + 5 * SLOT);
    float* const lb = (float*)(g_arena + 6 * SLOT);
    float* const lout = (float*)(g_arena + 7 * SLOT);
    const size_t o_bytes = (size_t)SQ * HQ * D * 4, lse_bytes = (size_t)SQ * HQ * 4;
    pattn_merge_params m, bad;
    tu_rng rng = tu_rng_make(103);
    size_t i;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.o_a = tu_tensor_3d(oa, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, SQ, HQ, D);
    m.o_b = tu_tensor_3d(ob, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, SQ, HQ, D);
    m.o_out = tu_tensor_3d(out, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, SQ, HQ, D);
    m.lse_a = tu_tensor_nd(la, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
    m.lse_b = tu_tensor_nd(lb, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
    m.lse_out = tu_tensor_nd(lout, PATTN_DTYPE_F32, PATTN_DEVICE_CPU, 0, 2, m.o_a.shape);
    tu_fill_uniform(oa, PATTN_DTYPE_F32, SQ * HQ * D, &rng, -1, 1);
    tu_fill_uniform(ob, PATTN_DTYPE_F32, SQ * HQ * D, &rng, -1, 1);
    for (i = 0; i < SQ * HQ; ++i) {
        la[i] = tu_rng_uniform(&rng, -3, 3);
        lb[i] = tu_rng_uniform(&rng, -3, 3);
    }
    /* o_out one token past o_a. */
    bad = m;
    bad.o_out.data = oa + HQ * D;
    EXPECT_REFUSED(pattn_merge_states(&bad, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps o_a", "o_out");
    bad = m;
    bad.lse_out.data = lb + 1;
    EXPECT_REFUSED(pattn_merge_states(&bad, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps lse_b", "lse_out");
    bad = m;
    bad.lse_out.data = out;
    EXPECT_REFUSED(pattn_merge_states(&bad, NULL), PATTN_STATUS_INVALID_ARGUMENT, "lse_out", "o_out");
    bad = m;
    bad.o_out.data = lb; /* o_out over an lse input */
    EXPECT_REFUSED(pattn_merge_states(&bad, NULL), PATTN_STATUS_INVALID_ARGUMENT, "overlaps lse_b", "o_out");
    /* In place on either side: the out-of-place bits. */
    CHECK_OK(pattn_merge_states(&m, NULL));
    bad = m;
    bad.o_out = m.o_a;
    bad.lse_out = m.lse_a;
    CHECK_OK(pattn_merge_states(&bad, NULL));
    CHECK_MSG(same_bits(oa, out, o_bytes), "merge with o_out == o_a differs from out of place");
    CHECK_MSG(same_bits(la, lout, lse_bytes), "merge with lse_out == lse_a differs from out of place");
}

int main(void) {
    set_lengths();
    test_element_count_overflow();
    test_sequence_limits();
    test_stride_range();
    test_enum_values();
    test_prefill_aliasing();
    test_decode_aliasing();
    test_merge_aliasing();
    return tu_finish("test_limits");
}
