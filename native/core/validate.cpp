// All argument checking of the C ABI, as a sequence of named steps. Every
// failure names the argument (pattn_last_error_argument) and the value.
// One status per kind of error: a malformed argument (enum value, rank,
// shape, stride, extent, length, limit, overlap) is INVALID_ARGUMENT; a
// well-formed one the library does not handle (dtype, head_dim) UNSUPPORTED;
// tensors in different places DEVICE_MISMATCH; a CUDA device that does not
// exist NO_DEVICE. Rules and limits are listed in docs/native-api.md.
//   - enum fields are read as raw int32 and range-checked before any cast
//     (a value outside an enum's range must never be loaded as the enum);
//   - element counts and the largest byte offset of every view are computed
//     in 128-bit arithmetic: past int64, or past the address space, is
//     refused before anything reads the view;
//   - sizes past what the backends index with 32-bit integers are refused
//     here (check_index_limits), so the backends need no checks of their own;
//   - outputs may not overlap inputs or each other, except the exact
//     in-place forms (o == q; o_out == o_a or o_b, lse_out == lse_a or lse_b);
//   - host lengths are range-checked here; device lengths are clamped by the
//     kernels (reading them here would need a synchronization).
#include "validate.h"

#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "errors.h"
#include "placement.h"

namespace pattn {

bool cuda_supports_head_dim(int64_t head_dim) {
    // Prefill and decode: cuda/common/dispatch.h, PATTN_DISPATCH_HEAD_DIM.
    return head_dim == 32 || head_dim == 64 || head_dim == 80 || head_dim == 96 || head_dim == 128 ||
           head_dim == 256;
}

namespace {

#define PATTN_CHECK(expr)                                      \
    do {                                                       \
        pattn_status pattn_s_ = (expr);                        \
        if (pattn_s_ != PATTN_STATUS_SUCCESS) return pattn_s_; \
    } while (0)

using u128 = unsigned __int128;

// ---------------------------------------------------------------- enums --

// The stored value of an enum field, without loading it as the enum type.
template <typename Enum>
int32_t raw_value(const Enum& field) {
    static_assert(sizeof(Enum) == sizeof(int32_t), "the ABI's enums are 32-bit");
    int32_t value;
    std::memcpy(&value, &field, sizeof value);
    return value;
}

const char* dtype_name(int32_t dtype) {
    switch (dtype) {
        case PATTN_DTYPE_F32: return "F32";
        case PATTN_DTYPE_F16: return "F16";
        case PATTN_DTYPE_BF16: return "BF16";
        case PATTN_DTYPE_I32: return "I32";
        default: return nullptr;
    }
}

size_t dtype_size(pattn_dtype dtype) {
    return dtype == PATTN_DTYPE_F16 || dtype == PATTN_DTYPE_BF16 ? 2 : 4;
}

// ----------------------------------------------------- one tensor alone --

bool is_present(const pattn_tensor& t) { return t.data != nullptr; }

// Only for tensors check_tensor accepted (device_type holds a valid value).
bool is_cuda(const pattn_tensor& t) { return t.device_type == PATTN_DEVICE_CUDA; }

// Product of the sizes; check_tensor has refused products past INT64_MAX.
int64_t numel(const pattn_tensor& t) {
    int64_t n = 1;
    for (int i = 0; i < t.ndim; ++i) n *= t.shape[i];
    return n;
}

// One past the last byte offset the view reaches from data (0 when it holds
// no element). Sizes and strides are in [0, INT64_MAX] and ndim <= 4, so the
// 128-bit sum cannot wrap.
u128 extent_bytes_wide(const pattn_tensor& t, size_t element_size) {
    u128 last = 0;
    for (int i = 0; i < t.ndim; ++i) {
        if (t.shape[i] == 0) return 0;
        last += static_cast<u128>(t.shape[i] - 1) * static_cast<u128>(t.strides[i]);
    }
    return (last + 1) * element_size;
}

uint64_t extent_bytes(const pattn_tensor& t) {
    return static_cast<uint64_t>(extent_bytes_wide(t, dtype_size(t.dtype)));
}

// Enum values, rank, sizes, strides, element count, extent, data pointer.
// `layout` describes the expected dimensions for the message.
pattn_status check_tensor(const pattn_tensor& t, const char* name, int32_t ndim, const char* layout,
                          bool contiguous_last) {
    const int32_t device_type = raw_value(t.device_type);
    const int32_t dtype = raw_value(t.dtype);
    if (device_type != PATTN_DEVICE_CPU && device_type != PATTN_DEVICE_CUDA)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.device_type = %d is not a pattn_device_type (0 = CPU, 1 = CUDA)",
                                  name, (int)device_type);
    if (device_type == PATTN_DEVICE_CUDA && t.device_id < 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name, "%s.device_id = %d is negative",
                                  name, (int)t.device_id);
    if (dtype_name(dtype) == nullptr)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.dtype = %d is not a pattn_dtype (0 = F32, 1 = F16, 2 = BF16, 3 = I32)",
                                  name, (int)dtype);
    if (t.ndim != ndim)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name, "%s.ndim = %d, expected %d (%s)",
                                  name, (int)t.ndim, (int)ndim, layout);
    for (int i = 0; i < ndim; ++i) {
        if (t.shape[i] < 0)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                      "%s.shape[%d] = %" PRId64 " is negative", name, i, t.shape[i]);
        if (t.shape[i] > INT32_MAX)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                      "%s.shape[%d] = %" PRId64 " is larger than the supported %d", name,
                                      i, t.shape[i], INT32_MAX);
        if (t.strides[i] < 0)
            return set_argument_error(
                PATTN_STATUS_INVALID_ARGUMENT, name,
                "%s.strides[%d] = %" PRId64 " is negative (negative strides are not supported)", name, i,
                t.strides[i]);
    }
    if (contiguous_last && t.strides[ndim - 1] != 1)
        return set_argument_error(
            PATTN_STATUS_INVALID_ARGUMENT, name,
            "%s.strides[%d] = %" PRId64 ": the last dimension must be contiguous (stride 1)", name,
            ndim - 1, t.strides[ndim - 1]);
    // Each size is below 2^31, so the 128-bit product of four cannot wrap.
    u128 count = 1;
    for (int i = 0; i < ndim; ++i) count *= static_cast<u128>(t.shape[i]);
    if (count > static_cast<u128>(INT64_MAX))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.shape holds more than 2^63 - 1 elements (the product of its sizes "
                                  "overflows int64)",
                                  name);
    if (t.data == nullptr && count > 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.data is NULL (shape has %" PRId64 " elements)", name,
                                  static_cast<int64_t>(count));
    const u128 extent = extent_bytes_wide(t, dtype_size(static_cast<pattn_dtype>(dtype)));
    if (extent > static_cast<u128>(INT64_MAX))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s: shape and strides reach past byte offset 2^63 - 1 of %s.data "
                                  "(a stride is out of range)",
                                  name, name);
    const uintptr_t address = reinterpret_cast<uintptr_t>(t.data);
    if (extent > 0 && static_cast<u128>(address) + extent > static_cast<u128>(UINTPTR_MAX))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s: %s.data = %p plus the %" PRIu64
                                  " bytes its shape and strides reach wraps past the end of the address space",
                                  name, name, t.data, static_cast<uint64_t>(extent));
    return PATTN_STATUS_SUCCESS;
}

// The CUDA kernels read q/k/v/o with 16-byte vector accesses.
pattn_status check_vector_alignment(const pattn_tensor& t, const char* name) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(t.data);
    if (address % 16 != 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.data = %p is not 16-byte aligned: the CUDA path needs 16-byte aligned "
                                  "data and batch/sequence/head strides that are multiples of 8 elements",
                                  name, t.data);
    static const char* const dim_names[3] = {"batch", "sequence", "head"};
    for (int i = 0; i < 3; ++i) {
        if (t.shape[i] <= 1) continue;  // the stride of a size-1 dimension is never applied
        if (t.strides[i] % 8 != 0)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                      "%s.strides[%d] (%s stride) = %" PRId64
                                      " is not a multiple of 8 elements: the CUDA path needs 16-byte "
                                      "aligned rows",
                                      name, i, dim_names[i], t.strides[i]);
    }
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_element_alignment(const pattn_tensor& t, const char* name) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(t.data);
    const size_t size = dtype_size(t.dtype);
    if (address % size != 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.data = %p is not aligned to its element size (%zu bytes)", name,
                                  t.data, size);
    return PATTN_STATUS_SUCCESS;
}

// ------------------------------------------------------------ placement --

void describe_place(const pattn_tensor& t, char* buffer, size_t size) {
    if (is_cuda(t))
        std::snprintf(buffer, size, "on CUDA device %d", (int)t.device_id);
    else
        std::snprintf(buffer, size, "in host memory");
}

