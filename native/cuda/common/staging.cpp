// Page-locked staging buffers for upload_async (staging.h).
#include "staging.h"

#include <cstring>
#include <mutex>
#include <vector>

#include "cuda_check.h"
#include "errors.h"

namespace pattn {
namespace cuda {
namespace {

class Staging {
public:
    struct Slot {
        void* host = nullptr;
        size_t bytes = 0;
        cudaEvent_t copied = nullptr;
        int device = -1;
        bool in_use = false;
    };

    // Returns a slot of at least `bytes` on `device`, or null with the status set.
    Slot* acquire(int device, size_t bytes, const char* what, pattn_status* status) {
        std::lock_guard<std::mutex> lock(mutex_);
        *status = PATTN_STATUS_SUCCESS;
        for (Slot* s : slots_) {
            if (s->in_use || s->device != device || s->bytes < bytes) continue;
            if (cudaEventQuery(s->copied) != cudaSuccess) continue;
            s->in_use = true;
            return s;
        }
        Slot* s = new Slot();
        size_t rounded = 4096;
        while (rounded < bytes) rounded *= 2;
        cudaError_t e = cudaHostAlloc(&s->host, rounded, cudaHostAllocPortable);
        if (e != cudaSuccess) {
            delete s;
            *status = cuda_error(e, what);
            return nullptr;
        }
        e = cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming);
        if (e != cudaSuccess) {
            cudaFreeHost(s->host);
            delete s;
            *status = cuda_error(e, what);
            return nullptr;
        }
        s->bytes = rounded;
        s->device = device;
        s->in_use = true;
        slots_.push_back(s);
        return s;
    }

    void release(Slot* s) {
        std::lock_guard<std::mutex> lock(mutex_);
        s->in_use = false;
    }

private:
    std::mutex mutex_;
    std::vector<Slot*> slots_;  // kept for the process lifetime (no teardown-order hazards)
};

Staging& staging() {
    static Staging* instance = new Staging();
    return *instance;
}

}  // namespace

pattn_status upload_async(int device, void* dst, const void* src, size_t bytes, cudaStream_t stream,
                          const char* what) {
    pattn_status s = PATTN_STATUS_SUCCESS;
    Staging::Slot* slot = staging().acquire(device, bytes, what, &s);
    if (slot == nullptr) return s;
    std::memcpy(slot->host, src, bytes);
    cudaError_t e = cudaMemcpyAsync(dst, slot->host, bytes, cudaMemcpyHostToDevice, stream);
    if (e == cudaSuccess) e = cudaEventRecord(slot->copied, stream);
    staging().release(slot);
    return cuda_error(e, what);
}

}  // namespace cuda
}  // namespace pattn
