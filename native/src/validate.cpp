// All argument checking of the C ABI. Every failure names the argument and
// the value. Rules (see docs/native-api.md):
//   - tensors: known dtype and device type, the expected rank, sizes and
//     strides >= 0, the last dimension contiguous (lse tensors excepted: any
//     strides), data != NULL unless the tensor is empty;
//   - placement: q/k/v/o/lse (and merge tensors) all in host memory or all on
//     one CUDA device; valid lengths on the host or on that same device, both
//     in the same place; descriptors are verified against the CUDA runtime;
//   - host lengths are range-checked here; device lengths are clamped by the
//     kernels (reading them here would need a synchronization).
#include "validate.h"

#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdio>

#include "errors.h"
#include "placement.h"

namespace pattn {

bool cuda_supports_head_dim(int64_t head_dim, bool decode) {
    if (head_dim == 64 || head_dim == 128 || head_dim == 256) return true;
    // Prefill also has the head_dims of the small embedding models.
    return !decode && (head_dim == 32 || head_dim == 80 || head_dim == 96);
}

namespace {

const char* dtype_name(pattn_dtype dtype) {
    switch (dtype) {
        case PATTN_DTYPE_F32: return "F32";
        case PATTN_DTYPE_F16: return "F16";
        case PATTN_DTYPE_BF16: return "BF16";
        case PATTN_DTYPE_I32: return "I32";
    }
    return nullptr;
}

size_t dtype_size(pattn_dtype dtype) {
    return dtype == PATTN_DTYPE_F16 || dtype == PATTN_DTYPE_BF16 ? 2 : 4;
}

bool is_present(const pattn_tensor& t) { return t.data != nullptr; }

bool is_cuda(const pattn_tensor& t) { return t.device_type == PATTN_DEVICE_CUDA; }

int64_t numel(const pattn_tensor& t) {
    int64_t n = 1;
    for (int i = 0; i < t.ndim; ++i) n *= t.shape[i];
    return n;
}

// Rank, dtype and device-type values, sizes, strides, data pointer.
// `layout` describes the expected dimensions for the message.
pattn_status check_tensor(const pattn_tensor& t, const char* name, int32_t ndim,
                          const char* layout, bool contiguous_last) {
    if (t.device_type != PATTN_DEVICE_CPU && t.device_type != PATTN_DEVICE_CUDA)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "%s.device_type = %d is not a pattn_device_type (0 = CPU, 1 = CUDA)", name,
                         (int)t.device_type);
    if (is_cuda(t) && t.device_id < 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "%s.device_id = %d is negative", name,
                         (int)t.device_id);
    if (dtype_name(t.dtype) == nullptr)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "%s.dtype = %d is not a pattn_dtype (0 = F32, 1 = F16, 2 = BF16, 3 = I32)",
                         name, (int)t.dtype);
    if (t.ndim != ndim)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "%s.ndim = %d, expected %d (%s)", name,
                         (int)t.ndim, (int)ndim, layout);
    for (int i = 0; i < ndim; ++i) {
        if (t.shape[i] < 0)
            return set_error(PATTN_STATUS_INVALID_ARGUMENT, "%s.shape[%d] = %" PRId64 " is negative",
                             name, i, t.shape[i]);
        if (t.shape[i] > INT32_MAX)
            return set_error(PATTN_STATUS_UNSUPPORTED,
                             "%s.shape[%d] = %" PRId64 " is larger than the supported %d", name, i,
                             t.shape[i], INT32_MAX);
        if (t.strides[i] < 0)
            return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                             "%s.strides[%d] = %" PRId64 " is negative (negative strides are not supported)",
                             name, i, t.strides[i]);
    }
    if (contiguous_last && t.strides[ndim - 1] != 1)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "%s.strides[%d] = %" PRId64 ": the last dimension must be contiguous (stride 1)",
                         name, ndim - 1, t.strides[ndim - 1]);
    if (t.data == nullptr && numel(t) > 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "%s.data is NULL (shape has %" PRId64 " elements)",
                         name, numel(t));
    return PATTN_STATUS_SUCCESS;
}

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
    return set_error(PATTN_STATUS_DEVICE_MISMATCH,
                     "%s is %s but %s is %s: all tensors of one call must be on one device", name, a,
                     ref_name, b);
}