bool same_place(const pattn_tensor& a, const pattn_tensor& b) {
    if (a.device_type != b.device_type) return false;
    return !is_cuda(a) || a.device_id == b.device_id;
}

pattn_status check_same_place(const pattn_tensor& t, const char* name, const pattn_tensor& ref,
                              const char* ref_name) {
    if (same_place(t, ref)) return PATTN_STATUS_SUCCESS;
    char a[48], b[48];
    describe_place(t, a, sizeof a);
    describe_place(ref, b, sizeof b);
    return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, name,
                              "%s is %s but %s is %s: all tensors of one call must be on one device",
                              name, a, ref_name, b);
}

pattn_status check_device_exists(const pattn_tensor& t, const char* name) {
    const int32_t count = cuda_device_count_or_zero();
    if (t.device_id >= count && count > 0)
        return set_argument_error(PATTN_STATUS_NO_DEVICE, name,
                                  "%s.device_id = %d does not exist (%d CUDA device(s))", name,
                                  (int)t.device_id, (int)count);
    return PATTN_STATUS_SUCCESS;
}

// -------------------------------------------------------------- aliasing --

// A view an output must not overlap: [lo, hi) in the address space shared
// by host and device memory (unified virtual addressing).
struct Span {
    const pattn_tensor* t;
    const char* name;
    uintptr_t lo, hi;
};

Span span_of(const pattn_tensor& t, const char* name) {
    const uintptr_t lo = reinterpret_cast<uintptr_t>(t.data);
    return Span{&t, name, lo, lo + static_cast<uintptr_t>(extent_bytes(t))};
}

// The same elements in the same order: an output may be exactly an input
// where the kernel reads each element before it writes it.
bool same_view(const pattn_tensor& a, const pattn_tensor& b) {
    if (a.data != b.data || a.dtype != b.dtype || a.ndim != b.ndim) return false;
    for (int i = 0; i < a.ndim; ++i) {
        if (a.shape[i] != b.shape[i]) return false;
        if (a.shape[i] > 1 && a.strides[i] != b.strides[i]) return false;
    }
    return true;
}

// An output whose view maps two indices to one address (a stride too small
// for the dimensions inside it, e.g. 0) would be written twice at once.
// Sorting the dimensions of size > 1 by stride, each stride must pass the
// last element offset of the dimensions below it.
pattn_status check_output_distinct(const pattn_tensor& t, const char* name) {
    int dims[PATTN_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t.ndim; ++i)
        if (t.shape[i] > 1) dims[n++] = i;
    for (int i = 1; i < n; ++i)  // insertion sort by stride, at most 4 entries
        for (int j = i; j > 0 && t.strides[dims[j]] < t.strides[dims[j - 1]]; --j) {
            const int x = dims[j];
            dims[j] = dims[j - 1];
            dims[j - 1] = x;
        }
    u128 reach = 0;  // last element offset of the dimensions sorted so far
    for (int i = 0; i < n; ++i) {
        const int d = dims[i];
        if (static_cast<u128>(t.strides[d]) <= reach)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                      "%s.strides[%d] = %" PRId64
                                      " makes elements of the output %s share memory (an output needs "
                                      "strides that give every element its own address)",
                                      name, d, t.strides[d], name);
        reach += static_cast<u128>(t.shape[d] - 1) * static_cast<u128>(t.strides[d]);
    }
    return PATTN_STATUS_SUCCESS;
}

// Every output against every input and every other output. `in_place(o, i)`
// says whether output o may be exactly input i.
template <typename InPlace>
pattn_status check_no_overlap(const Span* outputs, int num_outputs, const Span* inputs, int num_inputs,
                              const char* allowed, InPlace&& in_place) {
    for (int o = 0; o < num_outputs; ++o) {
        const Span& out = outputs[o];
        if (out.lo == out.hi) continue;
        PATTN_CHECK(check_output_distinct(*out.t, out.name));
        for (int k = 0; k < num_inputs + num_outputs; ++k) {
            const bool is_input = k < num_inputs;
            if (!is_input && k - num_inputs <= o) continue;  // each output pair once
            const Span& other = is_input ? inputs[k] : outputs[k - num_inputs];
            if (other.lo == other.hi || out.hi <= other.lo || other.hi <= out.lo) continue;
            if (is_input && in_place(o, k) && same_view(*out.t, *other.t)) continue;
            return set_argument_error(
                PATTN_STATUS_INVALID_ARGUMENT, out.name,
                "%s (bytes [%p, %p)) overlaps %s (bytes [%p, %p)): an output may not share memory with "
                "an input or another output (allowed: %s)",
                out.name, reinterpret_cast<void*>(out.lo), reinterpret_cast<void*>(out.hi), other.name,
                reinterpret_cast<void*>(other.lo), reinterpret_cast<void*>(other.hi), allowed);
        }
    }
    return PATTN_STATUS_SUCCESS;
}

// ------------------------------------------------- prefill and decode --

// The shared shape of prefill and decode.
struct AttentionInputs {
    const pattn_tensor* q;
    const pattn_tensor* k;
    const pattn_tensor* v;
    const pattn_tensor* o;
    const pattn_tensor* lse;      // optional (data == NULL: absent)
    const pattn_tensor* q_lens;   // null pointer: the call has no such argument
    const pattn_tensor* kv_lens;  // optional
    const pattn_tensor* page_table;  // optional (absent: contiguous cache); null: the call has none
    int64_t max_page_size;        // largest page_size accepted; 0: no limit
    const char* k_name;
    const char* v_name;
    const char* len_name;         // "kv_len" or "cache_len"
    float scale;
    bool causal;
    bool left_padded;
    bool decode;
    int32_t num_splits;
    int32_t cpu_max_threads;
};

// What the steps below learn about a call, step by step.
struct AttentionFacts {
    bool has_lse, has_q_lens, has_kv_lens;
    bool paged;  // k/v are pages [num_pages, page_size, kv_heads, d] read through page_table
    bool on_cuda, lens_on_device;
    int64_t batch, q_len, kv_len, num_qo_heads, num_kv_heads, head_dim;
    int64_t num_pages, page_size, max_pages;  // paged only; kv_len = max_pages * page_size
    // Host lengths (scan_host_lengths): the smallest and largest raw value of
    // q_valid_lens / of the key lengths (kv_valid_lens, or q_valid_lens when
    // it stands for both); 0 when absent.
    int64_t q_lens_min, q_lens_max, kv_lens_min, kv_lens_max;
};

pattn_status check_scale(float scale) {
    if (!std::isfinite(scale))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "softmax_scale",
                                  "softmax_scale = %g is not finite", (double)scale);
    // The GPU kernels take the row maximum of the unscaled scores; with a
    // negative scale that is the minimum and the exponentials overflow.
    if (scale < 0.0f)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "softmax_scale",
                                  "softmax_scale = %g is negative (0 means 1/sqrt(head_dim); a softmax "
                                  "scale is positive)",
                                  (double)scale);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_attention_tensors(const AttentionInputs& in, const AttentionFacts& f) {
    static const char* const layout_q = "[batch, q_len, num_qo_heads, head_dim]";
    const char* layout_kv = f.paged    ? "[num_pages, page_size, num_kv_heads, head_dim] (page_table is present)"
                            : in.decode ? "[batch, cache_len, num_kv_heads, head_dim]"
                                        : "[batch, kv_len, num_kv_heads, head_dim]";
    PATTN_CHECK(check_tensor(*in.q, "q", 4, layout_q, true));
    PATTN_CHECK(check_tensor(*in.k, in.k_name, 4, layout_kv, true));
    PATTN_CHECK(check_tensor(*in.v, in.v_name, 4, layout_kv, true));
    PATTN_CHECK(check_tensor(*in.o, "o", 4, layout_q, true));
    if (f.has_lse) PATTN_CHECK(check_tensor(*in.lse, "lse", 3, "[batch, q_len, num_qo_heads]", false));
    if (f.has_q_lens) PATTN_CHECK(check_tensor(*in.q_lens, "q_valid_lens", 1, "[batch]", false));
    if (f.has_kv_lens) PATTN_CHECK(check_tensor(*in.kv_lens, "kv_valid_lens", 1, "[batch]", false));
    if (f.paged) PATTN_CHECK(check_tensor(*in.page_table, "page_table", 2, "[batch, max_pages_per_row]", true));
    return PATTN_STATUS_SUCCESS;
}

