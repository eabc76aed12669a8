// paddedattn_ort.cpp — libpaddedattn_ort, an ONNX Runtime custom-operator
// library: operator com.paddedattention.SequencePrefill, which runs
// pattn_sequence_prefill (native/include/paddedattn.h) inside an ONNX model.
//
//   inputs   q     [batch, q_len,  num_heads * head_dim]      f32 / f16 / bf16
//            k, v  [batch, kv_len, kv_num_heads * head_dim]   same type as q
//            valid (optional) int32 [batch]: the real rows of each sequence, or
//                  the model's attention mask [batch, kv_len] (int64 or int32,
//                  1 = real token, 0 = padding; it must be one run of ones at
//                  the side mask_mode pads on)
//   output   o     [batch, q_len, num_heads * head_dim]       same type as q
//   attributes num_heads (required), kv_num_heads (0 / absent: num_heads),
//            mask_mode (pattn_mask_mode, default 0 = PATTN_MASK_PADDED),
//            scale (0 / absent: 1/sqrt(head_dim))
//
// Registered for ONNX Runtime's CPU execution provider (f32, f16, bf16) and,
// when libpaddedattn has its CUDA backend, the CUDA execution provider (f16,
// bf16), where the kernels run on ORT's compute stream. The valid lengths /
// mask input is always taken in host memory (OrtMemTypeCPUInput), so the
// lengths are known without a device synchronization.
//
// Only ORT's C API is used; every failure is an OrtStatus (no exception
// leaves this file). The library is loaded with
// SessionOptions.RegisterCustomOpLibrary / RegisterCustomOpsLibrary_V2.
#include <onnxruntime_c_api.h>

#include <paddedattn.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#if defined(_WIN32)
#  define PATTN_ORT_EXPORT __declspec(dllexport)
#else
#  define PATTN_ORT_EXPORT __attribute__((visibility("default")))
#endif

