// The PADDEDATTN_* environment switches of the CUDA backend, all read here
// (tuning.cpp) and documented in docs/building.md ("Tuning switches"). They
// are diagnostic: unset, the library makes its measured choices. A call
// takes one snapshot at its start (read_tuning_switches), so one call never
// sees two values; the benchmarks flip them between calls in one process
// (bench/python/bench_decode.py), which is why they are not cached for the
// process lifetime.
#pragma once

namespace pattn {
namespace cuda {

enum class DecodeClusterMode { Auto, Off, All };

struct TuningSwitches {
    // PADDEDATTN_UPLOAD_LENGTHS=1: host lengths always go to the device the
    // way large batches do (prefill work list, decode workspace copy), also
    // for batches small enough to travel in the kernel parameters.
    bool upload_lengths;
    // PADDEDATTN_PREFILL_MMA_SYNC=1: head_dim 128 stays on the mma.sync
    // prefill kernel also where the Hopper kernel could run.
    bool prefill_mma_sync;
    // PADDEDATTN_DECODE_CLUSTER: unset = Auto (cluster merge where it was
    // measured faster), 0 = Off (split kernel + combine kernel), "all" = All
    // (every split count the cluster can hold).
    DecodeClusterMode decode_cluster;
    // PADDEDATTN_DECODE_STAGES=2..9: cp.async pipeline depth of the decode
    // split kernel (clamped to the kernel's maximum); 0 when unset or invalid.
    int decode_stages;
};

TuningSwitches read_tuning_switches();

}  // namespace cuda
}  // namespace pattn
