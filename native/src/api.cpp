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
// The kernels launch on the tensors' device, on a stream of that device; the
// caller's current device is restored afterwards.
template <typename Launch>
pattn_status on_device(int32_t device_id, void* stream, Launch&& launch) {
    pattn_status s = check_stream_device(stream, device_id);
    if (s != PATTN_STATUS_SUCCESS) return s;
    ScopedDevice device(device_id);
    if (device.status() != cudaSuccess) return cuda_error(device.status(), "cudaSetDevice");
    return launch();
}
#else
template <typename Launch>
pattn_status on_device(int32_t, void*, Launch&& launch) {
    return launch();
}
#endif

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
    return pattn::guarded("pattn_sequence_prefill", [&]() -> pattn_status {
        pattn::AttentionArgs args;
        pattn::Placement where;
        bool no_op = false;
        pattn_status s = pattn::validate_prefill(params, &args, &where, &no_op);
        if (s != PATTN_STATUS_SUCCESS || no_op) return s;
        if (!where.on_cuda) return pattn::cpu::prefill(args);
        return pattn::on_device(where.device_id, stream, [&] { return pattn::cuda::prefill(args, stream); });
    });
}

PATTN_API pattn_status pattn_decode(const pattn_decode_params* params, void* stream) {
    return pattn::guarded("pattn_decode", [&]() -> pattn_status {
        pattn::AttentionArgs args;
        pattn::Placement where;
        bool no_op = false;
        pattn_status s = pattn::validate_decode(params, &args, &where, &no_op);
        if (s != PATTN_STATUS_SUCCESS || no_op) return s;
        // Decode is causal prefill with every query row real; a paged cache
        // has its own CPU path.
        if (!where.on_cuda) return args.page_table ? pattn::cpu::decode_paged(args) : pattn::cpu::prefill(args);
        return pattn::on_device(where.device_id, stream, [&] { return pattn::cuda::decode(args, stream); });
    });
}

PATTN_API pattn_status pattn_merge_states(const pattn_merge_params* params, void* stream) {
    return pattn::guarded("pattn_merge_states", [&]() -> pattn_status {
        pattn::MergeArgs args;
        pattn::Placement where;
        bool no_op = false;
        pattn_status s = pattn::validate_merge(params, &args, &where, &no_op);
        if (s != PATTN_STATUS_SUCCESS || no_op) return s;
        if (!where.on_cuda) return pattn::cpu::merge_states(args);
        return pattn::on_device(where.device_id, stream, [&] { return pattn::cuda::merge_states(args, stream); });
    });
}

}  // extern "C"