// Everything where q is; lengths on the host or there too, both in one place.
pattn_status check_attention_placement(const AttentionInputs& in, AttentionFacts* f) {
    const pattn_tensor& q = *in.q;
    PATTN_CHECK(check_same_place(*in.k, in.k_name, q, "q"));
    PATTN_CHECK(check_same_place(*in.v, in.v_name, q, "q"));
    PATTN_CHECK(check_same_place(*in.o, "o", q, "q"));
    if (f->has_lse) PATTN_CHECK(check_same_place(*in.lse, "lse", q, "q"));
    // The kernels read the page table many times per row: it lives with the cache.
    if (f->paged) PATTN_CHECK(check_same_place(*in.page_table, "page_table", q, "q"));
    f->on_cuda = is_cuda(q);
    f->lens_on_device = false;
    const pattn_tensor* lens[2] = {f->has_q_lens ? in.q_lens : nullptr, f->has_kv_lens ? in.kv_lens : nullptr};
    const char* names[2] = {"q_valid_lens", "kv_valid_lens"};
    for (int i = 0; i < 2; ++i) {
        if (!lens[i] || !is_cuda(*lens[i])) continue;
        if (!f->on_cuda || lens[i]->device_id != q.device_id) {
            char a[48], b[48];
            describe_place(*lens[i], a, sizeof a);
            describe_place(q, b, sizeof b);
            return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, names[i],
                                      "%s is %s but q is %s: valid lengths must be in host memory or on "
                                      "the device of q",
                                      names[i], a, b);
        }
        f->lens_on_device = true;
    }
    if (lens[0] && lens[1] && is_cuda(*lens[0]) != is_cuda(*lens[1]))
        return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, "q_valid_lens",
                                  "q_valid_lens is %s but kv_valid_lens is %s: both must be in host "
                                  "memory or both on the device",
                                  is_cuda(*lens[0]) ? "on the device" : "in host memory",
                                  is_cuda(*lens[1]) ? "on the device" : "in host memory");
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_attention_dtypes(const AttentionInputs& in, const AttentionFacts& f) {
    const pattn_tensor& q = *in.q;
    if (q.dtype == PATTN_DTYPE_I32)
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "q",
                                  "q.dtype = I32 is not supported (supported: F16, BF16; F32 on the CPU)");
    if (q.dtype == PATTN_DTYPE_F32 && f.on_cuda)
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "q",
                                  "q.dtype = F32 is supported only on the CPU backend (CUDA: F16, BF16)");
    const pattn_tensor* same[3] = {in.k, in.v, in.o};
    const char* names[3] = {in.k_name, in.v_name, "o"};
    for (int i = 0; i < 3; ++i)
        if (same[i]->dtype != q.dtype)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, names[i],
                                      "%s.dtype = %s does not match q.dtype = %s", names[i],
                                      dtype_name(same[i]->dtype), dtype_name(q.dtype));
    if (f.has_lse && in.lse->dtype != PATTN_DTYPE_F32)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "lse", "lse.dtype = %s, expected F32",
                                  dtype_name(in.lse->dtype));
    if (f.has_q_lens && in.q_lens->dtype != PATTN_DTYPE_I32)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens",
                                  "q_valid_lens.dtype = %s, expected I32", dtype_name(in.q_lens->dtype));
    if (f.has_kv_lens && in.kv_lens->dtype != PATTN_DTYPE_I32)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens",
                                  "kv_valid_lens.dtype = %s, expected I32", dtype_name(in.kv_lens->dtype));
    if (f.paged && in.page_table->dtype != PATTN_DTYPE_I32)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "page_table", "page_table.dtype = %s, expected I32",
                                  dtype_name(in.page_table->dtype));
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_shape_dim(const pattn_tensor& t, const char* name, int dim, const char* what,
                             int64_t expected, const char* source) {
    if (t.shape[dim] == expected) return PATTN_STATUS_SUCCESS;
    return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                              "%s.shape[%d] (%s) = %" PRId64 " does not match %s = %" PRId64, name, dim,
                              what, t.shape[dim], source, expected);
}

pattn_status check_same_shape(const pattn_tensor& t, const char* name, const pattn_tensor& ref,
                              const char* ref_name, int dims) {
    for (int i = 0; i < dims; ++i)
        if (t.shape[i] != ref.shape[i])
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                      "%s.shape[%d] = %" PRId64 " does not match %s.shape[%d] = %" PRId64,
                                      name, i, t.shape[i], ref_name, i, ref.shape[i]);
    return PATTN_STATUS_SUCCESS;
}

// The backends index lengths as plain arrays.
pattn_status check_lengths_contiguous(const pattn_tensor& lens, const char* name, int64_t batch) {
    if (batch > 1 && lens.strides[0] != 1)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                  "%s.strides[0] = %" PRId64 ": valid lengths must be contiguous", name,
                                  lens.strides[0]);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_attention_shapes(const AttentionInputs& in, AttentionFacts* f) {
    const pattn_tensor& q = *in.q;
    const pattn_tensor& k = *in.k;
    f->batch = q.shape[0];
    f->q_len = q.shape[1];
    f->num_qo_heads = q.shape[2];
    f->head_dim = q.shape[3];
    f->num_kv_heads = k.shape[2];
    if (f->paged) {
        // A row's capacity: max_pages_per_row * page_size (0 without pages).
        f->num_pages = k.shape[0];
        f->page_size = k.shape[1];
        f->max_pages = in.page_table->shape[1];
        f->kv_len = f->num_pages == 0 ? 0 : f->max_pages * f->page_size;
        PATTN_CHECK(check_shape_dim(*in.page_table, "page_table", 0, "batch", f->batch, "q.shape[0]"));
        if (in.max_page_size > 0 && (f->page_size < 1 || f->page_size > in.max_page_size))
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, in.k_name,
                                      "%s.shape[1] (page_size) = %" PRId64 " is outside [1, %" PRId64
                                      "] (page_table is present)",
                                      in.k_name, f->page_size, in.max_page_size);
        if (f->kv_len > INT32_MAX)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "page_table",
                                      "page_table.shape[1] (max_pages_per_row) = %" PRId64 " times %s.shape[1] "
                                      "(page_size) = %" PRId64 " is larger than the supported %d keys per row",
                                      f->max_pages, in.k_name, f->page_size, INT32_MAX);
        if (in.left_padded)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "padding_side",
                                      "padding_side = LEFT with a page_table: a paged cache fills its pages from "
                                      "the first slot (use PATTN_PADDING_RIGHT)");
    } else {
        f->kv_len = k.shape[1];
        PATTN_CHECK(check_shape_dim(k, in.k_name, 0, "batch", f->batch, "q.shape[0]"));
    }
    PATTN_CHECK(check_shape_dim(k, in.k_name, 3, "head_dim", f->head_dim, "q.shape[3]"));
    PATTN_CHECK(check_same_shape(*in.v, in.v_name, k, in.k_name, 4));
    PATTN_CHECK(check_same_shape(*in.o, "o", q, "q", 4));
    if (f->has_lse) PATTN_CHECK(check_same_shape(*in.lse, "lse", q, "q", 3));
    if (f->has_q_lens) {
        PATTN_CHECK(check_shape_dim(*in.q_lens, "q_valid_lens", 0, "batch", f->batch, "q.shape[0]"));
        PATTN_CHECK(check_lengths_contiguous(*in.q_lens, "q_valid_lens", f->batch));
    }
    if (f->has_kv_lens) {
        PATTN_CHECK(check_shape_dim(*in.kv_lens, "kv_valid_lens", 0, "batch", f->batch, "q.shape[0]"));
        PATTN_CHECK(check_lengths_contiguous(*in.kv_lens, "kv_valid_lens", f->batch));
    }
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_heads_and_head_dim(const AttentionInputs& in, const AttentionFacts& f) {
    if (f.num_kv_heads == 0 && f.num_qo_heads > 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, in.k_name,
                                  "%s.shape[2] (num_kv_heads) = 0 but q.shape[2] (num_qo_heads) = %" PRId64,
                                  in.k_name, f.num_qo_heads);
    if (f.num_kv_heads > 0 && f.num_qo_heads % f.num_kv_heads != 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "q",
                                  "q.shape[2] (num_qo_heads) = %" PRId64
                                  " is not a multiple of %s.shape[2] (num_kv_heads) = %" PRId64,
                                  f.num_qo_heads, in.k_name, f.num_kv_heads);
    if (f.on_cuda && !cuda_supports_head_dim(f.head_dim))
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "q",
                                  "q.shape[3] (head_dim) = %" PRId64
                                  " is not supported (supported on CUDA: 32, 64, 80, 96, 128, 256)",
                                  f.head_dim);
    if (!f.on_cuda && (f.head_dim < 1 || f.head_dim > kCpuMaxHeadDim))
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "q",
                                  "q.shape[3] (head_dim) = %" PRId64
                                  " is not supported (supported on the CPU: 1 to %" PRId64 ")",
                                  f.head_dim, kCpuMaxHeadDim);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_length_arguments(const AttentionInputs& in, const AttentionFacts& f) {
    if (f.has_q_lens && !f.has_kv_lens && f.q_len != f.kv_len)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens",
                                  "kv_valid_lens is absent (so it equals q_valid_lens) but q.shape[1] "
                                  "(q_len) = %" PRId64 " differs from %s.shape[1] (kv_len) = %" PRId64
                                  "; pass kv_valid_lens",
                                  f.q_len, in.k_name, f.kv_len);
    if (in.decode && f.q_len > kMaxDecodeQueries)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "q",
                                  "q.shape[1] (q_len) = %" PRId64
                                  " is outside [1, %d] for decode (use prefill)",
                                  f.q_len, (int)kMaxDecodeQueries);
    if (in.num_splits < 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "num_splits", "num_splits = %d is negative",
                                  (int)in.num_splits);
    return PATTN_STATUS_SUCCESS;
}

