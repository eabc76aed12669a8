// CUDA builds: the device, memory and stream functions of the C ABI, thin
// checked wrappers over the CUDA runtime, plus the placement checks that
// native/core/validate.cpp uses. CPU-only builds use cuda_runtime_unavailable.cpp.
#if defined(PATTN_WITH_CUDA)

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "api_guard.h"
#include "cuda_check.h"
#include "errors.h"
#include "paddedattn.h"
#include "placement.h"

namespace pattn {

int32_t cuda_device_count_or_zero() {
    // The count is fixed once the runtime has initialized (CUDA_VISIBLE_DEVICES
    // is read then), so a positive answer is kept: every validated call asks.
    static std::atomic<int32_t> known{0};
    const int32_t cached = known.load(std::memory_order_relaxed);
    if (cached > 0) return cached;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: not an error for the caller
        return 0;
    }
    if (count > 0) known.store(count, std::memory_order_relaxed);
    return count;
}

namespace {

// The memory this library handed out and has not freed yet
// (pattn_device_malloc, pattn_host_malloc_pinned), so that check_placement
// can answer for it without asking the runtime (cudaPointerGetAttributes
// costs about as much as the rest of a call's host work). Such memory is
// released only through pattn_device_free / pattn_host_free_pinned, which
// drop it here first, so an entry never outlives its allocation under the
// API's contract; and an entry is trusted only when it agrees with the
// tensor's descriptor (otherwise the runtime is asked), so even a stale one
// (memory freed behind the library's back) can never reject a valid call.
class AllocationRegistry {
public:
    static constexpr int kHost = -1;

    void add(const void* ptr, uint64_t bytes, int device) {
        const uintptr_t lo = reinterpret_cast<uintptr_t>(ptr);
        std::unique_lock<std::shared_mutex> lock(mutex_);
        ranges_[lo] = Range{lo + bytes, device};
    }
    void remove(const void* ptr) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        ranges_.erase(reinterpret_cast<uintptr_t>(ptr));
    }
    // The device (kHost: page-locked host memory) of the live allocation
    // that holds `ptr`; false when none does.
    bool find(const void* ptr, int* device) const {
        const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
        std::shared_lock<std::shared_mutex> lock(mutex_);
        auto it = ranges_.upper_bound(p);
        if (it == ranges_.begin()) return false;
        --it;
        if (p >= it->second.hi) return false;
        *device = it->second.device;
        return true;
    }

private:
    struct Range {
        uintptr_t hi;
        int device;
    };
    mutable std::shared_mutex mutex_;
    std::map<uintptr_t, Range> ranges_;  // by first byte
};

AllocationRegistry& registry() {
    static AllocationRegistry* instance = new AllocationRegistry();  // kept: no teardown-order hazards
    return *instance;
}

// cudaPointerGetAttributes, with the error it may leave behind cleared.
bool pointer_attributes(const void* ptr, cudaPointerAttributes* attributes) {
    std::memset(attributes, 0, sizeof *attributes);
    cudaError_t e = cudaPointerGetAttributes(attributes, ptr);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return true;
}

pattn_status require_not_null(const void* p, const char* name) {
    if (p == nullptr) return set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, name, "%s is NULL", name);
    return PATTN_STATUS_SUCCESS;
}

pattn_status check_device_id(int32_t device_id) {
    const int32_t count = cuda_device_count_or_zero();
    if (count == 0)
        return set_argument_error(PATTN_STATUS_NO_DEVICE, "device_id", "device_id = %d: no CUDA device is available",
                         (int)device_id);
    if (device_id < 0 || device_id >= count)
        return set_argument_error(PATTN_STATUS_NO_DEVICE, "device_id", "device_id = %d does not exist (%d CUDA device(s))",
                         (int)device_id, (int)count);
    return PATTN_STATUS_SUCCESS;
}

#define PATTN_RETURN_IF_ERROR(expr)                            \
    do {                                                       \
        pattn_status pattn_s_ = (expr);                        \
        if (pattn_s_ != PATTN_STATUS_SUCCESS) return pattn_s_; \
    } while (0)

}  // namespace

