// The attention entry points of the C ABI: validate, then dispatch to the CPU
// backend (host tensors) or the CUDA kernels (device tensors). No C++
// exception leaves these functions.
#include "api_guard.h"
#include "backends.h"
#include "errors.h"
#include "paddedattn.h"
#include "placement.h"
#include "validate.h"

#if defined(PATTN_WITH_CUDA)
#include "cuda_check.h"
#endif

namespace pattn {
namespace {

#if defined(PATTN_WITH_CUDA)
// Drops the stream answer of check_stream_device when the call ends.
struct StreamCheckScope {
    ~StreamCheckScope() { forget_stream_check(); }
};

// The kernels launch on the tensors' device, on a stream of that device; the
// caller's current device is restored afterwards. The device is made current
// first, so that NULL names its legacy stream when the stream is checked
// (one capture query per call, kept for the backend: placement.h).
template <typename Launch>
pattn_status on_device(int32_t device_id, void* stream, Launch&& launch) {
    ScopedDevice device(device_id);
    if (device.status() != cudaSuccess) return cuda_error(device.status(), "cudaSetDevice");
    const StreamCheckScope scope;
    pattn_status s = check_stream_device(stream, device_id);
    if (s != PATTN_STATUS_SUCCESS) return s;
    return launch();
}
#else
template <typename Launch>
pattn_status on_device(int32_t, void*, Launch&& launch) {
    return launch();
}
#endif

// The body of every attention entry point: validate, return early when there
// is nothing to do, then run the CPU backend (host tensors) or the CUDA one
// (device tensors, on their device).
template <typename Args, typename Params, typename Validate, typename Cpu, typename Cuda>
pattn_status run_call(const char* function, const Params* params, void* stream, Validate validate, Cpu cpu_backend,
                      Cuda cuda_backend) {
    return guarded(function, [&]() -> pattn_status {
        Args args;
        Placement where;
        bool no_op = false;
        pattn_status s = validate(params, &args, &where, &no_op);
        if (s != PATTN_STATUS_SUCCESS || no_op) return s;
        if (!where.on_cuda) return cpu_backend(args);
        return on_device(where.device_id, stream, [&] { return cuda_backend(args, stream); });
    });
}

}  // namespace
}  // namespace pattn

extern "C" {

PATTN_API uint32_t pattn_abi_version(void) { return PATTN_ABI_VERSION; }

PATTN_API const char* pattn_version_string(void) {
#if defined(PATTN_WITH_CUDA)
    return "0.1.0 (CUDA and CPU backends)";
#else
    return "0.1.0 (CPU-only build)";
#endif
}

PATTN_API pattn_status pattn_sequence_prefill(const pattn_prefill_params* params, void* stream) {
    return pattn::run_call<pattn::AttentionArgs>("pattn_sequence_prefill", params, stream, pattn::validate_prefill,
                                                 pattn::cpu::prefill, pattn::cuda::prefill);
}

// Decode is causal prefill with every query row real: the CPU backend serves
// both with one function.
PATTN_API pattn_status pattn_decode(const pattn_decode_params* params, void* stream) {
    return pattn::run_call<pattn::AttentionArgs>("pattn_decode", params, stream, pattn::validate_decode,
                                                 pattn::cpu::prefill, pattn::cuda::decode);
}

PATTN_API pattn_status pattn_merge_states(const pattn_merge_params* params, void* stream) {
    return pattn::run_call<pattn::MergeArgs>("pattn_merge_states", params, stream, pattn::validate_merge,
                                             pattn::cpu::merge_states, pattn::cuda::merge_states);
}

}  // extern "C"