// Sizes the backends index with 32-bit integers (tile and row arithmetic,
// the CUDA grid) and the longest row whose accuracy is documented.
pattn_status check_index_limits(const AttentionInputs& in, const AttentionFacts& f) {
    const int64_t longest = kMaxSequenceLength;
    if (f.q_len > longest)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "q",
                                  "q.shape[1] (q_len) = %" PRId64 " is longer than the supported %" PRId64
                                  " (2^26) rows per sequence",
                                  f.q_len, longest);
    if (f.kv_len > longest)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, in.k_name,
                                  "%s.shape[1] (%s) = %" PRId64 " is longer than the supported %" PRId64
                                  " (2^26) keys per row",
                                  in.k_name, in.len_name, f.kv_len, longest);
    // Query rows of all heads: the CUDA grids have one block per tile of
    // them, the decode combine one per row, both in 32 bits.
    const u128 query_rows = static_cast<u128>(f.batch) * static_cast<u128>(f.q_len) *
                            static_cast<u128>(f.num_qo_heads);
    if (query_rows > static_cast<u128>(kMaxQueryRows))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "q",
                                  "q holds batch * q_len * num_qo_heads = %" PRId64 " * %" PRId64
                                  " * %" PRId64 " query rows, more than the supported %" PRId64 " (2^30)",
                                  f.batch, f.q_len, f.num_qo_heads, kMaxQueryRows);
    if (in.decode && f.on_cuda && f.batch > kMaxCudaDecodeBatch)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "q",
                                  "q.shape[0] (batch) = %" PRId64 " is larger than the %" PRId64
                                  " rows CUDA decode supports in one call (split the batch)",
                                  f.batch, kMaxCudaDecodeBatch);
    return PATTN_STATUS_SUCCESS;
}

// Outputs (o, lse) against inputs and each other; o may be exactly q.
pattn_status check_attention_aliasing(const AttentionInputs& in, const AttentionFacts& f) {
    Span outputs[2];
    int num_outputs = 0;
    outputs[num_outputs++] = span_of(*in.o, "o");
    if (f.has_lse) outputs[num_outputs++] = span_of(*in.lse, "lse");
    Span inputs[6];
    int num_inputs = 0;
    inputs[num_inputs++] = span_of(*in.q, "q");
    // With host lengths only the key rows some batch row reads count (a cache
    // whose padding rows are not allocated must not collide with whatever
    // memory lies there); device lengths are not known here: the whole view.
    pattn_tensor k_read = *in.k, v_read = *in.v;
    const bool kv_lens = f.has_kv_lens || f.has_q_lens;
    if (!f.paged && kv_lens && !f.lens_on_device && f.kv_len > 0) {
        // The longest clamped length is the clamped largest value (the
        // values themselves are checked after this).
        const int64_t longest = f.kv_lens_max < 0 ? 0 : (f.kv_lens_max > f.kv_len ? f.kv_len : f.kv_lens_max);
        const int64_t first = in.left_padded ? f.kv_len - longest : 0;
        pattn_tensor* views[2] = {&k_read, &v_read};
        for (pattn_tensor* t : views) {
            t->shape[1] = longest;
            if (longest > 0)
                t->data = static_cast<char*>(t->data) + first * t->strides[1] * static_cast<int64_t>(dtype_size(t->dtype));
        }
    }
    inputs[num_inputs++] = span_of(k_read, in.k_name);
    inputs[num_inputs++] = span_of(v_read, in.v_name);
    if (f.has_q_lens) inputs[num_inputs++] = span_of(*in.q_lens, "q_valid_lens");
    if (f.has_kv_lens) inputs[num_inputs++] = span_of(*in.kv_lens, "kv_valid_lens");
    if (f.paged) inputs[num_inputs++] = span_of(*in.page_table, "page_table");
    return check_no_overlap(outputs, num_outputs, inputs, num_inputs, "o exactly the view q, computed in place",
                            [](int output, int input) { return output == 0 && input == 0; });
}

// The device exists, the memory is where the descriptors say, and the CUDA
// path gets the alignment its vector loads need.
pattn_status check_attention_memory(const AttentionInputs& in, const AttentionFacts& f) {
    const pattn_tensor& q = *in.q;
    const pattn_tensor* qkvo[4] = {in.q, in.k, in.v, in.o};
    const char* qkvo_names[4] = {"q", in.k_name, in.v_name, "o"};
    if (f.on_cuda) {
        PATTN_CHECK(check_device_exists(q, "q"));
        for (int i = 0; i < 4; ++i) PATTN_CHECK(check_vector_alignment(*qkvo[i], qkvo_names[i]));
    } else {
        for (int i = 0; i < 4; ++i) PATTN_CHECK(check_element_alignment(*qkvo[i], qkvo_names[i]));
    }
    if (f.has_lse) PATTN_CHECK(check_element_alignment(*in.lse, "lse"));
    if (f.has_q_lens) PATTN_CHECK(check_element_alignment(*in.q_lens, "q_valid_lens"));
    if (f.has_kv_lens) PATTN_CHECK(check_element_alignment(*in.kv_lens, "kv_valid_lens"));
    PATTN_CHECK(check_placement("q", q.data, f.on_cuda, q.device_id));
    const int64_t cache_rows = f.paged ? f.num_pages * f.page_size : f.kv_len;
    if (cache_rows > 0 && f.num_kv_heads > 0) {
        PATTN_CHECK(check_placement(in.k_name, in.k->data, f.on_cuda, q.device_id));
        PATTN_CHECK(check_placement(in.v_name, in.v->data, f.on_cuda, q.device_id));
    }
    PATTN_CHECK(check_placement("o", in.o->data, f.on_cuda, q.device_id));
    if (f.has_lse) PATTN_CHECK(check_placement("lse", in.lse->data, f.on_cuda, q.device_id));
    if (f.has_q_lens)
        PATTN_CHECK(check_placement("q_valid_lens", in.q_lens->data, is_cuda(*in.q_lens), q.device_id));
    if (f.has_kv_lens)
        PATTN_CHECK(check_placement("kv_valid_lens", in.kv_lens->data, is_cuda(*in.kv_lens), q.device_id));
    if (f.paged) {
        PATTN_CHECK(check_element_alignment(*in.page_table, "page_table"));
        if (f.max_pages > 0)
            PATTN_CHECK(check_placement("page_table", in.page_table->data, f.on_cuda, q.device_id));
    }
    return PATTN_STATUS_SUCCESS;
}

// The smallest and largest of `batch` host lengths, in one pass that the
// compiler vectorizes (every validated call with host lengths makes it once;
// the checks and the CUDA planning read these instead of the array).
void min_max(const int32_t* values, int64_t batch, int64_t* lo, int64_t* hi) {
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (int64_t b = 0; b < batch; ++b) {
        mn = values[b] < mn ? values[b] : mn;
        mx = values[b] > mx ? values[b] : mx;
    }
    *lo = batch > 0 ? mn : 0;
    *hi = batch > 0 ? mx : 0;
}

void scan_host_lengths(const AttentionInputs& in, AttentionFacts* f) {
    f->q_lens_min = f->q_lens_max = f->kv_lens_min = f->kv_lens_max = 0;
    if (f->lens_on_device) return;
    if (f->has_q_lens) min_max(static_cast<const int32_t*>(in.q_lens->data), f->batch, &f->q_lens_min, &f->q_lens_max);
    if (f->has_kv_lens) {
        min_max(static_cast<const int32_t*>(in.kv_lens->data), f->batch, &f->kv_lens_min, &f->kv_lens_max);
    } else if (f->has_q_lens) {
        f->kv_lens_min = f->q_lens_min;
        f->kv_lens_max = f->q_lens_max;
    }
}