pattn_status check_shape_dim(const pattn_tensor& t, const char* name, int dim, const char* what,
                             int64_t expected, const char* source) {
    if (t.shape[dim] == expected) return PATTN_STATUS_SUCCESS;
    return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                     "%s.shape[%d] (%s) = %" PRId64 " does not match %s = %" PRId64, name, dim, what,
                     t.shape[dim], source, expected);
}

// The CUDA kernels read q/k/v/o with 16-byte vector accesses.
pattn_status check_vector_alignment(const pattn_tensor& t, const char* name) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(t.data);
    if (address % 16 != 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "%s.data = %p is not 16-byte aligned: the CUDA path needs 16-byte aligned data "
                         "and batch/sequence/head strides that are multiples of 8 elements",
                         name, t.data);
    static const char* const dim_names[3] = {"batch", "sequence", "head"};
    for (int i = 0; i < 3; ++i) {
        if (t.shape[i] <= 1) continue;  // the stride of a size-1 dimension is never applied
        if (t.strides[i] % 8 != 0)
            return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                             "%s.strides[%d] (%s stride) = %" PRId64
                             " is not a multiple of 8 elements: the CUDA path needs 16-byte aligned rows",
                             name, i, dim_names[i], t.strides[i]);
    }
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_element_alignment(const pattn_tensor& t, const char* name) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(t.data);
    const size_t size = dtype_size(t.dtype);
    if (address % size != 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "%s.data = %p is not aligned to its element size (%zu bytes)", name, t.data,
                         size);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_scale(float scale) {
    if (!std::isfinite(scale))
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "softmax_scale = %g is not finite",
                         (double)scale);
    return PATTN_STATUS_SUCCESS;
}

// The shared shape of prefill and decode.
struct AttentionInputs {
    const pattn_tensor* q;
    const pattn_tensor* k;
    const pattn_tensor* v;
    const pattn_tensor* o;
    const pattn_tensor* lse;      // optional (data == NULL: absent)
    const pattn_tensor* q_lens;   // null pointer: the call has no such argument
    const pattn_tensor* kv_lens;  // optional
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

#define PATTN_CHECK(expr)                                  \
    do {                                                   \
        pattn_status pattn_s_ = (expr);                    \
        if (pattn_s_ != PATTN_STATUS_SUCCESS) return pattn_s_; \
    } while (0)

pattn_status check_host_lengths(const pattn_tensor& lens, const char* name, int64_t batch,
                                int64_t hi, const char* hi_name) {
    const int32_t* values = static_cast<const int32_t*>(lens.data);
    for (int64_t b = 0; b < batch; ++b) {
        if (values[b] < 0 || values[b] > hi)
            return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                             "%s[%" PRId64 "] = %d is outside [0, %s = %" PRId64 "]", name, b,
                             (int)values[b], hi_name, hi);
    }
    return PATTN_STATUS_SUCCESS;
}

