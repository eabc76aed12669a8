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
    // PADDEDATTN_PREFILL_MMA_SYNC=1: every head_dim stays on the mma.sync
    // prefill kernel also where the Hopper kernel would run (wins over the
    // switch below).
    bool prefill_mma_sync;
    // PADDEDATTN_PREFILL_HOPPER=1: the Hopper prefill kernel wherever its
    // sm_90a image runs, whatever the head_dim and row lengths.
    bool prefill_hopper;
    // PADDEDATTN_DECODE_CLUSTER: unset = Auto (cluster merge where it was
    // measured faster), 0 = Off (split kernel + combine kernel), "all" = All
    // (every split count the cluster can hold).
    DecodeClusterMode decode_cluster;
    // PADDEDATTN_DECODE_STAGES=2..9: cp.async pipeline depth of the decode
    // split kernel (clamped to the kernel's maximum); 0 when unset or invalid.
    int decode_stages;
    // PADDEDATTN_PREFILL_GENERAL=1: the mma.sync prefill kernel with the
    // window / soft-cap / compensated-sum code also for calls that need none
    // of it (prefill_params.h kPrefillPlainMaxKeys), for A/B runs.
    bool prefill_general;
    // PADDEDATTN_PREFILL_SMALL_PARAMS=1: host lengths of batches past
    // kPrefillParamRows are copied to the device also during stream capture,
    // where 32 KB kernel parameters would carry them (prefill_params.h
    // PrefillLargeRows).
    bool prefill_small_params;
    // PADDEDATTN_PREFILL_LARGE_PARAMS=1: such lengths travel in the 32 KB
    // kernel parameters also outside capture (there the default copies them:
    // less host time per call and faster kernels, docs/performance.md), for
    // A/B runs and the tests.
    bool prefill_large_params;
    // PADDEDATTN_PREFILL_TALL_TILES=1: the plain prefill kernel keeps its
    // 128-row tiles also for short rows (prefill_params.h kPrefillShortBlockM).
    bool prefill_tall_tiles;
    // PADDEDATTN_PREFILL_SINGLE_STAGE=1: the plain prefill kernel keeps one
    // K and one V buffer (two barriers per KV tile) instead of its staged
    // (K, V) slots (prefill_kernel.cuh Traits::KV_STAGES).
    bool prefill_single_stage;
    // PADDEDATTN_PREFILL_SHORT_TILES=1: the plain prefill kernel takes its
    // 64-row tiles wherever the head_dim has them (32 to 128), whatever the
    // row lengths (loses to PADDEDATTN_PREFILL_TALL_TILES=1).
    bool prefill_short_tiles;
    // PADDEDATTN_PREFILL_HOPPER_MAINLOOP=0..3: the KV mainloop of the Hopper
    // prefill kernel (prefill_params.h kHopperMainloop*); -1 when unset or
    // invalid (the default).
    int prefill_hopper_mainloop;
    // PADDEDATTN_PREFILL_HOPPER_SHORT: unset = -1 (the dispatch's rule,
    // prefill_dispatch.cu use_hopper_short_tiles), 0 = the Hopper kernel
    // keeps its 128-row tiles, 1 = it takes its 64-row short-row tiles
    // (prefill_params.h kPrefillHopperShortBlockM) at head_dim 64 / 128
    // whatever the row lengths, 2 = the same with the alternative key count
    // (prefill_params.h prefill_hopper_short_alt_block_n: 128 keys at
    // head_dim 64, 48 at 128).
    int prefill_hopper_short;
    // PADDEDATTN_PREFILL_HOPPER_WIDE=1: the Hopper kernel's 128-row tiles at
    // head_dim 128 without a causal mask take 176-key KV tiles
    // (prefill_params.h kPrefillHopperWideBlockN), for A/B runs.
    bool prefill_hopper_wide;
    // PADDEDATTN_PREFILL_HOPPER_PERSISTENT=1: the Hopper kernel's short-row
    // tiles run as a persistent grid (prefill_params.h HopperTiles), for A/B runs.
    bool prefill_hopper_persistent;
    // PADDEDATTN_PREFILL_HOPPER_TMA=0: the Hopper kernel's 128-row tiles
    // load every KV tile with cp.async, also where tensor maps could be made
    // (prefill_params.h PrefillParams::tma_kv); true unless set to 0.
    bool prefill_hopper_tma;
    // PADDEDATTN_PREFILL_WORK_LIST=1: host lengths that do not travel in the
    // kernel parameters go in a host-built work list of query tiles (sorted
    // by cost, prefill_rows.h) instead of being copied to the device
    // for the grid that device lengths take, for A/B runs.
    bool prefill_work_list;
    // PADDEDATTN_DECODE_MMA: unset = 0 (the decode dispatch's own rule,
    // decode_dispatch.cu), "0" = -1 (the tensor-core decode kernel off),
    // 1..16 = the fewest rows per KV head that take it.
    int decode_mma_min_rows;
};

TuningSwitches read_tuning_switches();

}  // namespace cuda
}  // namespace pattn