// Lengths whose range (scan_host_lengths) lies outside [0, hi]: the first
// offending entry is looked up for the message.
pattn_status check_host_lengths(const pattn_tensor& lens, const char* name, int64_t batch, int64_t hi,
                                const char* hi_name, int64_t lo_value, int64_t hi_value) {
    if (lo_value >= 0 && hi_value <= hi) return PATTN_STATUS_SUCCESS;
    const int32_t* values = static_cast<const int32_t*>(lens.data);
    for (int64_t b = 0; b < batch; ++b) {
        if (values[b] < 0 || values[b] > hi)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name,
                                      "%s[%" PRId64 "] = %d is outside [0, %s = %" PRId64 "]", name, b,
                                      (int)values[b], hi_name, hi);
    }
    return PATTN_STATUS_SUCCESS;
}

// Host lengths are checked; device lengths are clamped by the kernels.
pattn_status check_length_values(const AttentionInputs& in, const AttentionFacts& f) {
    if (f.lens_on_device) return PATTN_STATUS_SUCCESS;
    if (f.has_q_lens)
        PATTN_CHECK(check_host_lengths(*in.q_lens, "q_valid_lens", f.batch, f.q_len, "q_len", f.q_lens_min,
                                       f.q_lens_max));
    if (f.has_kv_lens)
        PATTN_CHECK(check_host_lengths(*in.kv_lens, "kv_valid_lens", f.batch, f.kv_len,
                                       f.paged ? "max_pages_per_row * page_size" : in.len_name, f.kv_lens_min,
                                       f.kv_lens_max));
    return PATTN_STATUS_SUCCESS;
}

// A host page table is checked where it is read: the first
// ceil(kv / page_size) entries of each row (device tables are clamped by the
// kernels).
pattn_status check_page_table_values(const AttentionInputs& in, const AttentionFacts& f) {
    if (!f.paged || f.on_cuda || f.page_size <= 0) return PATTN_STATUS_SUCCESS;
    const int32_t* table = static_cast<const int32_t*>(in.page_table->data);
    // kv_valid_lens absent with q_valid_lens present: kv = qv (fill_attention_args).
    const pattn_tensor* kv_lens = f.has_kv_lens ? in.kv_lens : (f.has_q_lens ? in.q_lens : nullptr);
    const int32_t* lens = kv_lens ? static_cast<const int32_t*>(kv_lens->data) : nullptr;
    for (int64_t b = 0; b < f.batch; ++b) {
        const int64_t kv = lens ? lens[b] : f.kv_len;
        const int64_t used = (kv + f.page_size - 1) / f.page_size;
        for (int64_t e = 0; e < used; ++e) {
            const int32_t page = table[b * in.page_table->strides[0] + e];
            if (page < 0 || page >= f.num_pages)
                return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "page_table",
                                          "page_table[%" PRId64 "][%" PRId64 "] = %d is outside [0, num_pages = %" PRId64
                                          ") (row %" PRId64 " has %" PRId64 " keys)",
                                          b, e, (int)page, f.num_pages, b, kv);
        }
    }
    return PATTN_STATUS_SUCCESS;
}

void fill_attention_args(const AttentionInputs& in, const AttentionFacts& f, int32_t device_id,
                         AttentionArgs* args) {
    const pattn_tensor& q = *in.q;
    const pattn_tensor& k = *in.k;
    const pattn_tensor& v = *in.v;
    const pattn_tensor& o = *in.o;
    AttentionArgs& a = *args;
    a = AttentionArgs{};
    a.dtype = q.dtype;
    a.device_id = device_id;
    a.batch = static_cast<int32_t>(f.batch);
    a.q_len = static_cast<int32_t>(f.q_len);
    a.kv_len = static_cast<int32_t>(f.kv_len);
    a.num_qo_heads = static_cast<int32_t>(f.num_qo_heads);
    a.num_kv_heads = static_cast<int32_t>(f.num_kv_heads);
    a.head_dim = static_cast<int32_t>(f.head_dim);
    a.scale = in.scale != 0.0f ? in.scale
                               : static_cast<float>(1.0 / std::sqrt(static_cast<double>(f.head_dim)));
    a.causal = in.causal;
    a.left_padded = in.left_padded;
    a.q = q.data;
    a.k = k.data;
    a.v = v.data;
    a.o = o.data;
    a.lse = f.has_lse ? static_cast<float*>(in.lse->data) : nullptr;
    a.q_stride_b = q.strides[0]; a.q_stride_s = q.strides[1]; a.q_stride_h = q.strides[2];
    a.k_stride_b = k.strides[0]; a.k_stride_s = k.strides[1]; a.k_stride_h = k.strides[2];
    a.v_stride_b = v.strides[0]; a.v_stride_s = v.strides[1]; a.v_stride_h = v.strides[2];
    a.o_stride_b = o.strides[0]; a.o_stride_s = o.strides[1]; a.o_stride_h = o.strides[2];
    if (f.has_lse) {
        a.lse_stride_b = in.lse->strides[0];
        a.lse_stride_s = in.lse->strides[1];
        a.lse_stride_h = in.lse->strides[2];
    }
    a.q_lens = f.has_q_lens ? static_cast<const int32_t*>(in.q_lens->data) : nullptr;
    // kv_valid_lens absent means equal to q_valid_lens (q_len == kv_len checked).
    a.kv_lens = f.has_kv_lens ? static_cast<const int32_t*>(in.kv_lens->data) : a.q_lens;
    a.lens_on_device = f.lens_on_device;
    // Checked by now: every host length lies in [0, q_len] / [0, kv_len].
    const bool host_lens = !f.lens_on_device;
    a.longest_q = static_cast<int32_t>(host_lens && f.has_q_lens ? f.q_lens_max : f.q_len);
    a.longest_kv = static_cast<int32_t>(host_lens && (f.has_kv_lens || f.has_q_lens) ? f.kv_lens_max : f.kv_len);
    a.num_splits = in.num_splits;
    a.cpu_max_threads = in.cpu_max_threads;
    if (f.paged) {
        a.page_table = static_cast<const int32_t*>(in.page_table->data);
        a.page_table_stride = in.page_table->strides[0];
        a.page_size = static_cast<int32_t>(f.page_size);
        a.num_pages = static_cast<int32_t>(f.num_pages);
        a.max_pages_per_row = static_cast<int32_t>(f.max_pages);
    }
}

pattn_status validate_attention(const AttentionInputs& in, AttentionArgs* args, Placement* where,
                                bool* no_op) {
    AttentionFacts f{};
    f.has_lse = is_present(*in.lse);
    f.has_q_lens = in.q_lens != nullptr && is_present(*in.q_lens);
    f.has_kv_lens = is_present(*in.kv_lens);
    f.paged = in.page_table != nullptr && is_present(*in.page_table);

    PATTN_CHECK(check_scale(in.scale));
    PATTN_CHECK(check_attention_tensors(in, f));
    PATTN_CHECK(check_attention_placement(in, &f));
    PATTN_CHECK(check_attention_dtypes(in, f));
    PATTN_CHECK(check_attention_shapes(in, &f));
    PATTN_CHECK(check_heads_and_head_dim(in, f));
    PATTN_CHECK(check_length_arguments(in, f));
    PATTN_CHECK(check_index_limits(in, f));

    where->on_cuda = f.on_cuda;
    where->device_id = f.on_cuda ? in.q->device_id : 0;
    *no_op = f.batch == 0 || f.q_len == 0 || f.num_qo_heads == 0;
    if (*no_op) return PATTN_STATUS_SUCCESS;

    PATTN_CHECK(check_attention_memory(in, f));
    scan_host_lengths(in, &f);
    PATTN_CHECK(check_attention_aliasing(in, f));
    PATTN_CHECK(check_length_values(in, f));
    PATTN_CHECK(check_page_table_values(in, f));
    fill_attention_args(in, f, where->device_id, args);
    return PATTN_STATUS_SUCCESS;
}

// ------------------------------------------------------ params headers --

// struct_size is the current sizeof, or (abi1_size != 0) the size of ABI
// version 1, or (earlier_size != 0) an earlier ABI-2 size that ended before
// a field appended since; callers of either get the defaults of the fields
// appended after their struct ends.
pattn_status check_params_header(const void* params, uint32_t struct_size, size_t expected_size,
                                 const char* struct_name, size_t abi1_size = 0, size_t earlier_size = 0) {
    if (params == nullptr)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "params", "params is NULL");
    if (earlier_size != 0 && struct_size == earlier_size) return PATTN_STATUS_SUCCESS;
    if (struct_size != expected_size && (abi1_size == 0 || struct_size != abi1_size)) {
        if (earlier_size != 0)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "struct_size",
                                      "params->struct_size = %u, expected %zu (sizeof(%s) of ABI version %d), "
                                      "%zu (ABI version 2 before page_table) or %zu (ABI version 1)",
                                      (unsigned)struct_size, expected_size, struct_name, (int)PATTN_ABI_VERSION,
                                      earlier_size, abi1_size);
        if (abi1_size != 0)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "struct_size",
                                      "params->struct_size = %u, expected %zu (sizeof(%s) of ABI version %d) "
                                      "or %zu (ABI version 1)",
                                      (unsigned)struct_size, expected_size, struct_name, (int)PATTN_ABI_VERSION,
                                      abi1_size);
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "struct_size",
                                  "params->struct_size = %u, expected %zu (sizeof(%s) of ABI version %d)",
                                  (unsigned)struct_size, expected_size, struct_name, (int)PATTN_ABI_VERSION);
    }
    return PATTN_STATUS_SUCCESS;
}

