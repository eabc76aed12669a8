// The CPU backend's persistent thread pool (see thread_pool.h). Workers spin
// briefly after a job (back-to-back decode steps find them awake), then sleep
// on a condition variable; no thread is created and nothing is allocated per
// call.
#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define PATTN_CPU_RELAX() _mm_pause()
#else
#define PATTN_CPU_RELAX() std::this_thread::yield()
#endif

namespace pattn {
namespace cpu {
namespace {

class Pool {
public:
    Pool() {
        const unsigned hw = std::thread::hardware_concurrency();  // once per process
        hardware_ = hw == 0 ? 1 : static_cast<int>(hw);
    }

    ~Pool() {
        {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            stop_.store(true, std::memory_order_release);
        }
        wake_.notify_all();
        for (std::thread& t : threads_) t.join();
    }

    int hardware() const { return hardware_; }

    int run(PoolJob job, void* context, int threads) {
        if (threads > hardware_) threads = hardware_;
        if (threads <= 1) {
            job(context, 0);
            return 1;
        }
        std::unique_lock<std::mutex> busy(call_mutex_, std::try_to_lock);
        if (!busy.owns_lock()) {  // another call holds the workers: run alone
            job(context, 0);
            return 1;
        }
        const int workers = start_workers(threads - 1);
        threads = workers + 1;
        if (threads == 1) {
            job(context, 0);
            return 1;
        }
        job_ = job;
        context_ = context;
        participants_ = threads;
        // Every worker acknowledges every generation (those past `threads`
        // without running the job), so none can lag into the next call.
        pending_.store(static_cast<int>(threads_.size()), std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            generation_.fetch_add(1, std::memory_order_release);
        }
        if (sleeping_.load(std::memory_order_acquire) > 0) wake_.notify_all();
        job(context, 0);
        while (pending_.load(std::memory_order_acquire) != 0) PATTN_CPU_RELAX();
        return threads;
    }

private:
    // Workers exist for indices 1..count (created once, kept).
    int start_workers(int count) {
        while (static_cast<int>(threads_.size()) < count) {
            const int index = static_cast<int>(threads_.size()) + 1;
            try {
                // The generation before this call's job: a thread that starts
                // late still sees the job as new.
                const uint64_t seen = generation_.load(std::memory_order_acquire);
                threads_.emplace_back([this, index, seen] { worker(index, seen); });
            } catch (...) {
                break;  // fewer workers; the job still runs
            }
        }
        return static_cast<int>(threads_.size()) < count ? static_cast<int>(threads_.size()) : count;
    }

    void worker(int index, uint64_t seen) {
        for (;;) {
            uint64_t now = wait_for_generation(seen);
            if (stop_.load(std::memory_order_acquire)) return;
            seen = now;
            if (index < participants_) job_(context_, index);
            pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    uint64_t wait_for_generation(uint64_t seen) {
        // Spin about 50 us first: the next call of a decode loop comes soon.
        const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
        for (int i = 0;; ++i) {
            const uint64_t now = generation_.load(std::memory_order_acquire);
            if (now != seen || stop_.load(std::memory_order_acquire)) return now;
            if ((i & 63) == 63 && std::chrono::steady_clock::now() > spin_until) break;
            PATTN_CPU_RELAX();
        }
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        sleeping_.fetch_add(1, std::memory_order_acq_rel);
        wake_.wait(lock, [&] {
            return generation_.load(std::memory_order_acquire) != seen ||
                   stop_.load(std::memory_order_acquire);
        });
        sleeping_.fetch_sub(1, std::memory_order_acq_rel);
        return generation_.load(std::memory_order_acquire);
    }

    int hardware_ = 1;
    std::mutex call_mutex_;             // one parallel call at a time
    std::vector<std::thread> threads_;  // touched only under call_mutex_ (and in ~Pool)
    PoolJob job_ = nullptr;             // written before generation_ is bumped
    void* context_ = nullptr;
    int participants_ = 0;
    std::atomic<int> pending_{0};
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> sleeping_{0};
    std::atomic<bool> stop_{false};
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
};

Pool& pool() {
    static Pool instance;
    return instance;
}

}  // namespace

int default_thread_count() { return pool().hardware(); }

int run_parallel(PoolJob job, void* context, int threads) { return pool().run(job, context, threads); }

}  // namespace cpu
}  // namespace pattn
