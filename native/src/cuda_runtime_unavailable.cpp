// CPU-only builds: the device, memory and stream functions of the C ABI.
// pattn_device_count reports 0 devices; everything else returns
// PATTN_STATUS_CUDA_NOT_BUILT. CUDA builds use cuda_runtime_wrappers.cpp.
#if !defined(PATTN_WITH_CUDA)

#include "api_guard.h"
#include "errors.h"
#include "paddedattn.h"
#include "placement.h"

namespace pattn {

int32_t cuda_device_count_or_zero() { return 0; }

pattn_status check_placement(const char* name, const void*, bool on_cuda, int32_t device_id) {
    if (!on_cuda) return PATTN_STATUS_SUCCESS;
    return set_argument_error(PATTN_STATUS_CUDA_NOT_BUILT, name,
                     "%s is a CUDA tensor (device_id = %d) but this library was built without CUDA",
                     name, (int)device_id);
}

pattn_status check_stream_device(void*, int32_t) { return PATTN_STATUS_SUCCESS; }
void forget_stream_check() {}

namespace {
pattn_status not_built(const char* function) {
    clear_error();
    return set_error(PATTN_STATUS_CUDA_NOT_BUILT, "%s: this library was built without CUDA", function);
}
}  // namespace

}  // namespace pattn

extern "C" {

PATTN_API pattn_status pattn_device_count(int32_t* count) {
    pattn::clear_error();
    if (count == nullptr)
        return pattn::set_argument_error(PATTN_STATUS_INVALID_ARGUMENT, "count", "count is NULL");
    *count = 0;
    return PATTN_STATUS_SUCCESS;
}

PATTN_API pattn_status pattn_device_get_properties(int32_t, pattn_device_properties*) {
    return pattn::not_built("pattn_device_get_properties");
}

PATTN_API pattn_status pattn_device_synchronize(int32_t) {
    return pattn::not_built("pattn_device_synchronize");
}

PATTN_API pattn_status pattn_device_malloc(int32_t, uint64_t, void** ptr) {
    if (ptr) *ptr = nullptr;
    return pattn::not_built("pattn_device_malloc");
}

PATTN_API pattn_status pattn_device_free(void*) { return pattn::not_built("pattn_device_free"); }

PATTN_API pattn_status pattn_host_malloc_pinned(uint64_t, void** ptr) {
    if (ptr) *ptr = nullptr;
    return pattn::not_built("pattn_host_malloc_pinned");
}

PATTN_API pattn_status pattn_host_free_pinned(void*) {
    return pattn::not_built("pattn_host_free_pinned");
}

PATTN_API pattn_status pattn_memcpy(void*, const void*, uint64_t) {
    return pattn::not_built("pattn_memcpy");
}

PATTN_API pattn_status pattn_memcpy_async(void*, const void*, uint64_t, void*) {
    return pattn::not_built("pattn_memcpy_async");
}

PATTN_API pattn_status pattn_memset_async(void*, int32_t, uint64_t, void*) {
    return pattn::not_built("pattn_memset_async");
}

PATTN_API pattn_status pattn_pointer_get_device(const void*, pattn_device_type* device_type,
                                                int32_t* device_id) {
    // The outputs still say "host": without CUDA every pointer is host memory.
    if (device_type) *device_type = PATTN_DEVICE_CPU;
    if (device_id) *device_id = 0;
    return pattn::not_built("pattn_pointer_get_device");
}

PATTN_API pattn_status pattn_stream_create(int32_t, void** stream) {
    if (stream) *stream = nullptr;
    return pattn::not_built("pattn_stream_create");
}

PATTN_API pattn_status pattn_stream_destroy(void*) { return pattn::not_built("pattn_stream_destroy"); }

PATTN_API pattn_status pattn_stream_synchronize(void*) {
    return pattn::not_built("pattn_stream_synchronize");
}

PATTN_API pattn_status pattn_event_create(int32_t, void** event) {
    if (event) *event = nullptr;
    return pattn::not_built("pattn_event_create");
}

PATTN_API pattn_status pattn_event_destroy(void*) { return pattn::not_built("pattn_event_destroy"); }

PATTN_API pattn_status pattn_event_record(void*, void*) { return pattn::not_built("pattn_event_record"); }

PATTN_API pattn_status pattn_event_synchronize(void*) {
    return pattn::not_built("pattn_event_synchronize");
}

PATTN_API pattn_status pattn_event_query(void*, int32_t* completed) {
    if (completed) *completed = 0;
    return pattn::not_built("pattn_event_query");
}

PATTN_API pattn_status pattn_event_elapsed_ms(void*, void*, float* milliseconds) {
    if (milliseconds) *milliseconds = 0.0f;
    return pattn::not_built("pattn_event_elapsed_ms");
}

PATTN_API pattn_status pattn_stream_wait_event(void*, void*) {
    return pattn::not_built("pattn_stream_wait_event");
}

}  // extern "C"

#endif  // !PATTN_WITH_CUDA