pattn_status validate_attention(const AttentionInputs& in, AttentionArgs* args, Placement* where,
                                bool* no_op) {
    const pattn_tensor& q = *in.q;
    const pattn_tensor& k = *in.k;
    const pattn_tensor& v = *in.v;
    const pattn_tensor& o = *in.o;
    const bool has_lse = is_present(*in.lse);
    const bool has_q_lens = in.q_lens != nullptr && is_present(*in.q_lens);
    const bool has_kv_lens = is_present(*in.kv_lens);
    static const char* const layout_q = "[batch, q_len, num_qo_heads, head_dim]";
    const char* layout_kv = in.decode ? "[batch, cache_len, num_kv_heads, head_dim]"
                                      : "[batch, kv_len, num_kv_heads, head_dim]";

    PATTN_CHECK(check_scale(in.scale));

    // Each tensor on its own.
    PATTN_CHECK(check_tensor(q, "q", 4, layout_q, true));
    PATTN_CHECK(check_tensor(k, in.k_name, 4, layout_kv, true));
    PATTN_CHECK(check_tensor(v, in.v_name, 4, layout_kv, true));
    PATTN_CHECK(check_tensor(o, "o", 4, layout_q, true));
    if (has_lse) PATTN_CHECK(check_tensor(*in.lse, "lse", 3, "[batch, q_len, num_qo_heads]", false));
    if (has_q_lens) PATTN_CHECK(check_tensor(*in.q_lens, "q_valid_lens", 1, "[batch]", false));
    if (has_kv_lens) PATTN_CHECK(check_tensor(*in.kv_lens, "kv_valid_lens", 1, "[batch]", false));

    // Placement: everything where q is; lengths on the host or there too.
    PATTN_CHECK(check_same_place(k, in.k_name, q, "q"));
    PATTN_CHECK(check_same_place(v, in.v_name, q, "q"));
    PATTN_CHECK(check_same_place(o, "o", q, "q"));
    if (has_lse) PATTN_CHECK(check_same_place(*in.lse, "lse", q, "q"));
    const bool on_cuda = is_cuda(q);
    bool lens_on_device = false;
    {
        const pattn_tensor* lens[2] = {has_q_lens ? in.q_lens : nullptr,
                                       has_kv_lens ? in.kv_lens : nullptr};
        const char* names[2] = {"q_valid_lens", "kv_valid_lens"};
        for (int i = 0; i < 2; ++i) {
            if (!lens[i]) continue;
            if (is_cuda(*lens[i])) {
                if (!on_cuda || lens[i]->device_id != q.device_id) {
                    char a[48], b[48];
                    describe_place(*lens[i], a, sizeof a);
                    describe_place(q, b, sizeof b);
                    return set_error(PATTN_STATUS_DEVICE_MISMATCH,
                                     "%s is %s but q is %s: valid lengths must be in host memory or "
                                     "on the device of q",
                                     names[i], a, b);
                }
                lens_on_device = true;
            }
        }
        if (lens[0] && lens[1] && is_cuda(*lens[0]) != is_cuda(*lens[1]))
            return set_error(PATTN_STATUS_DEVICE_MISMATCH,
                             "q_valid_lens is %s but kv_valid_lens is %s: both must be in host "
                             "memory or both on the device",
                             is_cuda(*lens[0]) ? "on the device" : "in host memory",
                             is_cuda(*lens[1]) ? "on the device" : "in host memory");
    }

    // Data types.
    if (q.dtype == PATTN_DTYPE_I32)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "q.dtype = I32 is not supported (supported: F16, BF16; F32 on the CPU)");
    if (q.dtype == PATTN_DTYPE_F32 && on_cuda)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "q.dtype = F32 is supported only on the CPU backend (CUDA: F16, BF16)");
    {
        const pattn_tensor* same[3] = {&k, &v, &o};
        const char* names[3] = {in.k_name, in.v_name, "o"};
        for (int i = 0; i < 3; ++i)
            if (same[i]->dtype != q.dtype)
                return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                                 "%s.dtype = %s does not match q.dtype = %s", names[i],
                                 dtype_name(same[i]->dtype), dtype_name(q.dtype));
    }
    if (has_lse && in.lse->dtype != PATTN_DTYPE_F32)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "lse.dtype = %s, expected F32",
                         dtype_name(in.lse->dtype));
    if (has_q_lens && in.q_lens->dtype != PATTN_DTYPE_I32)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "q_valid_lens.dtype = %s, expected I32",
                         dtype_name(in.q_lens->dtype));
    if (has_kv_lens && in.kv_lens->dtype != PATTN_DTYPE_I32)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "kv_valid_lens.dtype = %s, expected I32",
                         dtype_name(in.kv_lens->dtype));

    // Shapes.
    const int64_t batch = q.shape[0], q_len = q.shape[1], num_qo_heads = q.shape[2],
                  head_dim = q.shape[3];
    const int64_t kv_len = k.shape[1], num_kv_heads = k.shape[2];
    PATTN_CHECK(check_shape_dim(k, in.k_name, 0, "batch", batch, "q.shape[0]"));
    PATTN_CHECK(check_shape_dim(k, in.k_name, 3, "head_dim", head_dim, "q.shape[3]"));
    for (int i = 0; i < 4; ++i)
        if (v.shape[i] != k.shape[i])
            return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                             "%s.shape[%d] = %" PRId64 " does not match %s.shape[%d] = %" PRId64,
                             in.v_name, i, v.shape[i], in.k_name, i, k.shape[i]);
    for (int i = 0; i < 4; ++i)
        if (o.shape[i] != q.shape[i])
            return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                             "o.shape[%d] = %" PRId64 " does not match q.shape[%d] = %" PRId64, i,
                             o.shape[i], i, q.shape[i]);
    if (has_lse)
        for (int i = 0; i < 3; ++i)
            if (in.lse->shape[i] != q.shape[i])
                return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                                 "lse.shape[%d] = %" PRId64 " does not match q.shape[%d] = %" PRId64,
                                 i, in.lse->shape[i], i, q.shape[i]);
    if (has_q_lens) PATTN_CHECK(check_shape_dim(*in.q_lens, "q_valid_lens", 0, "batch", batch, "q.shape[0]"));
    if (has_kv_lens) PATTN_CHECK(check_shape_dim(*in.kv_lens, "kv_valid_lens", 0, "batch", batch, "q.shape[0]"));
    // The backends index lengths as plain arrays.
    if (has_q_lens && batch > 1 && in.q_lens->strides[0] != 1)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "q_valid_lens.strides[0] = %" PRId64 ": valid lengths must be contiguous",
                         in.q_lens->strides[0]);
    if (has_kv_lens && batch > 1 && in.kv_lens->strides[0] != 1)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "kv_valid_lens.strides[0] = %" PRId64 ": valid lengths must be contiguous",
                         in.kv_lens->strides[0]);

    // Heads.
    if (num_kv_heads == 0 && num_qo_heads > 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "%s.shape[2] (num_kv_heads) = 0 but q.shape[2] (num_qo_heads) = %" PRId64,
                         in.k_name, num_qo_heads);
    if (num_kv_heads > 0 && num_qo_heads % num_kv_heads != 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "q.shape[2] (num_qo_heads) = %" PRId64
                         " is not a multiple of %s.shape[2] (num_kv_heads) = %" PRId64,
                         num_qo_heads, in.k_name, num_kv_heads);

    // Head dim.
    if (on_cuda && !cuda_supports_head_dim(head_dim, in.decode))
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "q.shape[3] (head_dim) = %" PRId64 " is not supported (supported on CUDA: %s)",
                         head_dim, in.decode ? "64, 128, 256" : "32, 64, 80, 96, 128, 256");
    if (!on_cuda && (head_dim < 1 || head_dim > kCpuMaxHeadDim))
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "q.shape[3] (head_dim) = %" PRId64
                         " is not supported (supported on the CPU: 1 to %" PRId64 ")",
                         head_dim, kCpuMaxHeadDim);

    // Lengths.
    if (has_q_lens && !has_kv_lens && q_len != kv_len)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "kv_valid_lens is absent (so it equals q_valid_lens) but q.shape[1] (q_len) = %" PRId64
                         " differs from %s.shape[1] (kv_len) = %" PRId64 "; pass kv_valid_lens",
                         q_len, in.k_name, kv_len);
    if (in.decode && q_len > 16)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "q.shape[1] (q_len) = %" PRId64 " is outside [1, 16] for decode (use prefill)",
                         q_len);
    if (in.num_splits < 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "num_splits = %d is negative",
                         (int)in.num_splits);

    where->on_cuda = on_cuda;
    where->device_id = on_cuda ? q.device_id : 0;
    *no_op = batch == 0 || q_len == 0 || num_qo_heads == 0;
    if (*no_op) return PATTN_STATUS_SUCCESS;

    // The device exists, the memory is where the descriptors say, and the
    // CUDA path gets the alignment its vector loads need.
    if (on_cuda) {
        const int32_t count = cuda_device_count_or_zero();
        if (q.device_id >= count && count > 0)
            return set_error(PATTN_STATUS_NO_DEVICE,
                             "q.device_id = %d does not exist (%d CUDA device(s))", (int)q.device_id,
                             (int)count);
        PATTN_CHECK(check_vector_alignment(q, "q"));
        PATTN_CHECK(check_vector_alignment(k, in.k_name));
        PATTN_CHECK(check_vector_alignment(v, in.v_name));
        PATTN_CHECK(check_vector_alignment(o, "o"));
    }
    if (has_lse) PATTN_CHECK(check_element_alignment(*in.lse, "lse"));
    if (has_q_lens) PATTN_CHECK(check_element_alignment(*in.q_lens, "q_valid_lens"));
    if (has_kv_lens) PATTN_CHECK(check_element_alignment(*in.kv_lens, "kv_valid_lens"));
    if (!on_cuda) {
        PATTN_CHECK(check_element_alignment(q, "q"));
        PATTN_CHECK(check_element_alignment(k, in.k_name));
        PATTN_CHECK(check_element_alignment(v, in.v_name));
        PATTN_CHECK(check_element_alignment(o, "o"));
    }
    PATTN_CHECK(check_placement("q", q.data, on_cuda, q.device_id));
    if (kv_len > 0 && num_kv_heads > 0) {
        PATTN_CHECK(check_placement(in.k_name, k.data, on_cuda, q.device_id));
        PATTN_CHECK(check_placement(in.v_name, v.data, on_cuda, q.device_id));
    }
    PATTN_CHECK(check_placement("o", o.data, on_cuda, q.device_id));
    if (has_lse) PATTN_CHECK(check_placement("lse", in.lse->data, on_cuda, q.device_id));
    if (has_q_lens)
        PATTN_CHECK(check_placement("q_valid_lens", in.q_lens->data, is_cuda(*in.q_lens), q.device_id));
    if (has_kv_lens)
        PATTN_CHECK(check_placement("kv_valid_lens", in.kv_lens->data, is_cuda(*in.kv_lens), q.device_id));

    // Host lengths are checked; device lengths are clamped by the kernels.
    if (!lens_on_device) {
        if (has_q_lens) PATTN_CHECK(check_host_lengths(*in.q_lens, "q_valid_lens", batch, q_len, "q_len"));
        if (has_kv_lens)
            PATTN_CHECK(check_host_lengths(*in.kv_lens, "kv_valid_lens", batch, kv_len, in.len_name));
    }

    AttentionArgs& a = *args;
    a = AttentionArgs{};
    a.dtype = q.dtype;
    a.device_id = where->device_id;
    a.batch = static_cast<int32_t>(batch);
    a.q_len = static_cast<int32_t>(q_len);
    a.kv_len = static_cast<int32_t>(kv_len);
    a.num_qo_heads = static_cast<int32_t>(num_qo_heads);
    a.num_kv_heads = static_cast<int32_t>(num_kv_heads);
    a.head_dim = static_cast<int32_t>(head_dim);
    a.scale = in.scale != 0.0f ? in.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
    a.causal = in.causal;
    a.left_padded = in.left_padded;
    a.q = q.data;
    a.k = k.data;
    a.v = v.data;
    a.o = o.data;
    a.lse = has_lse ? static_cast<float*>(in.lse->data) : nullptr;
    a.q_stride_b = q.strides[0]; a.q_stride_s = q.strides[1]; a.q_stride_h = q.strides[2];
    a.k_stride_b = k.strides[0]; a.k_stride_s = k.strides[1]; a.k_stride_h = k.strides[2];
    a.v_stride_b = v.strides[0]; a.v_stride_s = v.strides[1]; a.v_stride_h = v.strides[2];
    a.o_stride_b = o.strides[0]; a.o_stride_s = o.strides[1]; a.o_stride_h = o.strides[2];
    if (has_lse) {
        a.lse_stride_b = in.lse->strides[0];
        a.lse_stride_s = in.lse->strides[1];
        a.lse_stride_h = in.lse->strides[2];
    }
    a.q_lens = has_q_lens ? static_cast<const int32_t*>(in.q_lens->data) : nullptr;
    // kv_valid_lens absent means equal to q_valid_lens (q_len == kv_len checked above).
    a.kv_lens = has_kv_lens ? static_cast<const int32_t*>(in.kv_lens->data) : a.q_lens;
    a.lens_on_device = lens_on_device;
    a.num_splits = in.num_splits;
    a.cpu_max_threads = in.cpu_max_threads;
    return PATTN_STATUS_SUCCESS;
}

