// Internal (CPU backend): one persistent pool of worker threads per process.
// Threads are created on the first parallel call and live until the library
// is unloaded; hardware_concurrency() is read once. A call runs its job on
// the calling thread plus up to `threads - 1` workers; calls from several
// threads at once do not wait for each other: a call that finds the pool busy
// runs on its own thread alone (results do not depend on the thread count).
#pragma once

#include <cstdint>

namespace pattn {
namespace cpu {

// A job is a function called once by every participating thread with its
// index in [0, threads); it pulls work from shared state itself.
using PoolJob = void (*)(void* context, int thread_index);

// Threads a call may use by default: the machine's hardware threads.
int default_thread_count();

// Runs job(context, i) for i in [0, n) with n <= threads, on the caller
// (i = 0) and pool workers; returns when all have returned. Returns n.
int run_parallel(PoolJob job, void* context, int threads);

}  // namespace cpu
}  // namespace pattn
