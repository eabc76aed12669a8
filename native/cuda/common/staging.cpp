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
        unsigned long long last_use = 0;
    };

    // Returns a slot of at least `bytes` on `device`, or null with the status
    // set. At most kMaxSlots buffers per process: once that many exist, the
    // least recently used free one is waited for (its copy, queued
    // kMaxSlots calls ago, is long done in a serving loop) and grown if
    // needed, instead of a new page-locked allocation per call while the
    // host runs ahead of the GPU.
    Slot* acquire(int device, size_t bytes, const char* what, pattn_status* status) {
        std::lock_guard<std::mutex> lock(mutex_);
        *status = PATTN_STATUS_SUCCESS;
        Slot* oldest = nullptr;
        for (Slot* s : slots_) {
            if (s->in_use || s->device != device) continue;
            if (oldest == nullptr || s->last_use < oldest->last_use) oldest = s;
            if (s->bytes < bytes || cudaEventQuery(s->copied) != cudaSuccess) continue;
            return take(s);
        }
        if (slots_.size() < kMaxSlots || oldest == nullptr) {
            Slot* s = new Slot();
            s->device = device;
            if (!allocate(s, bytes, what, status)) {
                delete s;
                return nullptr;
            }
            slots_.push_back(s);
            return take(s);
        }
        cudaError_t e = cudaEventSynchronize(oldest->copied);
        if (e != cudaSuccess) {
            *status = cuda_error(e, what);
            return nullptr;
        }
        if (oldest->bytes < bytes) {
            cudaFreeHost(oldest->host);
            oldest->host = nullptr;
            oldest->bytes = 0;
            if (!allocate(oldest, bytes, what, status)) return nullptr;
        }
        return take(oldest);
    }

    void release(Slot* s) {
        std::lock_guard<std::mutex> lock(mutex_);
        s->in_use = false;
    }

private:
    static constexpr size_t kMaxSlots = 8;

    Slot* take(Slot* s) {
        s->in_use = true;
        s->last_use = ++uses_;
        return s;
    }

    // Page-locked memory of at least `bytes` (a power of two of 4 KB or more)
    // for `s`, and its event on first use.
    static bool allocate(Slot* s, size_t bytes, const char* what, pattn_status* status) {
        size_t rounded = 4096;
        while (rounded < bytes) rounded *= 2;
        cudaError_t e = cudaHostAlloc(&s->host, rounded, cudaHostAllocPortable);
        if (e != cudaSuccess) {
            s->host = nullptr;
            *status = cuda_error(e, what);
            return false;
        }
        if (s->copied == nullptr) {
            e = cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming);
            if (e != cudaSuccess) {
                cudaFreeHost(s->host);
                s->host = nullptr;
                *status = cuda_error(e, what);
                return false;
            }
        }
        s->bytes = rounded;
        return true;
    }

    std::mutex mutex_;
    unsigned long long uses_ = 0;
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