// struct_size of a params struct that gained fields in ABI 2: the current
// size, or the ABI-1 size (the fields past it then take their zero defaults).
// Reads cpu_max_threads (0 when the caller's struct ends before it).
template <typename Params>
pattn_status check_appended_params(const Params& params, const char* struct_name, int32_t* cpu_max_threads) {
    const size_t abi1_size = offsetof(Params, cpu_max_threads);
    if (params.struct_size != sizeof(Params) && params.struct_size != abi1_size)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "params->struct_size = %u, expected %zu (sizeof(%s) of ABI version %d) or %zu "
                         "(ABI version 1)",
                         (unsigned)params.struct_size, sizeof(Params), struct_name, (int)PATTN_ABI_VERSION,
                         abi1_size);
    *cpu_max_threads = params.struct_size > abi1_size ? params.cpu_max_threads : 0;
    if (*cpu_max_threads < 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "cpu_max_threads = %d is negative (0 = all hardware threads)", (int)*cpu_max_threads);
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status validate_prefill(const pattn_prefill_params* params, AttentionArgs* args,
                              Placement* where, bool* no_op) {
    if (params == nullptr)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "params is NULL");
    int32_t cpu_max_threads = 0;
    PATTN_CHECK(check_appended_params(*params, "pattn_prefill_params", &cpu_max_threads));
    if (params->reserved != 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "params->reserved = %u, must be 0",
                         (unsigned)params->reserved);
    AttentionInputs in{};
    switch (params->mask_mode) {
        case PATTN_MASK_PADDED: in.causal = false; in.left_padded = false; break;
        case PATTN_MASK_CAUSAL_PADDED_LEFT: in.causal = true; in.left_padded = true; break;
        case PATTN_MASK_CAUSAL_PADDED_RIGHT: in.causal = true; in.left_padded = false; break;
        case PATTN_MASK_PADDED_LEFT: in.causal = false; in.left_padded = true; break;
        default:
            return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                             "mask_mode = %d is not a pattn_mask_mode (0 = PADDED, 1 = "
                             "CAUSAL_PADDED_LEFT, 2 = CAUSAL_PADDED_RIGHT, 3 = PADDED_LEFT)",
                             (int)params->mask_mode);
    }
    in.q = &params->q;
    in.k = &params->k;
    in.v = &params->v;
    in.o = &params->o;
    in.lse = &params->lse;
    in.q_lens = &params->q_valid_lens;
    in.kv_lens = &params->kv_valid_lens;
    in.k_name = "k";
    in.v_name = "v";
    in.len_name = "kv_len";
    in.scale = params->softmax_scale;
    in.decode = false;
    in.num_splits = 0;
    in.cpu_max_threads = cpu_max_threads;
    return validate_attention(in, args, where, no_op);
}

