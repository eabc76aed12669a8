// The page-locked staging rings of staging.h.
#include "staging.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda_check.h"
#include "errors.h"

namespace pattn {
namespace cuda {
namespace staging_detail {

// One reserved stretch of a ring, [begin, end) in the ring's running byte
// count (its offset in the buffer is begin % capacity).
struct Region {
    enum State { Pending, Recorded, Done };
    uint64_t begin = 0, end = 0;
    cudaEvent_t event = nullptr;  // recorded after the region's copy
    State state = Pending;        // Pending: being filled / copied by its caller
};

}  // namespace staging_detail

namespace {

using staging_detail::Region;

constexpr uint64_t kFirstCapacity = 1ull << 20;
constexpr uint64_t kMaxCapacity = 16ull << 20;  // grown up to this while the host runs ahead
constexpr uint64_t kAlign = 256;

// The ring of one device. Regions are handed out in order and come back in
// order (a FIFO of in-flight regions); the space between the oldest one's
// begin and `head_` is in use.
class Ring {
public:
    pattn_status reserve(size_t bytes, void** host, Region** region, const char* what) {
        const uint64_t need = (static_cast<uint64_t>(bytes) + kAlign - 1) / kAlign * kAlign;
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            uint64_t begin = 0;
            if (buffer_ != nullptr && place(need, &begin)) return take(begin, need, host, region, what);
            // Short of space: take back what the GPU has finished with.
            reclaim(&retired_);
            reclaim(&live_);
            if (buffer_ != nullptr && place(need, &begin)) return take(begin, need, host, region, what);
            if (buffer_ == nullptr || capacity_ < kMaxCapacity || need > capacity_ / 4) {
                pattn_status s = grow(need, what);
                if (s != PATTN_STATUS_SUCCESS) return s;
                continue;
            }
            // 16 MB of tables in flight: wait for the oldest copy.
            Region* oldest = live_.front();
            if (oldest->state == Region::Pending) {
                lock.unlock();  // its caller is between reserve and upload
                std::this_thread::yield();
                lock.lock();
                continue;
            }
            const cudaEvent_t event = oldest->event;
            lock.unlock();
            const cudaError_t e = cudaEventSynchronize(event);
            lock.lock();
            if (e != cudaSuccess) return cuda_error(e, what);
        }
    }

    // The caller has queued the region's copy (event recorded: Recorded) or
    // queued nothing / waited for it (Done).
    void finish(Region* r, Region::State state) {
        std::lock_guard<std::mutex> lock(mutex_);
        r->state = state;
    }

private:
    // Where `need` bytes fit after head_ (wrapping to the buffer's start
    // when the tail end is too short), if they do.
    bool place(uint64_t need, uint64_t* begin) {
        if (live_.empty()) head_ = (head_ + capacity_ - 1) / capacity_ * capacity_;  // empty: start at offset 0
        const uint64_t tail = live_.empty() ? head_ : live_.front()->begin;
        uint64_t start = head_;
        const uint64_t offset = start % capacity_;
        if (offset + need > capacity_) start += capacity_ - offset;
        if (start + need - tail > capacity_) return false;
        *begin = start;
        return true;
    }

    pattn_status take(uint64_t begin, uint64_t need, void** host, Region** region, const char* what) {
        Region* r = nullptr;
        if (!spare_.empty()) {
            r = spare_.back();
            spare_.pop_back();
        } else {
            r = new Region();
            const cudaError_t e = cudaEventCreateWithFlags(&r->event, cudaEventDisableTiming);
            if (e != cudaSuccess) {
                delete r;
                return cuda_error(e, what);
            }
        }
        r->begin = begin;
        r->end = begin + need;
        r->state = Region::Pending;
        live_.push_back(r);
        head_ = r->end;
        *host = buffer_ + begin % capacity_;
        *region = r;
        return PATTN_STATUS_SUCCESS;
    }

    // Pops the completed regions at the front of `q` (in order: a region
    // still pending or in flight keeps the later ones).
    void reclaim(std::deque<Region*>* q) {
        while (!q->empty()) {
            Region* r = q->front();
            if (r->state == Region::Pending) break;
            if (r->state == Region::Recorded && cudaEventQuery(r->event) != cudaSuccess) break;
            q->pop_front();
            spare_.push_back(r);
        }
    }