pattn_status check_placement(const char* name, const void* ptr, bool on_cuda, int32_t device_id) {
    if (ptr == nullptr) return PATTN_STATUS_SUCCESS;
    // Memory of this library's allocators, where the descriptor agrees.
    int known_device = 0;
    if (registry().find(ptr, &known_device) &&
        (on_cuda ? known_device == device_id : known_device == AllocationRegistry::kHost))
        return PATTN_STATUS_SUCCESS;
    const int32_t count = cuda_device_count_or_zero();
    if (!on_cuda) {
        // Without a device nothing can be device memory.
        if (count == 0) return PATTN_STATUS_SUCCESS;
        cudaPointerAttributes attributes;
        if (pointer_attributes(ptr, &attributes) && attributes.type == cudaMemoryTypeDevice)
            return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, name,
                             "%s.device_type is CPU but %s.data = %p is memory of CUDA device %d",
                             name, name, ptr, attributes.device);
        return PATTN_STATUS_SUCCESS;
    }
    if (count == 0)
        return set_argument_error(PATTN_STATUS_NO_DEVICE, name,
                         "%s is a CUDA tensor (device_id = %d) but no CUDA device is available", name,
                         (int)device_id);
    if (device_id >= count)
        return set_argument_error(PATTN_STATUS_NO_DEVICE, name, "%s.device_id = %d does not exist (%d CUDA device(s))",
                         name, (int)device_id, (int)count);
    cudaPointerAttributes attributes;
    if (!pointer_attributes(ptr, &attributes))
        return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, name,
                         "%s.device_type is CUDA but the CUDA runtime does not know %s.data = %p", name,
                         name, ptr);
    if (attributes.type == cudaMemoryTypeManaged) return PATTN_STATUS_SUCCESS;
    if (attributes.type != cudaMemoryTypeDevice)
        return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, name,
                         "%s.device_type is CUDA but %s.data = %p is host memory", name, name, ptr);
    if (attributes.device != device_id)
        return set_argument_error(PATTN_STATUS_DEVICE_MISMATCH, name,
                         "%s.device_id = %d but %s.data = %p is memory of CUDA device %d", name,
                         (int)device_id, name, ptr, attributes.device);
    return PATTN_STATUS_SUCCESS;
}

// check_stream_device: common/capture.cu (it learns the capture status too).

}  // namespace pattn

using pattn::guarded;