// cpu_max_threads, an ABI-2 field: 0 when the caller's struct ends before it.
template <typename Params>
pattn_status read_cpu_max_threads(const Params& params, int32_t* cpu_max_threads) {
    *cpu_max_threads = params.struct_size >= offsetof(Params, cpu_max_threads) + sizeof(int32_t)
                           ? params.cpu_max_threads : 0;
    if (*cpu_max_threads < 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "cpu_max_threads",
                                  "cpu_max_threads = %d is negative (0 = all hardware threads)",
                                  (int)*cpu_max_threads);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_reserved(uint32_t reserved) {
    if (reserved != 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "reserved",
                                  "params->reserved = %u, must be 0", (unsigned)reserved);
    return PATTN_STATUS_SUCCESS;
}

// mask_mode read as a raw integer; the flags it stands for.
pattn_status read_mask_mode(const pattn_mask_mode& field, bool* causal, bool* left_padded) {
    const int32_t mode = raw_value(field);
    switch (mode) {
        case PATTN_MASK_PADDED: *causal = false; *left_padded = false; return PATTN_STATUS_SUCCESS;
        case PATTN_MASK_CAUSAL_PADDED_LEFT: *causal = true; *left_padded = true; return PATTN_STATUS_SUCCESS;
        case PATTN_MASK_CAUSAL_PADDED_RIGHT: *causal = true; *left_padded = false; return PATTN_STATUS_SUCCESS;
        case PATTN_MASK_PADDED_LEFT: *causal = false; *left_padded = true; return PATTN_STATUS_SUCCESS;
        default:
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "mask_mode",
                                      "mask_mode = %d is not a pattn_mask_mode (0 = PADDED, 1 = "
                                      "CAUSAL_PADDED_LEFT, 2 = CAUSAL_PADDED_RIGHT, 3 = PADDED_LEFT)",
                                      (int)mode);
    }
}

pattn_status read_padding_side(const pattn_padding_side& field, bool* left_padded) {
    const int32_t side = raw_value(field);
    if (side != PATTN_PADDING_RIGHT && side != PATTN_PADDING_LEFT)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "padding_side",
                                  "padding_side = %d is not a pattn_padding_side (0 = RIGHT, 1 = LEFT)",
                                  (int)side);
    *left_padded = side == PATTN_PADDING_LEFT;
    return PATTN_STATUS_SUCCESS;
}

// --------------------------------------------------------------- merge --

struct MergeViews {
    const pattn_tensor* o[3];     // o_a, o_b, o_out
    const pattn_tensor* lse[3];   // lse_a, lse_b, lse_out
    int32_t rank;
};
const char* const kMergeONames[3] = {"o_a", "o_b", "o_out"};
const char* const kMergeLseNames[3] = {"lse_a", "lse_b", "lse_out"};

pattn_status check_merge_tensors(const MergeViews& m) {
    // o_a's rank was read as a plain integer before (check_merge_rank).
    const char* o_layout = m.rank == 3 ? "[tokens, num_heads, head_dim], as o_a"
                                       : "[batch, len, num_heads, head_dim], as o_a";
    const char* lse_layout = m.rank == 3 ? "[tokens, num_heads]" : "[batch, len, num_heads]";
    for (int i = 0; i < 3; ++i) {
        PATTN_CHECK(check_tensor(*m.o[i], kMergeONames[i], m.rank, o_layout, true));
        PATTN_CHECK(check_tensor(*m.lse[i], kMergeLseNames[i], m.rank - 1, lse_layout, false));
    }
    for (int i = 0; i < 3; ++i) {
        if (i > 0) PATTN_CHECK(check_same_place(*m.o[i], kMergeONames[i], *m.o[0], "o_a"));
        PATTN_CHECK(check_same_place(*m.lse[i], kMergeLseNames[i], *m.o[0], "o_a"));
    }
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_merge_rank(int32_t rank) {
    if (rank != 3 && rank != 4)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "o_a",
                                  "o_a.ndim = %d, expected 3 ([tokens, num_heads, head_dim]) or 4 ([batch, "
                                  "len, num_heads, head_dim])",
                                  (int)rank);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_merge_dtypes(const MergeViews& m) {
    const pattn_dtype dtype = m.o[0]->dtype;
    if (dtype == PATTN_DTYPE_I32)
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "o_a",
                                  "o_a.dtype = I32 is not supported (supported: F32, F16, BF16)");
    for (int i = 0; i < 3; ++i) {
        if (m.o[i]->dtype != dtype)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, kMergeONames[i],
                                      "%s.dtype = %s does not match o_a.dtype = %s", kMergeONames[i],
                                      dtype_name(m.o[i]->dtype), dtype_name(dtype));
        if (m.lse[i]->dtype != PATTN_DTYPE_F32)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, kMergeLseNames[i],
                                      "%s.dtype = %s, expected F32", kMergeLseNames[i],
                                      dtype_name(m.lse[i]->dtype));
    }
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_merge_shapes(const MergeViews& m) {
    for (int i = 1; i < 3; ++i) PATTN_CHECK(check_same_shape(*m.o[i], kMergeONames[i], *m.o[0], "o_a", m.rank));
    for (int i = 0; i < 3; ++i)
        PATTN_CHECK(check_same_shape(*m.lse[i], kMergeLseNames[i], *m.o[0], "o_a", m.rank - 1));
    const int64_t head_dim = m.o[0]->shape[m.rank - 1];
    if (head_dim == 0 && numel(*m.lse[0]) > 0)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "o_a",
                                  "o_a.shape[%d] (head_dim) = 0 but there are states to merge", m.rank - 1);
    // The CUDA kernel runs one warp per state in a 32-bit grid.
    const int64_t states = numel(*m.lse[0]);
    if (states > kMaxMergeStates)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "o_a",
                                  "o_a holds %" PRId64 " states (all dimensions but head_dim), more than the "
                                  "supported %" PRId64 " (2^31 - 1)",
                                  states, kMaxMergeStates);
    return PATTN_STATUS_SUCCESS;
}

// o_out may be exactly o_a or o_b, lse_out exactly lse_a or lse_b (each
// state is read before it is written); any other overlap is refused.
pattn_status check_merge_aliasing(const MergeViews& m) {
    const Span outputs[2] = {span_of(*m.o[2], "o_out"), span_of(*m.lse[2], "lse_out")};
    const Span inputs[4] = {span_of(*m.o[0], "o_a"), span_of(*m.o[1], "o_b"), span_of(*m.lse[0], "lse_a"),
                            span_of(*m.lse[1], "lse_b")};
    return check_no_overlap(outputs, 2, inputs, 4,
                            "o_out exactly o_a or o_b, lse_out exactly lse_a or lse_b, in place",
                            [](int output, int input) { return output == 0 ? input <= 1 : input >= 2; });
}

pattn_status check_merge_memory(const MergeViews& m, bool on_cuda, int32_t device_id) {
    if (on_cuda) PATTN_CHECK(check_device_exists(*m.o[0], "o_a"));
    for (int i = 0; i < 3; ++i) {
        PATTN_CHECK(check_element_alignment(*m.o[i], kMergeONames[i]));
        PATTN_CHECK(check_element_alignment(*m.lse[i], kMergeLseNames[i]));
    }
    for (int i = 0; i < 3; ++i) {
        PATTN_CHECK(check_placement(kMergeONames[i], m.o[i]->data, on_cuda, device_id));
        PATTN_CHECK(check_placement(kMergeLseNames[i], m.lse[i]->data, on_cuda, device_id));
    }
    return PATTN_STATUS_SUCCESS;
}

