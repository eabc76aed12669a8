// The per-device records of device_state.h.
#include "device_state.h"

#include <cstring>

#include "cuda_check.h"
#include "errors.h"

namespace pattn {
namespace cuda {
namespace {

constexpr int kMaxDevices = 256;
std::atomic<DeviceState*> g_states[kMaxDevices];
std::mutex g_create_mutex;
std::atomic<int> g_next_value{0};

pattn_status create_state(int device, DeviceState** out) {
    DeviceState* s = new DeviceState();
    s->device = device;
    cudaError_t e = cudaDeviceGetAttribute(&s->sm_count, cudaDevAttrMultiProcessorCount, device);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&s->cc_major, cudaDevAttrComputeCapabilityMajor, device);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&s->cc_minor, cudaDevAttrComputeCapabilityMinor, device);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&s->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if (e != cudaSuccess) {
        delete s;
        return cuda_error(e, "cudaDeviceGetAttribute");
    }
    if (s->sm_count < 1) s->sm_count = 1;
    cudaMemPoolProps props;
    std::memset(&props, 0, sizeof(props));
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    cudaMemPool_t pool = nullptr;
    if (cudaMemPoolCreate(&pool, &props) == cudaSuccess) {
        unsigned long long keep = DeviceState::kPoolKeepBytes;
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
        s->pool = pool;
    } else {
        (void)cudaGetLastError();  // not fatal: the current pool serves instead
    }
    *out = s;
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

DeviceState* device_state(int device, pattn_status* status) {
    *status = PATTN_STATUS_SUCCESS;
    if (device < 0 || device >= kMaxDevices) {
        *status = set_error(PATTN_STATUS_UNSUPPORTED, "CUDA device %d: the library handles ordinals below %d",
                            device, kMaxDevices);
        return nullptr;
    }
    DeviceState* s = g_states[device].load(std::memory_order_acquire);
    if (s != nullptr) return s;
    std::lock_guard<std::mutex> lock(g_create_mutex);
    s = g_states[device].load(std::memory_order_acquire);
    if (s != nullptr) return s;
    *status = create_state(device, &s);
    if (*status != PATTN_STATUS_SUCCESS) return nullptr;
    g_states[device].store(s, std::memory_order_release);  // kept for the process lifetime
    return s;
}

int reserve_kernel_values(int count) {
    const int first = g_next_value.fetch_add(count, std::memory_order_relaxed);
    return first + count <= DeviceState::kMaxKernelValues ? first : -1;
}

cudaError_t DeviceState::opt_in_shared_memory(int slot, const void* kernel, int bytes) {
    if (slot >= 0 && cached(slot) >= bytes) return cudaSuccess;
    std::lock_guard<std::mutex> lock(opt_in_mutex_);
    if (slot >= 0 && cached(slot) >= bytes) return cudaSuccess;
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e == cudaSuccess) cache(slot, bytes);
    return e;
}

cudaError_t DeviceState::malloc_async(void** ptr, size_t bytes, cudaStream_t stream) const {
    return pool ? cudaMallocFromPoolAsync(ptr, bytes, pool, stream) : cudaMallocAsync(ptr, bytes, stream);
}

}  // namespace cuda
}  // namespace pattn