extern "C" {

PATTN_API pattn_status pattn_device_count(int32_t* count) {
    return guarded("pattn_device_count", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(count, "count"));
        *count = pattn::cuda_device_count_or_zero();
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_device_get_properties(int32_t device_id,
                                                   pattn_device_properties* properties) {
    return guarded("pattn_device_get_properties", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(properties, "properties"));
        if (properties->struct_size != sizeof(pattn_device_properties))
            return pattn::set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "properties",
                                    "properties->struct_size = %u, expected %zu "
                                    "(sizeof(pattn_device_properties))",
                                    (unsigned)properties->struct_size, sizeof(pattn_device_properties));
        PATTN_RETURN_IF_ERROR(pattn::check_device_id(device_id));
        cudaDeviceProp prop;
        PATTN_CUDA_TRY(cudaGetDeviceProperties(&prop, device_id));
        int optin = 0;
        PATTN_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_id));
        const uint32_t struct_size = properties->struct_size;
        std::memset(properties, 0, sizeof *properties);
        properties->struct_size = struct_size;
        properties->device_id = device_id;
        std::snprintf(properties->name, sizeof properties->name, "%s", prop.name);
        properties->compute_capability_major = prop.major;
        properties->compute_capability_minor = prop.minor;
        properties->multiprocessor_count = prop.multiProcessorCount;
        properties->max_shared_memory_per_block_optin = optin;
        properties->total_global_memory = prop.totalGlobalMem;
        properties->l2_cache_size = static_cast<uint64_t>(prop.l2CacheSize);
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_device_synchronize(int32_t device_id) {
    return guarded("pattn_device_synchronize", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::check_device_id(device_id));
        pattn::ScopedDevice device(device_id);
        PATTN_CUDA_TRY(device.status());
        PATTN_CUDA_TRY(cudaDeviceSynchronize());
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_device_malloc(int32_t device_id, uint64_t bytes, void** ptr) {
    return guarded("pattn_device_malloc", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(ptr, "ptr"));
        *ptr = nullptr;
        PATTN_RETURN_IF_ERROR(pattn::check_device_id(device_id));
        if (bytes == 0) return PATTN_STATUS_SUCCESS;
        pattn::ScopedDevice device(device_id);
        PATTN_CUDA_TRY(device.status());
        void* p = nullptr;
        cudaError_t e = cudaMalloc(&p, bytes);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return pattn::cuda_error(e, "cudaMalloc");
        }
        pattn::registry().add(p, bytes, device_id);
        *ptr = p;
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_device_free(void* ptr) {
    return guarded("pattn_device_free", [&]() -> pattn_status {
        if (ptr == nullptr) return PATTN_STATUS_SUCCESS;
        pattn::registry().remove(ptr);
        // Free on the device that owns the memory.
        cudaPointerAttributes attributes;
        int owner = -1;
        if (pattn::pointer_attributes(ptr, &attributes) && attributes.type == cudaMemoryTypeDevice)
            owner = attributes.device;
        if (owner >= 0) {
            pattn::ScopedDevice device(owner);
            PATTN_CUDA_TRY(device.status());
            PATTN_CUDA_TRY(cudaFree(ptr));
        } else {
            PATTN_CUDA_TRY(cudaFree(ptr));
        }
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_host_malloc_pinned(uint64_t bytes, void** ptr) {
    return guarded("pattn_host_malloc_pinned", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(ptr, "ptr"));
        *ptr = nullptr;
        if (bytes == 0) return PATTN_STATUS_SUCCESS;
        void* p = nullptr;
        cudaError_t e = cudaMallocHost(&p, bytes);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return pattn::cuda_error(e, "cudaMallocHost");
        }
        pattn::registry().add(p, bytes, pattn::AllocationRegistry::kHost);
        *ptr = p;
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_host_free_pinned(void* ptr) {
    return guarded("pattn_host_free_pinned", [&]() -> pattn_status {
        if (ptr == nullptr) return PATTN_STATUS_SUCCESS;
        pattn::registry().remove(ptr);
        PATTN_CUDA_TRY(cudaFreeHost(ptr));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_memcpy(void* dst, const void* src, uint64_t bytes) {
    return guarded("pattn_memcpy", [&]() -> pattn_status {
        if (bytes == 0) return PATTN_STATUS_SUCCESS;
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(dst, "dst"));
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(src, "src"));
        PATTN_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
        // cudaMemcpy returns before the copy has landed when it goes from
        // pageable host memory to the device (once the data is staged) or
        // from device to device; work on a non-blocking stream could then
        // run before it (or be overwritten by it). Waiting for the copy's
        // stream makes this form complete on return, as the header says.
        PATTN_CUDA_TRY(cudaStreamSynchronize(nullptr));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_memcpy_async(void* dst, const void* src, uint64_t bytes, void* stream) {
    return guarded("pattn_memcpy_async", [&]() -> pattn_status {
        if (bytes == 0) return PATTN_STATUS_SUCCESS;
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(dst, "dst"));
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(src, "src"));
        PATTN_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault,
                                       static_cast<cudaStream_t>(stream)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_memset_async(void* dst, int32_t value, uint64_t bytes, void* stream) {
    return guarded("pattn_memset_async", [&]() -> pattn_status {
        if (bytes == 0) return PATTN_STATUS_SUCCESS;
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(dst, "dst"));
        PATTN_CUDA_TRY(cudaMemsetAsync(dst, value & 0xFF, bytes, static_cast<cudaStream_t>(stream)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_pointer_get_device(const void* ptr, pattn_device_type* device_type,
                                                int32_t* device_id) {
    return guarded("pattn_pointer_get_device", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(device_type, "device_type"));
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(device_id, "device_id"));
        *device_type = PATTN_DEVICE_CPU;
        *device_id = 0;
        if (ptr == nullptr || pattn::cuda_device_count_or_zero() == 0) return PATTN_STATUS_SUCCESS;
        cudaPointerAttributes attributes;
        // Host pointers unknown to CUDA may leave an error behind; it is
        // cleared, and such memory is host memory.
        if (!pattn::pointer_attributes(ptr, &attributes)) return PATTN_STATUS_SUCCESS;
        if (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged) {
            *device_type = PATTN_DEVICE_CUDA;
            *device_id = attributes.device;
        }
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_stream_create(int32_t device_id, void** stream) {
    return guarded("pattn_stream_create", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(stream, "stream"));
        *stream = nullptr;
        PATTN_RETURN_IF_ERROR(pattn::check_device_id(device_id));
        pattn::ScopedDevice device(device_id);
        PATTN_CUDA_TRY(device.status());
        cudaStream_t s = nullptr;
        PATTN_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        *stream = s;
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_stream_destroy(void* stream) {
    return guarded("pattn_stream_destroy", [&]() -> pattn_status {
        // The default stream is not owned by anyone: nothing to destroy.
        if (stream == nullptr) return PATTN_STATUS_SUCCESS;
        PATTN_CUDA_TRY(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_stream_synchronize(void* stream) {
    return guarded("pattn_stream_synchronize", [&]() -> pattn_status {
        PATTN_CUDA_TRY(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
        return PATTN_STATUS_SUCCESS;
    });
}

// Events. cudaEventRecord and cudaStreamWaitEvent need no current device (the
// stream and event carry theirs); creation does.
PATTN_API pattn_status pattn_event_create(int32_t device_id, void** event) {
    return guarded("pattn_event_create", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(event, "event"));
        *event = nullptr;
        PATTN_RETURN_IF_ERROR(pattn::check_device_id(device_id));
        pattn::ScopedDevice device(device_id);
        PATTN_CUDA_TRY(device.status());
        cudaEvent_t e = nullptr;
        PATTN_CUDA_TRY(cudaEventCreateWithFlags(&e, cudaEventDefault));
        *event = e;
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_event_destroy(void* event) {
    return guarded("pattn_event_destroy", [&]() -> pattn_status {
        if (event == nullptr) return PATTN_STATUS_SUCCESS;
        PATTN_CUDA_TRY(cudaEventDestroy(static_cast<cudaEvent_t>(event)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_event_record(void* event, void* stream) {
    return guarded("pattn_event_record", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(event, "event"));
        PATTN_CUDA_TRY(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_event_synchronize(void* event) {
    return guarded("pattn_event_synchronize", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(event, "event"));
        PATTN_CUDA_TRY(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_event_query(void* event, int32_t* completed) {
    return guarded("pattn_event_query", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(completed, "completed"));
        *completed = 0;
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(event, "event"));
        const cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event));
        if (e == cudaErrorNotReady) {
            cudaGetLastError();  // "not ready" is an answer, not an error
            return PATTN_STATUS_SUCCESS;
        }
        PATTN_CUDA_TRY(e);
        *completed = 1;
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_event_elapsed_ms(void* start, void* end, float* milliseconds) {
    return guarded("pattn_event_elapsed_ms", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(milliseconds, "milliseconds"));
        *milliseconds = 0.0f;
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(start, "start"));
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(end, "end"));
        PATTN_CUDA_TRY(cudaEventElapsedTime(milliseconds, static_cast<cudaEvent_t>(start),
                                            static_cast<cudaEvent_t>(end)));
        return PATTN_STATUS_SUCCESS;
    });
}

PATTN_API pattn_status pattn_stream_wait_event(void* stream, void* event) {
    return guarded("pattn_stream_wait_event", [&]() -> pattn_status {
        PATTN_RETURN_IF_ERROR(pattn::require_not_null(event, "event"));
        PATTN_CUDA_TRY(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0));
        return PATTN_STATUS_SUCCESS;
    });
}

}  // extern "C"

#endif  // PATTN_WITH_CUDA