    // A larger buffer: twice the capacity (16 MB at most unless one table
    // needs more), at least 4x `need`. The old buffer is kept for the
    // process lifetime (its copies may still be reading it; a few MB at most
    // in all, since the ring grows geometrically), its regions retire.
    pattn_status grow(uint64_t need, const char* what) {
        uint64_t capacity = buffer_ == nullptr ? kFirstCapacity : capacity_ * 2;
        if (capacity > kMaxCapacity) capacity = kMaxCapacity;
        while (capacity < need * 4) capacity *= 2;
        void* p = nullptr;
        const cudaError_t e = cudaHostAlloc(&p, capacity, cudaHostAllocPortable);
        if (e != cudaSuccess) return cuda_error(e, what);
        if (buffer_ != nullptr) old_buffers_.push_back(buffer_);
        for (Region* r : live_) retired_.push_back(r);
        live_.clear();
        buffer_ = static_cast<unsigned char*>(p);
        capacity_ = capacity;
        head_ = 0;
        return PATTN_STATUS_SUCCESS;
    }

    std::mutex mutex_;
    unsigned char* buffer_ = nullptr;
    uint64_t capacity_ = 0;
    uint64_t head_ = 0;                 // running count: the next region starts here (or at the next wrap)
    std::deque<Region*> live_;          // in this buffer, oldest first
    std::deque<Region*> retired_;       // in old buffers, oldest first
    std::vector<Region*> spare_;        // with their events, for reuse
    std::vector<unsigned char*> old_buffers_;
};

constexpr int kMaxDevices = 256;
std::atomic<Ring*> g_rings[kMaxDevices];
std::mutex g_rings_mutex;

Ring* ring_of(int device) {
    if (device < 0 || device >= kMaxDevices) return nullptr;
    Ring* r = g_rings[device].load(std::memory_order_acquire);
    if (r != nullptr) return r;
    std::lock_guard<std::mutex> lock(g_rings_mutex);
    r = g_rings[device].load(std::memory_order_acquire);
    if (r == nullptr) {
        r = new Ring();  // kept for the process lifetime (no teardown-order hazards)
        g_rings[device].store(r, std::memory_order_release);
    }
    return r;
}

}  // namespace

pattn_status reserve_staging(int device, size_t bytes, StagingChunk* chunk, const char* what) {
    Ring* ring = ring_of(device);
    if (ring == nullptr) return set_error(PATTN_STATUS_UNSUPPORTED, "%s: CUDA device %d is out of range", what, device);
    void* host = nullptr;
    Region* region = nullptr;
    pattn_status s = ring->reserve(bytes > 0 ? bytes : 1, &host, &region, what);
    if (s != PATTN_STATUS_SUCCESS) return s;
    chunk->host_ = host;
    chunk->bytes_ = bytes;
    chunk->device_ = device;
    chunk->region_ = region;
    return PATTN_STATUS_SUCCESS;
}

StagingChunk::~StagingChunk() {
    if (region_ != nullptr) ring_of(device_)->finish(region_, Region::Done);  // nothing was queued
}

pattn_status StagingChunk::upload(void* dst, cudaStream_t stream, const char* what) {
    Region* region = region_;
    region_ = nullptr;
    Ring* ring = ring_of(device_);
    cudaError_t e = cudaMemcpyAsync(dst, host_, bytes_, cudaMemcpyHostToDevice, stream);
    if (e != cudaSuccess) {
        ring->finish(region, Region::Done);  // nothing queued
        return cuda_error(e, what);
    }
    e = cudaEventRecord(region->event, stream);
    if (e != cudaSuccess) {
        // The copy is queued but unguarded: let it finish before the region
        // can be reused.
        (void)cudaStreamSynchronize(stream);
        ring->finish(region, Region::Done);
        return cuda_error(e, what);
    }
    ring->finish(region, Region::Recorded);
    return PATTN_STATUS_SUCCESS;
}

pattn_status upload_async(int device, void* dst, const void* src, size_t bytes, cudaStream_t stream,
                          const char* what) {
    StagingChunk chunk;
    pattn_status s = reserve_staging(device, bytes, &chunk, what);
    if (s != PATTN_STATUS_SUCCESS) return s;
    std::memcpy(chunk.host(), src, bytes);
    return chunk.upload(dst, stream, what);
}

}  // namespace cuda
}  // namespace pattn