void fill_merge_args(const MergeViews& v, int32_t device_id, MergeArgs* args) {
    const int32_t rank = v.rank;
    MergeArgs& m = *args;
    m = MergeArgs{};
    m.dtype = v.o[0]->dtype;
    m.device_id = device_id;
    m.num_heads = static_cast<int32_t>(v.o[0]->shape[rank - 2]);
    m.head_dim = static_cast<int32_t>(v.o[0]->shape[rank - 1]);
    const int lead = rank - 2;  // leading dims before heads: 1 (tokens) or 2 (batch, len)
    m.d0 = lead == 2 ? v.o[0]->shape[0] : 1;
    m.d1 = v.o[0]->shape[lead - 1];
    m.o_a = v.o[0]->data;
    m.o_b = v.o[1]->data;
    m.o_out = v.o[2]->data;
    m.lse_a = static_cast<const float*>(v.lse[0]->data);
    m.lse_b = static_cast<const float*>(v.lse[1]->data);
    m.lse_out = static_cast<float*>(v.lse[2]->data);
    int64_t* o_strides[3] = {m.o_a_stride, m.o_b_stride, m.o_out_stride};
    int64_t* lse_strides[3] = {m.lse_a_stride, m.lse_b_stride, m.lse_out_stride};
    for (int i = 0; i < 3; ++i) {
        // [d0, d1, heads]; d0 has size 1 for rank 3, so its stride is never applied.
        o_strides[i][0] = lead == 2 ? v.o[i]->strides[0] : 0;
        o_strides[i][1] = v.o[i]->strides[lead - 1];
        o_strides[i][2] = v.o[i]->strides[lead];
        lse_strides[i][0] = lead == 2 ? v.lse[i]->strides[0] : 0;
        lse_strides[i][1] = v.lse[i]->strides[lead - 1];
        lse_strides[i][2] = v.lse[i]->strides[lead];
    }
}

// ----------------------------------------------------- attention variants --
// Sliding window and soft-cap (the appended ABI 2 fields): window_enabled is
// 0 (no window; the sizes are ignored) or 1 (window_left / window_right
// apply, -1 = unlimited); logits_soft_cap is finite and >= 0 (0 = off).
pattn_status check_variants(uint32_t window_enabled, int32_t window_left, int32_t window_right,
                            float soft_cap, AttentionArgs* args) {
    if (window_enabled > 1)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "window_enabled",
                                  "window_enabled = %u, expected 0 (no window) or 1 (window_left/window_right apply)",
                                  (unsigned)window_enabled);
    if (window_enabled && window_left < -1)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "window_left",
                                  "window_left = %d is below -1 (-1 = unlimited, 0.. = keys before the diagonal)",
                                  (int)window_left);
    if (window_enabled && window_right < -1)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "window_right",
                                  "window_right = %d is below -1 (-1 = unlimited, 0.. = keys after the diagonal)",
                                  (int)window_right);
    if (!std::isfinite(soft_cap) || soft_cap < 0.0f)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "logits_soft_cap",
                                  "logits_soft_cap = %g must be finite and >= 0 (0 = off)", (double)soft_cap);
    args->window_left = window_enabled ? window_left : -1;
    args->window_right = window_enabled ? window_right : -1;
    args->soft_cap = soft_cap;
    return PATTN_STATUS_SUCCESS;
}

// Packed layout: the rank-3 tensors of the call and the cu_seqlens offsets.
// `views` receives q/k/v/o/lse as rank-4/3 views [1, total, ...] so that the
// shared steps of validate_attention apply unchanged.
struct PackedViews {
    pattn_tensor q, k, v, o, lse;
};

pattn_tensor add_unit_batch(const pattn_tensor& t) {
    pattn_tensor r = t;
    if (t.ndim < 1 || t.ndim >= PATTN_MAX_DIMS) return r;
    r.ndim = t.ndim + 1;
    for (int i = t.ndim; i > 0; --i) {
        r.shape[i] = t.shape[i - 1];
        r.strides[i] = t.strides[i - 1];
    }
    r.shape[0] = 1;
    r.strides[0] = 0;
    return r;
}

// Paged prefill (page_table present): keys are appended at the end of a row,
// so right padding only; the packed layout's token offsets and a page table
// are two descriptions of the keys, and only one is taken.
pattn_status check_paged_prefill(const pattn_prefill_params& p, bool packed, bool left_padded) {
    if (packed)
        return set_argument_error(PATTN_STATUS_UNSUPPORTED, "page_table",
                                  "page_table is present with cu_seqlens_q: the packed layout with a paged KV cache "
                                  "is not supported (pass padded q with q_valid_lens / kv_valid_lens)");
    if (left_padded)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "mask_mode",
                                  "mask_mode = %d (left padding) with a page_table: a paged cache fills its pages "
                                  "from the first slot (use PADDED or CAUSAL_PADDED_RIGHT)",
                                  (int)raw_value(p.mask_mode));
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_packed_tensors(const pattn_prefill_params& p, PackedViews* views) {
    const int32_t mode = raw_value(p.mask_mode);
    if (mode != PATTN_MASK_PADDED && mode != PATTN_MASK_CAUSAL_PADDED_RIGHT)
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "mask_mode",
                                  "mask_mode = %d with cu_seqlens_q: the packed layout has no padding, so only "
                                  "PADDED (0, bidirectional) or CAUSAL_PADDED_RIGHT (2, causal) apply",
                                  (int)mode);
    if (is_present(p.q_valid_lens) || is_present(p.kv_valid_lens))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT,
                                  is_present(p.q_valid_lens) ? "q_valid_lens" : "kv_valid_lens",
                                  "%s is present with cu_seqlens_q: the packed layout takes its lengths from the offsets",
                                  is_present(p.q_valid_lens) ? "q_valid_lens" : "kv_valid_lens");
    PATTN_CHECK(check_tensor(p.q, "q", 3, "[total_q, num_qo_heads, head_dim] (packed)", true));
    PATTN_CHECK(check_tensor(p.k, "k", 3, "[total_kv, num_kv_heads, head_dim] (packed)", true));
    PATTN_CHECK(check_tensor(p.v, "v", 3, "[total_kv, num_kv_heads, head_dim] (packed)", true));
    PATTN_CHECK(check_tensor(p.o, "o", 3, "[total_q, num_qo_heads, head_dim] (packed)", true));
    if (is_present(p.lse)) PATTN_CHECK(check_tensor(p.lse, "lse", 2, "[total_q, num_qo_heads] (packed)", false));
    views->q = add_unit_batch(p.q);
    views->k = add_unit_batch(p.k);
    views->v = add_unit_batch(p.v);
    views->o = add_unit_batch(p.o);
    views->lse = is_present(p.lse) ? add_unit_batch(p.lse) : p.lse;
    return PATTN_STATUS_SUCCESS;
}