pattn_status validate_decode(const pattn_decode_params* params, AttentionArgs* args,
                             Placement* where, bool* no_op) {
    if (params == nullptr)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "params is NULL");
    int32_t cpu_max_threads = 0;
    PATTN_CHECK(check_appended_params(*params, "pattn_decode_params", &cpu_max_threads));
    if (params->padding_side != PATTN_PADDING_RIGHT && params->padding_side != PATTN_PADDING_LEFT)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "padding_side = %d is not a pattn_padding_side (0 = RIGHT, 1 = LEFT)",
                         (int)params->padding_side);
    AttentionInputs in{};
    in.q = &params->q;
    in.k = &params->k_cache;
    in.v = &params->v_cache;
    in.o = &params->o;
    in.lse = &params->lse;
    in.q_lens = nullptr;
    in.kv_lens = &params->kv_valid_lens;
    in.k_name = "k_cache";
    in.v_name = "v_cache";
    in.len_name = "cache_len";
    in.scale = params->softmax_scale;
    in.causal = true;
    in.left_padded = params->padding_side == PATTN_PADDING_LEFT;
    in.decode = true;
    in.num_splits = params->num_splits;
    in.cpu_max_threads = cpu_max_threads;
    return validate_attention(in, args, where, no_op);
}

pattn_status validate_merge(const pattn_merge_params* params, MergeArgs* args, Placement* where,
                            bool* no_op) {
    if (params == nullptr)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "params is NULL");
    if (params->struct_size != sizeof(pattn_merge_params))
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "params->struct_size = %u, expected %zu (sizeof(pattn_merge_params) of "
                         "ABI version %d)",
                         (unsigned)params->struct_size, sizeof(pattn_merge_params),
                         (int)PATTN_ABI_VERSION);
    if (params->reserved != 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT, "params->reserved = %u, must be 0",
                         (unsigned)params->reserved);

    const pattn_tensor* o[3] = {&params->o_a, &params->o_b, &params->o_out};
    const char* o_names[3] = {"o_a", "o_b", "o_out"};
    const pattn_tensor* lse[3] = {&params->lse_a, &params->lse_b, &params->lse_out};
    const char* lse_names[3] = {"lse_a", "lse_b", "lse_out"};

    const int32_t rank = params->o_a.ndim;
    if (rank != 3 && rank != 4)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "o_a.ndim = %d, expected 3 ([tokens, num_heads, head_dim]) or 4 ([batch, "
                         "len, num_heads, head_dim])",
                         (int)rank);
    const char* o_layout = rank == 3 ? "[tokens, num_heads, head_dim], as o_a"
                                     : "[batch, len, num_heads, head_dim], as o_a";
    const char* lse_layout = rank == 3 ? "[tokens, num_heads]" : "[batch, len, num_heads]";
    for (int i = 0; i < 3; ++i) {
        PATTN_CHECK(check_tensor(*o[i], o_names[i], rank, o_layout, true));
        PATTN_CHECK(check_tensor(*lse[i], lse_names[i], rank - 1, lse_layout, false));
    }
    for (int i = 0; i < 3; ++i) {
        if (i > 0) PATTN_CHECK(check_same_place(*o[i], o_names[i], params->o_a, "o_a"));
        PATTN_CHECK(check_same_place(*lse[i], lse_names[i], params->o_a, "o_a"));
    }
    const pattn_dtype dtype = params->o_a.dtype;
    if (dtype == PATTN_DTYPE_I32)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "o_a.dtype = I32 is not supported (supported: F32, F16, BF16)");
    for (int i = 0; i < 3; ++i) {
        if (o[i]->dtype != dtype)
            return set_error(PATTN_STATUS_INVALID_ARGUMENT, "%s.dtype = %s does not match o_a.dtype = %s",
                             o_names[i], dtype_name(o[i]->dtype), dtype_name(dtype));
        if (lse[i]->dtype != PATTN_DTYPE_F32)
            return set_error(PATTN_STATUS_INVALID_ARGUMENT, "%s.dtype = %s, expected F32",
                             lse_names[i], dtype_name(lse[i]->dtype));
    }
    for (int i = 1; i < 3; ++i)
        for (int d = 0; d < rank; ++d)
            if (o[i]->shape[d] != params->o_a.shape[d])
                return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                                 "%s.shape[%d] = %" PRId64 " does not match o_a.shape[%d] = %" PRId64,
                                 o_names[i], d, o[i]->shape[d], d, params->o_a.shape[d]);
    for (int i = 0; i < 3; ++i)
        for (int d = 0; d < rank - 1; ++d)
            if (lse[i]->shape[d] != params->o_a.shape[d])
                return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                                 "%s.shape[%d] = %" PRId64 " does not match o_a.shape[%d] = %" PRId64,
                                 lse_names[i], d, lse[i]->shape[d], d, params->o_a.shape[d]);

    const bool on_cuda = is_cuda(params->o_a);
    const int64_t head_dim = params->o_a.shape[rank - 1];
    const int64_t num_heads = params->o_a.shape[rank - 2];
    if (head_dim == 0 && numel(params->lse_a) > 0)
        return set_error(PATTN_STATUS_INVALID_ARGUMENT,
                         "o_a.shape[%d] (head_dim) = 0 but there are states to merge", rank - 1);
    where->on_cuda = on_cuda;
    where->device_id = on_cuda ? params->o_a.device_id : 0;
    *no_op = numel(params->o_a) == 0;
    if (*no_op) return PATTN_STATUS_SUCCESS;

    if (on_cuda) {
        const int32_t count = cuda_device_count_or_zero();
        if (params->o_a.device_id >= count && count > 0)
            return set_error(PATTN_STATUS_NO_DEVICE,
                             "o_a.device_id = %d does not exist (%d CUDA device(s))",
                             (int)params->o_a.device_id, (int)count);
    }
    for (int i = 0; i < 3; ++i) {
        PATTN_CHECK(check_element_alignment(*o[i], o_names[i]));
        PATTN_CHECK(check_element_alignment(*lse[i], lse_names[i]));
    }
    for (int i = 0; i < 3; ++i) {
        PATTN_CHECK(check_placement(o_names[i], o[i]->data, on_cuda, where->device_id));
        PATTN_CHECK(check_placement(lse_names[i], lse[i]->data, on_cuda, where->device_id));
    }

    MergeArgs& m = *args;
    m = MergeArgs{};
    m.dtype = dtype;
    m.device_id = where->device_id;
    m.num_heads = static_cast<int32_t>(num_heads);
    m.head_dim = static_cast<int32_t>(head_dim);
    const int lead = rank - 2;  // leading dims before heads: 1 (tokens) or 2 (batch, len)
    m.d0 = lead == 2 ? params->o_a.shape[0] : 1;
    m.d1 = params->o_a.shape[lead - 1];
    m.o_a = params->o_a.data;
    m.o_b = params->o_b.data;
    m.o_out = params->o_out.data;
    m.lse_a = static_cast<const float*>(params->lse_a.data);
    m.lse_b = static_cast<const float*>(params->lse_b.data);
    m.lse_out = static_cast<float*>(params->lse_out.data);
    int64_t* o_strides[3] = {m.o_a_stride, m.o_b_stride, m.o_out_stride};
    int64_t* lse_strides[3] = {m.lse_a_stride, m.lse_b_stride, m.lse_out_stride};
    for (int i = 0; i < 3; ++i) {
        // [d0, d1, heads]; d0 has size 1 for rank 3, so its stride is never applied.
        o_strides[i][0] = lead == 2 ? o[i]->strides[0] : 0;
        o_strides[i][1] = o[i]->strides[lead - 1];
        o_strides[i][2] = o[i]->strides[lead];
        lse_strides[i][0] = lead == 2 ? lse[i]->strides[0] : 0;
        lse_strides[i][1] = lse[i]->strides[lead - 1];
        lse_strides[i][2] = lse[i]->strides[lead];
    }
    return PATTN_STATUS_SUCCESS;
}

}  // namespace pattn