namespace {

// The oldest ORT API this library needs (ONNX Runtime 1.17): custom-op
// shape inference and GetTensorMemoryInfo.
constexpr uint32_t kOrtApiVersion = 17;
constexpr const char* kDomain = "com.paddedattention";
constexpr const char* kOpName = "SequencePrefill";
constexpr const char* kCudaProvider = "CUDAExecutionProvider";

const OrtApi* g_api = nullptr;

OrtStatus* make_error(OrtErrorCode code, const std::string& message) {
    return g_api->CreateStatus(code, ("SequencePrefill: " + message).c_str());
}

// Evaluates an ORT call; returns its status from the enclosing function on failure.
#define PATTN_ORT_TRY(call)                      \
    do {                                         \
        if (OrtStatus* status_ = (call)) return status_; \
    } while (0)

struct SequencePrefillKernel {
    int64_t num_heads = 0;
    int64_t kv_num_heads = 0;
    int64_t mask_mode = PATTN_MASK_PADDED;
    float scale = 0.0f;
    bool on_cuda = false;
};

// One registered variant: the data type, the type of the lengths/mask input
// and the execution provider. ORT merges variants of one name into one schema.
struct OpVariant {
    OrtCustomOp op;  // first member: ORT hands back &op
    ONNXTensorElementDataType data_type;
    ONNXTensorElementDataType valid_type;
    bool on_cuda;
};

const OpVariant* variant_of(const OrtCustomOp* op) { return reinterpret_cast<const OpVariant*>(op); }

// ------------------------------------------------------------ attributes --

OrtStatus* read_int_attribute(const OrtKernelInfo* info, const char* name, int64_t* value, bool required) {
    OrtStatus* status = g_api->KernelInfoGetAttribute_int64(info, name, value);
    if (status == nullptr) return nullptr;
    g_api->ReleaseStatus(status);
    if (required) return make_error(ORT_INVALID_ARGUMENT, std::string("the attribute '") + name + "' is required");
    return nullptr;  // absent: the default stays
}

OrtStatus* read_float_attribute(const OrtKernelInfo* info, const char* name, float* value) {
    OrtStatus* status = g_api->KernelInfoGetAttribute_float(info, name, value);
    if (status != nullptr) g_api->ReleaseStatus(status);  // absent: the default stays
    return nullptr;
}

OrtStatus* ORT_API_CALL create_kernel(const OrtCustomOp* op, const OrtApi*, const OrtKernelInfo* info,
                                      void** kernel_out) {
    SequencePrefillKernel kernel;
    kernel.on_cuda = variant_of(op)->on_cuda;
    PATTN_ORT_TRY(read_int_attribute(info, "num_heads", &kernel.num_heads, true));
    PATTN_ORT_TRY(read_int_attribute(info, "kv_num_heads", &kernel.kv_num_heads, false));
    PATTN_ORT_TRY(read_int_attribute(info, "mask_mode", &kernel.mask_mode, false));
    PATTN_ORT_TRY(read_float_attribute(info, "scale", &kernel.scale));
    if (kernel.kv_num_heads == 0) kernel.kv_num_heads = kernel.num_heads;
    if (kernel.num_heads <= 0 || kernel.num_heads > INT32_MAX)
        return make_error(ORT_INVALID_ARGUMENT, "num_heads = " + std::to_string(kernel.num_heads) + " must be positive");
    if (kernel.kv_num_heads <= 0 || kernel.num_heads % kernel.kv_num_heads != 0)
        return make_error(ORT_INVALID_ARGUMENT, "kv_num_heads = " + std::to_string(kernel.kv_num_heads) +
                                                    " must be positive and divide num_heads = " +
                                                    std::to_string(kernel.num_heads));
    if (kernel.mask_mode < PATTN_MASK_PADDED || kernel.mask_mode > PATTN_MASK_PADDED_LEFT)
        return make_error(ORT_INVALID_ARGUMENT, "mask_mode = " + std::to_string(kernel.mask_mode) +
                                                    " is not a pattn_mask_mode (0..3)");
    if (!(kernel.scale >= 0.0f) || std::isinf(kernel.scale))
        return make_error(ORT_INVALID_ARGUMENT, "scale = " + std::to_string(kernel.scale) +
                                                    " must be finite and >= 0 (0: 1/sqrt(head_dim))");
    auto* created = new (std::nothrow) SequencePrefillKernel(kernel);
    if (created == nullptr) return make_error(ORT_FAIL, "out of host memory");
    *kernel_out = created;
    return nullptr;
}

void ORT_API_CALL destroy_kernel(void* kernel) { delete static_cast<SequencePrefillKernel*>(kernel); }

// --------------------------------------------------------------- tensors --

struct TensorView {
    const OrtValue* value = nullptr;
    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    std::vector<int64_t> shape;
    void* data = nullptr;
};

OrtStatus* inspect(const OrtValue* value, TensorView* view) {
    view->value = value;
    OrtTensorTypeAndShapeInfo* info = nullptr;
    PATTN_ORT_TRY(g_api->GetTensorTypeAndShape(value, &info));
    size_t rank = 0;
    OrtStatus* status = g_api->GetTensorElementType(info, &view->type);
    if (status == nullptr) status = g_api->GetDimensionsCount(info, &rank);
    if (status == nullptr) {
        view->shape.assign(rank, 0);
        status = g_api->GetDimensions(info, view->shape.data(), rank);
    }
    g_api->ReleaseTensorTypeAndShapeInfo(info);
    if (status != nullptr) return status;
    return g_api->GetTensorMutableData(const_cast<OrtValue*>(value), &view->data);
}

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

pattn_dtype to_pattn_dtype(ONNXTensorElementDataType type) {
    switch (type) {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return PATTN_DTYPE_F16;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return PATTN_DTYPE_BF16;
        default: return PATTN_DTYPE_F32;
    }
}

// [batch, len, heads * head_dim] as the [batch, len, heads, head_dim] view of the C ABI.
pattn_tensor heads_view(void* data, pattn_dtype dtype, int32_t device_id, bool on_cuda, int64_t batch, int64_t len,
                        int64_t heads, int64_t head_dim) {
    pattn_tensor t;
    std::memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.device_type = on_cuda ? PATTN_DEVICE_CUDA : PATTN_DEVICE_CPU;
    t.device_id = on_cuda ? device_id : 0;
    t.ndim = 4;
    t.shape[0] = batch;
    t.shape[1] = len;
    t.shape[2] = heads;
    t.shape[3] = head_dim;
    t.strides[3] = 1;
    t.strides[2] = head_dim;
    t.strides[1] = heads * head_dim;
    t.strides[0] = len * heads * head_dim;
    return t;
}

// The valid lengths of a [batch, len] attention mask: each row must be one
// run of ones at the real side (right padding: ones first; left padding:
// ones last), which is what the mask modes can express.
template <typename MaskT>
OrtStatus* lengths_from_mask(const MaskT* mask, int64_t batch, int64_t len, bool left_padded,
                             std::vector<int32_t>* lengths) {
    lengths->assign((size_t)batch, 0);
    for (int64_t b = 0; b < batch; ++b) {
        const MaskT* row = mask + b * len;
        int64_t ones = 0;
        for (int64_t j = 0; j < len; ++j) {
            if (row[j] != 0 && row[j] != 1)
                return make_error(ORT_INVALID_ARGUMENT, "attention mask[" + std::to_string(b) + ", " +
                                                            std::to_string(j) + "] = " +
                                                            std::to_string((long long)row[j]) + " is not 0 or 1");
            ones += row[j] == 1;
        }
        // The ones must be [0, ones) (right padding) or [len - ones, len) (left).
        const int64_t first = left_padded ? len - ones : 0;
        for (int64_t j = 0; j < len; ++j) {
            const bool real = j >= first && j < first + ones;
            if ((row[j] == 1) != real)
                return make_error(ORT_INVALID_ARGUMENT,
                                  "attention mask row " + std::to_string(b) + " is not " +
                                      (left_padded ? "left" : "right") + "-padded (a " +
                                      (row[j] == 1 ? "1" : "0") + " at position " + std::to_string(j) +
                                      "): mask_mode " + (left_padded ? "1/3" : "0/2") +
                                      " takes one run of ones " + (left_padded ? "at the end" : "at the start"));
        }
        (*lengths)[(size_t)b] = (int32_t)ones;
    }
    return nullptr;
}

OrtStatus* ORT_API_CALL compute(void* kernel_ptr, OrtKernelContext* context) {
    const auto& kernel = *static_cast<const SequencePrefillKernel*>(kernel_ptr);
    size_t input_count = 0;
    PATTN_ORT_TRY(g_api->KernelContext_GetInputCount(context, &input_count));

    TensorView q, k, v, valid;
    const char* names[3] = {"q", "k", "v"};
    TensorView* qkv[3] = {&q, &k, &v};
    for (size_t i = 0; i < 3; ++i) {
        const OrtValue* value = nullptr;
        PATTN_ORT_TRY(g_api->KernelContext_GetInput(context, i, &value));
        if (value == nullptr) return make_error(ORT_INVALID_ARGUMENT, std::string("input ") + names[i] + " is missing");
        PATTN_ORT_TRY(inspect(value, qkv[i]));
        if (qkv[i]->shape.size() != 3)
            return make_error(ORT_INVALID_ARGUMENT, std::string("input ") + names[i] + " has shape " +
                                                        shape_string(qkv[i]->shape) +
                                                        "; expected [batch, seq, heads * head_dim]");
    }
    const OrtValue* valid_value = nullptr;
    if (input_count > 3) PATTN_ORT_TRY(g_api->KernelContext_GetInput(context, 3, &valid_value));
    if (valid_value != nullptr) PATTN_ORT_TRY(inspect(valid_value, &valid));

    const int64_t batch = q.shape[0], q_len = q.shape[1], hidden = q.shape[2];
    const int64_t kv_len = k.shape[1];
    if (hidden % kernel.num_heads != 0)
        return make_error(ORT_INVALID_ARGUMENT, "q has shape " + shape_string(q.shape) + ": its last dimension " +
                                                    std::to_string(hidden) + " is not a multiple of num_heads = " +
                                                    std::to_string(kernel.num_heads));
    const int64_t head_dim = hidden / kernel.num_heads;
    const int64_t kv_hidden = kernel.kv_num_heads * head_dim;
    for (TensorView* t : {&k, &v}) {
        if (t->shape[0] != batch || t->shape[1] != kv_len || t->shape[2] != kv_hidden)
            return make_error(ORT_INVALID_ARGUMENT,
                              std::string(t == &k ? "k" : "v") + " has shape " + shape_string(t->shape) +
                                  "; expected [" + std::to_string(batch) + ", " + std::to_string(kv_len) + ", " +
                                  std::to_string(kv_hidden) + "] (kv_num_heads * head_dim)");
    }

    // The output, allocated by ORT with q's shape.
    OrtValue* out_value = nullptr;
    PATTN_ORT_TRY(g_api->KernelContext_GetOutput(context, 0, q.shape.data(), q.shape.size(), &out_value));
    void* out_data = nullptr;
    PATTN_ORT_TRY(g_api->GetTensorMutableData(out_value, &out_data));

    // Lengths: int32 [batch] as they are; a [batch, kv_len] mask reduced to lengths.
    const bool left_padded =
        kernel.mask_mode == PATTN_MASK_CAUSAL_PADDED_LEFT || kernel.mask_mode == PATTN_MASK_PADDED_LEFT;
    std::vector<int32_t> lengths;
    const int32_t* lengths_data = nullptr;
    if (valid_value != nullptr) {
        if (valid.shape.size() == 1 && valid.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32) {
            if (valid.shape[0] != batch)
                return make_error(ORT_INVALID_ARGUMENT, "valid lengths have shape " + shape_string(valid.shape) +
                                                            "; expected [" + std::to_string(batch) + "]");
            lengths_data = static_cast<const int32_t*>(valid.data);
        } else if (valid.shape.size() == 2) {
            if (valid.shape[0] != batch || valid.shape[1] != kv_len || q_len != kv_len)
                return make_error(ORT_INVALID_ARGUMENT,
                                  "attention mask has shape " + shape_string(valid.shape) + "; expected [" +
                                      std::to_string(batch) + ", " + std::to_string(kv_len) +
                                      "] with q and k of one sequence length (q: " + std::to_string(q_len) +
                                      ", k: " + std::to_string(kv_len) + ")");
            OrtStatus* status =
                valid.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
                    ? lengths_from_mask(static_cast<const int64_t*>(valid.data), batch, kv_len, left_padded, &lengths)
                    : lengths_from_mask(static_cast<const int32_t*>(valid.data), batch, kv_len, left_padded, &lengths);
            if (status != nullptr) return status;
            lengths_data = lengths.data();
        } else {
            return make_error(ORT_INVALID_ARGUMENT, "input 3 has shape " + shape_string(valid.shape) +
                                                        "; expected int32 valid lengths [batch] or an attention "
                                                        "mask [batch, seq]");
        }
    }

    void* stream = nullptr;
    int device_id = 0;
    if (kernel.on_cuda) {
        PATTN_ORT_TRY(g_api->KernelContext_GetGPUComputeStream(context, &stream));
        const OrtMemoryInfo* memory = nullptr;
        PATTN_ORT_TRY(g_api->GetTensorMemoryInfo(q.value, &memory));
        PATTN_ORT_TRY(g_api->MemoryInfoGetId(memory, &device_id));
    }

    const pattn_dtype dtype = to_pattn_dtype(q.type);
    pattn_prefill_params params;
    std::memset(&params, 0, sizeof params);
    params.struct_size = sizeof params;
    params.mask_mode = (pattn_mask_mode)kernel.mask_mode;
    params.q = heads_view(q.data, dtype, device_id, kernel.on_cuda, batch, q_len, kernel.num_heads, head_dim);
    params.k = heads_view(k.data, dtype, device_id, kernel.on_cuda, batch, kv_len, kernel.kv_num_heads, head_dim);
    params.v = heads_view(v.data, dtype, device_id, kernel.on_cuda, batch, kv_len, kernel.kv_num_heads, head_dim);
    params.o = heads_view(out_data, dtype, device_id, kernel.on_cuda, batch, q_len, kernel.num_heads, head_dim);
    if (lengths_data != nullptr) {
        // Host memory in both providers (GetInputMemoryType below).
        pattn_tensor& lens = params.q_valid_lens;
        lens.data = const_cast<int32_t*>(lengths_data);
        lens.dtype = PATTN_DTYPE_I32;
        lens.device_type = PATTN_DEVICE_CPU;
        lens.ndim = 1;
        lens.shape[0] = batch;
        lens.strides[0] = 1;
        // Self-attention with a mask: the same lengths for the keys. With
        // int32 lengths and q_len != kv_len they are q lengths only (the C ABI
        // then requires q_len == kv_len and reports it).
    }
    params.softmax_scale = kernel.scale;

    const pattn_status status = pattn_sequence_prefill(&params, stream);
    if (status != PATTN_STATUS_SUCCESS) {
        const OrtErrorCode code = status == PATTN_STATUS_INVALID_ARGUMENT || status == PATTN_STATUS_UNSUPPORTED
                                      ? ORT_INVALID_ARGUMENT
                                      : ORT_RUNTIME_EXCEPTION;
        return make_error(code, std::string("pattn_sequence_prefill: ") + pattn_status_string(status) + ": " +
                                    pattn_last_error_message());
    }
    return nullptr;
}

// -------------------------------------------------------- shape inference --

// o has q's type, dims and symbolic dim names (which ORT matches against the
// graph's declared output shapes). The input's info belongs to the context
// (ORT's custom_ops.cc keeps it there) and is not released here.
OrtStatus* ORT_API_CALL infer_output_shape(const OrtCustomOp*, OrtShapeInferContext* context) {
    OrtTensorTypeAndShapeInfo* q_info = nullptr;
    PATTN_ORT_TRY(g_api->ShapeInferContext_GetInputTypeShape(context, 0, &q_info));
    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    size_t rank = 0;
    PATTN_ORT_TRY(g_api->GetTensorElementType(q_info, &type));
    PATTN_ORT_TRY(g_api->GetDimensionsCount(q_info, &rank));
    std::vector<int64_t> dims(rank, 0);
    std::vector<const char*> names(rank, nullptr);
    PATTN_ORT_TRY(g_api->GetDimensions(q_info, dims.data(), rank));
    PATTN_ORT_TRY(g_api->GetSymbolicDimensions(q_info, names.data(), rank));
    // An unknown dim must carry a name: without one ORT records the -1 as a
    // dim value, and then warns that every actual size mismatches it. Names of
    // our own, unique, say "unknown" without claiming equal to anything.
    static std::atomic<uint64_t> unknown_dims{0};
    std::vector<std::string> generated(rank);
    for (size_t i = 0; i < rank; ++i) {
        if (names[i] != nullptr && names[i][0] != '\0') continue;
        if (dims[i] >= 0) {
            names[i] = "";
            continue;
        }
        generated[i] = "SequencePrefill_unk_" + std::to_string(unknown_dims.fetch_add(1));
        names[i] = generated[i].c_str();
    }

    OrtTensorTypeAndShapeInfo* o_info = nullptr;
    PATTN_ORT_TRY(g_api->CreateTensorTypeAndShapeInfo(&o_info));
    OrtStatus* status = g_api->SetTensorElementType(o_info, type);
    if (status == nullptr) status = g_api->SetDimensions(o_info, dims.data(), rank);
    if (status == nullptr) status = g_api->SetSymbolicDimensions(o_info, names.data(), rank);
    if (status == nullptr) status = g_api->ShapeInferContext_SetOutputTypeShape(context, 0, o_info);
    g_api->ReleaseTensorTypeAndShapeInfo(o_info);
    return status;
}

// ------------------------------------------------------------ op variants --

const char* ORT_API_CALL op_name(const OrtCustomOp*) { return kOpName; }
const char* ORT_API_CALL op_provider(const OrtCustomOp* op) { return variant_of(op)->on_cuda ? kCudaProvider : nullptr; }
size_t ORT_API_CALL op_input_count(const OrtCustomOp*) { return 4; }
size_t ORT_API_CALL op_output_count(const OrtCustomOp*) { return 1; }
ONNXTensorElementDataType ORT_API_CALL op_input_type(const OrtCustomOp* op, size_t index) {
    return index == 3 ? variant_of(op)->valid_type : variant_of(op)->data_type;
}
ONNXTensorElementDataType ORT_API_CALL op_output_type(const OrtCustomOp* op, size_t) {
    return variant_of(op)->data_type;
}
OrtCustomOpInputOutputCharacteristic ORT_API_CALL op_input_characteristic(const OrtCustomOp*, size_t index) {
    return index == 3 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}
OrtCustomOpInputOutputCharacteristic ORT_API_CALL op_output_characteristic(const OrtCustomOp*, size_t) {
    return INPUT_OUTPUT_REQUIRED;
}
// Lengths / mask in host memory; q, k, v on the provider's device.
OrtMemType ORT_API_CALL op_input_memory_type(const OrtCustomOp*, size_t index) {
    return index == 3 ? OrtMemTypeCPUInput : OrtMemTypeDefault;
}
int ORT_API_CALL op_start_version(const OrtCustomOp*) { return 1; }
int ORT_API_CALL op_end_version(const OrtCustomOp*) { return INT32_MAX; }

OpVariant make_variant(ONNXTensorElementDataType data_type, ONNXTensorElementDataType valid_type, bool on_cuda) {
    OpVariant variant;
    std::memset(&variant, 0, sizeof variant);
    OrtCustomOp& op = variant.op;
    op.version = kOrtApiVersion;
    op.GetName = op_name;
    op.GetExecutionProviderType = op_provider;
    op.GetInputType = op_input_type;
    op.GetInputTypeCount = op_input_count;
    op.GetOutputType = op_output_type;
    op.GetOutputTypeCount = op_output_count;
    op.KernelDestroy = destroy_kernel;
    op.GetInputCharacteristic = op_input_characteristic;
    op.GetOutputCharacteristic = op_output_characteristic;
    op.GetInputMemoryType = op_input_memory_type;
    op.CreateKernelV2 = create_kernel;
    op.KernelComputeV2 = compute;
    op.InferOutputShapeFn = infer_output_shape;
    op.GetStartVersion = op_start_version;
    op.GetEndVersion = op_end_version;
    variant.data_type = data_type;
    variant.valid_type = valid_type;
    variant.on_cuda = on_cuda;
    return variant;
}

// Every variant: CPU (f32, f16, bf16) and CUDA (f16, bf16), each with int64
// or int32 lengths / mask. Built once; ORT keeps pointers to them.
std::vector<OpVariant>& variants() {
    static std::vector<OpVariant> all = [] {
        std::vector<OpVariant> list;
        const ONNXTensorElementDataType valid_types[2] = {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64,
                                                          ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32};
        const ONNXTensorElementDataType cpu_types[3] = {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                        ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
                                                        ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16};
        for (ONNXTensorElementDataType valid : valid_types)
            for (ONNXTensorElementDataType data : cpu_types) list.push_back(make_variant(data, valid, false));
        int32_t devices = 0;
        if (pattn_device_count(&devices) == PATTN_STATUS_SUCCESS && devices > 0)
            for (ONNXTensorElementDataType valid : valid_types)
                for (int i = 1; i < 3; ++i) list.push_back(make_variant(cpu_types[i], valid, true));
        return list;
    }();
    return all;
}

}  // namespace

// The entry point ONNX Runtime looks up in a custom-op library.
extern "C" PATTN_ORT_EXPORT OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options,
                                                               const OrtApiBase* api_base) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    if (g_api == nullptr) {
        g_api = api_base->GetApi(kOrtApiVersion);
        if (g_api == nullptr) {
            std::fprintf(stderr, "libpaddedattn_ort: ONNX Runtime %s does not offer API version %u (1.17+)\n",
                         api_base->GetVersionString(), kOrtApiVersion);
            return nullptr;  // no API to build a status with
        }
    }
    // One domain per registration: ORT refers to it for the lifetime of the
    // sessions made from these options, which this library cannot see end;
    // it is small and kept.
    OrtCustomOpDomain* domain = nullptr;
    PATTN_ORT_TRY(g_api->CreateCustomOpDomain(kDomain, &domain));
    for (OpVariant& variant : variants()) PATTN_ORT_TRY(g_api->CustomOpDomain_Add(domain, &variant.op));
    return g_api->AddCustomOpDomain(options, domain);
}