// After validate_attention: the offsets ([batch + 1] i32, contiguous, in host
// memory or on the device of q; host offsets non-decreasing within
// [0, total]). Fills the packed fields of *args.
pattn_status check_packed_offsets(const pattn_prefill_params& p, AttentionArgs* args) {
    const bool has_kv = is_present(p.cu_seqlens_kv);
    const pattn_tensor* cu[2] = {&p.cu_seqlens_q, has_kv ? &p.cu_seqlens_kv : nullptr};
    const char* names[2] = {"cu_seqlens_q", "cu_seqlens_kv"};
    const int64_t totals[2] = {p.q.shape[0], p.k.shape[0]};
    const char* total_names[2] = {"q.shape[0] (total_q)", "k.shape[0] (total_kv)"};
    const int64_t entries = p.cu_seqlens_q.ndim == 1 ? p.cu_seqlens_q.shape[0] : 0;
    for (int t = 0; t < 2; ++t) {
        if (!cu[t]) continue;
        PATTN_CHECK(check_tensor(*cu[t], names[t], 1, "[batch + 1]", false));
        if (cu[t]->dtype != PATTN_DTYPE_I32)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, names[t], "%s.dtype = %s, expected I32",
                                      names[t], dtype_name(cu[t]->dtype));
        if (cu[t]->shape[0] < 1)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, names[t],
                                      "%s.shape[0] = 0: the offsets hold batch + 1 >= 1 entries", names[t]);
        if (t == 1)
            PATTN_CHECK(check_shape_dim(*cu[t], names[t], 0, "batch + 1", entries, "cu_seqlens_q.shape[0]"));
        if (cu[t]->shape[0] > 1 && cu[t]->strides[0] != 1)
            return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, names[t],
                                      "%s.strides[0] = %" PRId64 ": offsets must be contiguous", names[t],
                                      cu[t]->strides[0]);
        PATTN_CHECK(check_element_alignment(*cu[t], names[t]));
        if (is_cuda(*cu[t]) && (!is_cuda(p.q) || cu[t]->device_id != p.q.device_id))
            return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, names[t],
                                      "%s is on CUDA device %d but q is not on that device: offsets must be in "
                                      "host memory or on the device of q",
                                      names[t], (int)cu[t]->device_id);
        PATTN_CHECK(check_placement(names[t], cu[t]->data, is_cuda(*cu[t]), p.q.device_id));
    }
    if (cu[1] && is_cuda(*cu[0]) != is_cuda(*cu[1]))
        return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, "cu_seqlens_kv",
                                  "cu_seqlens_q is %s but cu_seqlens_kv is %s: both must be in host memory or "
                                  "both on the device",
                                  is_cuda(*cu[0]) ? "on the device" : "in host memory",
                                  is_cuda(*cu[1]) ? "on the device" : "in host memory");
    const bool on_device = is_cuda(*cu[0]);
    int32_t max_q = static_cast<int32_t>(totals[0]);
    int32_t max_kv = static_cast<int32_t>(totals[1]);
    if (!on_device) {
        max_q = 0;
        max_kv = 0;
        for (int t = 0; t < 2; ++t) {
            if (!cu[t]) continue;
            const int32_t* x = static_cast<const int32_t*>(cu[t]->data);
            if (x[0] < 0 || x[0] > totals[t])
                return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, names[t],
                                          "%s[0] = %d is outside [0, %s = %" PRId64 "]", names[t], (int)x[0],
                                          total_names[t], totals[t]);
            for (int64_t b = 1; b < entries; ++b) {
                if (x[b] < x[b - 1] || x[b] > totals[t])
                    return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, names[t],
                                              "%s[%" PRId64 "] = %d is outside [%s[%" PRId64 "] = %d, %s = %" PRId64
                                              "]: offsets are non-decreasing token offsets",
                                              names[t], b, (int)x[b], names[t], b - 1, (int)x[b - 1],
                                              total_names[t], totals[t]);
                if (t == 0 && x[b] - x[b - 1] > max_q) max_q = x[b] - x[b - 1];
                if (t == 1 && x[b] - x[b - 1] > max_kv) max_kv = x[b] - x[b - 1];
            }
        }
        if (!cu[1]) max_kv = max_q;  // the key offsets are the query offsets
    }
    AttentionArgs& a = *args;
    a.packed = true;
    a.cu_on_device = on_device;
    a.cu_q = static_cast<const int32_t*>(cu[0]->data);
    a.cu_kv = cu[1] ? static_cast<const int32_t*>(cu[1]->data) : a.cu_q;
    a.batch = static_cast<int32_t>(entries - 1);
    a.longest_q = max_q;
    a.longest_kv = max_kv;
    // One sequence axis: the batch strides are never applied.
    a.q_stride_b = a.k_stride_b = a.v_stride_b = a.o_stride_b = a.lse_stride_b = 0;
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status validate_prefill(const pattn_prefill_params* params, AttentionArgs* args,
                              Placement* where, bool* no_op) {
    // ABI 1 ended before cpu_max_threads: such callers get the defaults.
    constexpr size_t kPrefillAbi1Size = offsetof(pattn_prefill_params, cpu_max_threads);
    // ABI 2 before the paged KV cache ended before page_table: no pages.
    constexpr size_t kPrefillUnpagedSize = offsetof(pattn_prefill_params, page_table);
    PATTN_CHECK(check_params_header(params, params ? params->struct_size : 0, sizeof(pattn_prefill_params),
                                    "pattn_prefill_params", kPrefillAbi1Size, kPrefillUnpagedSize));
    PATTN_CHECK(check_reserved(params->reserved));
    AttentionInputs in{};
    PATTN_CHECK(read_cpu_max_threads(*params, &in.cpu_max_threads));
    PATTN_CHECK(read_mask_mode(params->mask_mode, &in.causal, &in.left_padded));
    // Fields past an ABI-1 struct_size mean 0 (no window, no cap, padded).
    const bool abi2 = params->struct_size > kPrefillAbi1Size;
    const bool packed = abi2 && is_present(params->cu_seqlens_q);
    if (abi2 && !packed && is_present(params->cu_seqlens_kv))
        return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "cu_seqlens_kv",
                                  "cu_seqlens_kv is present without cu_seqlens_q (the packed layout needs both or "
                                  "cu_seqlens_q alone)");
    const bool paged = params->struct_size > kPrefillUnpagedSize && is_present(params->page_table);
    if (paged) PATTN_CHECK(check_paged_prefill(*params, packed, in.left_padded));
    PackedViews views{};
    if (packed) PATTN_CHECK(check_packed_tensors(*params, &views));
    in.q = packed ? &views.q : &params->q;
    in.k = packed ? &views.k : &params->k;
    in.v = packed ? &views.v : &params->v;
    in.o = packed ? &views.o : &params->o;
    in.lse = packed ? &views.lse : &params->lse;
    in.q_lens = &params->q_valid_lens;
    in.kv_lens = &params->kv_valid_lens;
    in.page_table = paged ? &params->page_table : nullptr;
    in.max_page_size = kMaxPrefillPageSize;
    in.k_name = "k";
    in.v_name = "v";
    in.len_name = "kv_len";
    in.scale = params->softmax_scale;
    in.decode = false;
    in.num_splits = 0;
    AttentionArgs variants{};
    PATTN_CHECK(check_variants(abi2 ? params->window_enabled : 0, abi2 ? params->window_left : 0,
                               abi2 ? params->window_right : 0, abi2 ? params->logits_soft_cap : 0.0f, &variants));
    PATTN_CHECK(validate_attention(in, args, where, no_op));
    if (packed) {
        PATTN_CHECK(check_packed_offsets(*params, args));
        if (args->batch == 0) *no_op = true;
    }
    if (*no_op) return PATTN_STATUS_SUCCESS;
    args->window_left = variants.window_left;
    args->window_right = variants.window_right;
    args->soft_cap = variants.soft_cap;
    return PATTN_STATUS_SUCCESS;
}

pattn_status validate_decode(const pattn_decode_params* params, AttentionArgs* args,
                             Placement* where, bool* no_op) {
    // ABI 1 ended before page_table: such callers get the contiguous cache.
    constexpr size_t kDecodeAbi1Size = offsetof(pattn_decode_params, page_table);
    PATTN_CHECK(check_params_header(params, params ? params->struct_size : 0, sizeof(pattn_decode_params),
                                    "pattn_decode_params", kDecodeAbi1Size));
    const bool abi1 = params->struct_size == kDecodeAbi1Size;
    AttentionInputs in{};
    PATTN_CHECK(read_cpu_max_threads(*params, &in.cpu_max_threads));
    PATTN_CHECK(read_padding_side(params->padding_side, &in.left_padded));
    in.q = &params->q;
    in.k = &params->k_cache;
    in.v = &params->v_cache;
    in.o = &params->o;
    in.lse = &params->lse;
    in.q_lens = nullptr;
    in.kv_lens = &params->kv_valid_lens;
    in.page_table = abi1 ? nullptr : &params->page_table;
    in.k_name = "k_cache";
    in.v_name = "v_cache";
    in.len_name = "cache_len";
    in.scale = params->softmax_scale;
    in.causal = true;
    in.decode = true;
    in.num_splits = params->num_splits;
    AttentionArgs variants{};
    PATTN_CHECK(check_variants(abi1 ? 0 : params->window_enabled, abi1 ? 0 : params->window_left,
                               abi1 ? 0 : params->window_right, abi1 ? 0.0f : params->logits_soft_cap, &variants));
    PATTN_CHECK(validate_attention(in, args, where, no_op));
    if (*no_op) return PATTN_STATUS_SUCCESS;
    args->window_left = variants.window_left;
    args->window_right = variants.window_right;
    args->soft_cap = variants.soft_cap;
    return PATTN_STATUS_SUCCESS;
}

pattn_status validate_merge(const pattn_merge_params* params, MergeArgs* args, Placement* where,
                            bool* no_op) {
    PATTN_CHECK(check_params_header(params, params ? params->struct_size : 0, sizeof(pattn_merge_params),
                                    "pattn_merge_params"));
    PATTN_CHECK(check_reserved(params->reserved));
    MergeViews m{{&params->o_a, &params->o_b, &params->o_out},
                 {&params->lse_a, &params->lse_b, &params->lse_out},
                 params->o_a.ndim};
    PATTN_CHECK(check_merge_rank(m.rank));
    PATTN_CHECK(check_merge_tensors(m));
    PATTN_CHECK(check_merge_dtypes(m));
    PATTN_CHECK(check_merge_shapes(m));

    const bool on_cuda = is_cuda(params->o_a);
    where->on_cuda = on_cuda;
    where->device_id = on_cuda ? params->o_a.device_id : 0;
    *no_op = numel(params->o_a) == 0;
    if (*no_op) return PATTN_STATUS_SUCCESS;

    PATTN_CHECK(check_merge_memory(m, on_cuda, where->device_id));
    PATTN_CHECK(check_merge_aliasing(m));
    fill_merge_args(m, where->device_id, args);
    return PATTN_STATUS_SUCCESS;
}

}  // namespace pattn
