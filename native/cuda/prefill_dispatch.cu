// pattn::cuda::prefill: turns validated AttentionArgs into kernel params,
// builds the work list of query tiles (host lengths) and dispatches on
// head_dim x dtype x causal to the instantiations in prefill_<dtype>_hdim<d>.cu.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "backends.h"
#include "cuda_check.h"
#include "errors.h"
#include "mask_rules.h"
#include "prefill_hopper.h"
#include "prefill_params.h"

// Compile-time dispatch. Each macro binds a constant for the body and its
// default case refuses the value by name; there is no silent fallback.
#define PATTN_DISPATCH_PREFILL_HEAD_DIM(head_dim, CONST_NAME, ...)                                       \
    switch (head_dim) {                                                                                  \
        case 64: { constexpr int CONST_NAME = 64; __VA_ARGS__ } break;                                   \
        case 128: { constexpr int CONST_NAME = 128; __VA_ARGS__ } break;                                 \
        case 256: { constexpr int CONST_NAME = 256; __VA_ARGS__ } break;                                 \
        default:                                                                                         \
            return ::pattn::set_error(PATTN_STATUS_UNSUPPORTED,                                          \
                                      "head_dim = %d is not supported by the CUDA prefill kernels "     \
                                      "(supported: 64, 128, 256)", (int)(head_dim));                     \
    }

#define PATTN_DISPATCH_PREFILL_DTYPE(dtype, TYPE_NAME, ...)                                              \
    switch (dtype) {                                                                                     \
        case PATTN_DTYPE_F16: { using TYPE_NAME = __half; __VA_ARGS__ } break;                           \
        case PATTN_DTYPE_BF16: { using TYPE_NAME = __nv_bfloat16; __VA_ARGS__ } break;                   \
        default:                                                                                         \
            return ::pattn::set_error(PATTN_STATUS_UNSUPPORTED,                                          \
                                      "dtype = %d is not supported by the CUDA prefill kernels "        \
                                      "(supported: f16, bf16)", (int)(dtype));                           \
    }

#define PATTN_DISPATCH_PREFILL_CAUSAL(causal, CONST_NAME, ...)                                           \
    if (causal) { constexpr bool CONST_NAME = true; __VA_ARGS__ }                                        \
    else { constexpr bool CONST_NAME = false; __VA_ARGS__ }

namespace pattn {
namespace cuda {
namespace {

// Page-locked staging buffers for work lists. A pageable cudaMemcpyAsync may
// wait for the stream, so the list goes through pinned memory; a buffer is
// reused only once the event recorded after its copy has completed (queried,
// never waited on).
class WorkListStaging {
public:
    struct Slot {
        void* host = nullptr;
        size_t bytes = 0;
        cudaEvent_t copied = nullptr;
        int device = -1;
        bool in_use = false;
    };

    // Returns a slot of at least `bytes` on `device`, or null with the status set.
    Slot* acquire(int device, size_t bytes, pattn_status* status) {
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
            *status = cuda_error(e, "cudaHostAlloc (prefill work list)");
            return nullptr;
        }
        e = cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming);
        if (e != cudaSuccess) {
            cudaFreeHost(s->host);
            delete s;
            *status = cuda_error(e, "cudaEventCreateWithFlags (prefill work list)");
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

WorkListStaging& staging() {
    static WorkListStaging* instance = new WorkListStaging();
    return *instance;
}

// Stream-ordered memory pool per device for the device copy of work lists.
// The device's default pool returns its memory to the system at every
// synchronization (release threshold 0), which made each call map fresh
// memory; this pool keeps a few MB cached and leaves the default pool (which
// the application may tune) alone.
pattn_status work_list_pool(int device, cudaMemPool_t* pool) {
    static std::mutex mutex;
    static std::vector<cudaMemPool_t>* pools = new std::vector<cudaMemPool_t>();
    std::lock_guard<std::mutex> lock(mutex);
    if ((int)pools->size() <= device) pools->resize(device + 1, nullptr);
    if ((*pools)[device] == nullptr) {
        cudaMemPoolProps props;
        std::memset(&props, 0, sizeof(props));
        props.allocType = cudaMemAllocationTypePinned;
        props.handleTypes = cudaMemHandleTypeNone;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = device;
        cudaMemPool_t created = nullptr;
        PATTN_CUDA_TRY(cudaMemPoolCreate(&created, &props));
        uint64_t keep_bytes = 64ull << 20;
        PATTN_CUDA_TRY(cudaMemPoolSetAttribute(created, cudaMemPoolAttrReleaseThreshold, &keep_bytes));
        (*pools)[device] = created;
    }
    *pool = (*pools)[device];
    return PATTN_STATUS_SUCCESS;
}

// One entry per (batch, kv_head, query tile), heaviest tiles first (counting
// sort by the number of KV tiles a tile visits), so the long causal tiles do
// not start last. Tiles with no real query (padding only, or rows that see no
// key) cost 0: they only write o = 0 / lse = -inf and go at the end.
void build_work_list(const AttentionArgs& a, int block_m, int block_n, int num_q_tiles,
                     std::vector<PrefillWorkItem>* out) {
    const int32_t group = a.num_qo_heads / a.num_kv_heads;
    const int max_cost = (a.kv_len + block_n - 1) / block_n;
    std::vector<int32_t> tile_cost;  // per (batch, tile)
    tile_cost.resize((size_t)a.batch * num_q_tiles);
    std::vector<int64_t> count(max_cost + 2, 0);
    for (int32_t b = 0; b < a.batch; ++b) {
        const int32_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int32_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        const int32_t real_rows = qv * group;
        for (int32_t t = 0; t < num_q_tiles; ++t) {
            const int32_t p0 = t * block_m;
            int cost = 0;
            if (p0 < real_rows) {
                const int32_t p_last = (p0 + block_m < real_rows ? p0 + block_m : real_rows) - 1;
                TileKeyRange r = tile_key_range(p0 / group, p_last / group + 1, qv, kv, a.causal);
                cost = (r.keys_any + block_n - 1) / block_n;
            }
            tile_cost[(size_t)b * num_q_tiles + t] = cost;
            count[cost] += a.num_kv_heads;
        }
    }
    // Offsets for descending cost.
    std::vector<int64_t> offset(max_cost + 2, 0);
    int64_t running = 0;
    for (int c = max_cost + 1; c >= 0; --c) {
        offset[c] = running;
        running += count[c];
    }
    out->resize((size_t)running);
    // Within one cost, the tiles of one (batch, kv_head) stay adjacent so
    // blocks running together share K/V in L2.
    for (int32_t b = 0; b < a.batch; ++b) {
        const int32_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int32_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        for (int32_t h = 0; h < a.num_kv_heads; ++h) {
            for (int32_t t = 0; t < num_q_tiles; ++t) {
                const int cost = tile_cost[(size_t)b * num_q_tiles + t];
                PrefillWorkItem& w = (*out)[(size_t)offset[cost]++];
                w.batch = b;
                w.kv_head = h;
                w.q_tile = t;
                w.q_valid = qv;
                w.kv_valid = kv;
                w.reserved[0] = w.reserved[1] = w.reserved[2] = 0;
            }
        }
    }
}

// PADDEDATTN_UPLOAD_LENGTHS=1 sends host lengths the way large batches go
// (work list / lengths copied to the device) also for small batches: a
// diagnostic switch for comparing the two paths. Read on every call.
bool upload_forced() {
    const char* v = std::getenv("PADDEDATTN_UPLOAD_LENGTHS");
    return v != nullptr && v[0] == '1';
}

// Host lengths of a small batch go into the kernel parameters, rows ordered
// by their work (visible query-key pairs, most first, so long rows do not
// start last); the kernel runs the full grid of query tiles as with device
// lengths. No host-to-device copy, no allocation, nothing to wait for.
void fill_param_rows(const AttentionArgs& a, PrefillParams& p) {
    int64_t work[kPrefillParamRows];
    int32_t order[kPrefillParamRows];
    for (int32_t b = 0; b < a.batch; ++b) {
        const int64_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int64_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        // Causal: real query i sees min(kv, i + 1 + kv - qv) keys; twice the
        // sum is close to qv * (2 kv - qv) (exact when kv >= qv).
        work[b] = a.causal ? qv * std::max<int64_t>(2 * kv - qv, 0) : qv * kv;
        order[b] = b;
    }
    std::stable_sort(order, order + a.batch, [&](int32_t x, int32_t y) { return work[x] > work[y]; });
    p.param_rows = a.batch;
    for (int32_t r = 0; r < a.batch; ++r) {
        const int32_t b = order[r];
        p.row_batch[r] = b;
        p.row_q[r] = a.q_lens ? a.q_lens[b] : a.q_len;
        p.row_kv[r] = a.kv_lens ? a.kv_lens[b] : a.kv_len;
    }
}

// PADDEDATTN_PREFILL_MMA_SYNC=1 keeps every head_dim on the mma.sync kernel
// also where the Hopper kernel would run: a diagnostic switch for comparing
// the two in one build (it wins over PADDEDATTN_PREFILL_HOPPER). Read on
// every call.
bool hopper_disabled() {
    const char* v = std::getenv("PADDEDATTN_PREFILL_MMA_SYNC");
    return v != nullptr && v[0] == '1';
}

// PADDEDATTN_PREFILL_HOPPER=1 takes the Hopper kernel wherever its sm_90a
// image runs, whatever the head_dim and the row lengths (the other half of
// the A/B). Read on every call.
bool hopper_forced() {
    const char* v = std::getenv("PADDEDATTN_PREFILL_HOPPER");
    return v != nullptr && v[0] == '1';
}

// Where the Hopper kernel is the default: the longest row (host lengths; the
// padded length when the lengths are on the device or absent) must reach
// this many tokens. Measured on the H200 in one process against the mma.sync
// kernel (docs/performance.md, "Optimisations: prediction -> result"): at
// head_dim 128 and 256 it is 1.3-1.6x faster on rows of 2k-16k tokens but
// 6-13% slower on batches of short rows (most below 300 tokens), whose
// blocks are mostly padding and where one 160-192 KB block per SM hides
// less latency than two mma.sync blocks; at head_dim 64 it was slower on
// every case measured (0.26-0.95x), so it is not a default there.
int32_t hopper_min_row_len(int head_dim) {
    return head_dim == 64 ? INT32_MAX : 1024;
}

int32_t longest_row(const AttentionArgs& a) {
    int32_t longest = 0;
    if (a.lens_on_device || (a.q_lens == nullptr && a.kv_lens == nullptr))
        return std::max(a.q_len, a.kv_len);
    for (int32_t b = 0; b < a.batch; ++b) {
        const int32_t qv = a.q_lens ? a.q_lens[b] : a.q_len;
        const int32_t kv = a.kv_lens ? a.kv_lens[b] : a.kv_len;
        longest = std::max(longest, std::max(qv, kv));
    }
    return longest;
}

// The Hopper (wgmma) kernel where its sm_90a image runs on this device
// (prefill_hopper.h) and the shape is one where it was measured faster; the
// mma.sync kernel otherwise. The two differ in tile height at head_dim 256,
// so the choice is made before the tiles are built.
template <int HEAD_DIM, typename T>
bool use_hopper(const AttentionArgs& a) {
    if (hopper_disabled() || !prefill_hopper_ready<HEAD_DIM, T>()) return false;
    return hopper_forced() || longest_row(a) >= hopper_min_row_len(HEAD_DIM);
}

template <int HEAD_DIM, typename T, bool CAUSAL>
pattn_status launch_selected(const PrefillParams& p, int num_blocks, bool hopper, cudaStream_t stream) {
    if (hopper) return launch_prefill_hopper<HEAD_DIM, T, CAUSAL>(p, num_blocks, stream);
    return launch_prefill<HEAD_DIM, T, CAUSAL>(p, num_blocks, stream);
}

template <int HEAD_DIM>
pattn_status run_with_head_dim(const AttentionArgs& a, PrefillParams& p, cudaStream_t stream) {
    bool hopper = false;
    PATTN_DISPATCH_PREFILL_DTYPE(a.dtype, T, { hopper = use_hopper<HEAD_DIM, T>(a); })
    const int block_m = hopper ? prefill_hopper_block_m(HEAD_DIM) : prefill_block_m(HEAD_DIM);
    const int block_n = hopper ? prefill_hopper_block_n(HEAD_DIM) : prefill_block_n(HEAD_DIM);
    const int64_t total_rows = (int64_t)a.q_len * p.group_size;
    const int64_t num_q_tiles = (total_rows + block_m - 1) / block_m;
    const int64_t grid_blocks = num_q_tiles * a.num_kv_heads * a.batch;
    if (total_rows + block_m > INT32_MAX || grid_blocks > INT32_MAX)
        return set_error(PATTN_STATUS_UNSUPPORTED,
                         "q_len * (num_qo_heads / num_kv_heads) = %lld packed rows per (batch, kv head) "
                         "(%lld query tiles in all) exceeds the CUDA prefill kernel's 32-bit indexing",
                         (long long)total_rows, (long long)grid_blocks);
    p.num_q_tiles = (int32_t)num_q_tiles;

    const bool no_lens = a.q_lens == nullptr && a.kv_lens == nullptr;
    if (a.lens_on_device || ((no_lens || a.batch <= kPrefillParamRows) && !upload_forced())) {
        // Lengths on the device (only known there), absent (every row full)
        // or by value in the parameters: launch every tile; blocks of tiles
        // without real queries just write their padding rows.
        p.work = nullptr;
        p.q_lens_device = a.lens_on_device ? a.q_lens : nullptr;
        p.kv_lens_device = a.lens_on_device ? a.kv_lens : nullptr;
        p.param_rows = 0;
        if (!a.lens_on_device && !no_lens) fill_param_rows(a, p);
        pattn_status s = PATTN_STATUS_SUCCESS;
        PATTN_DISPATCH_PREFILL_DTYPE(a.dtype, T, {
            PATTN_DISPATCH_PREFILL_CAUSAL(a.causal, CAUSAL, {
                s = launch_selected<HEAD_DIM, T, CAUSAL>(p, (int)grid_blocks, hopper, stream);
            })
        })
        return s;
    }

    std::vector<PrefillWorkItem> items;
    build_work_list(a, block_m, block_n, (int)num_q_tiles, &items);
    if (items.empty()) return PATTN_STATUS_SUCCESS;
    const size_t bytes = items.size() * sizeof(PrefillWorkItem);

    cudaMemPool_t pool = nullptr;
    pattn_status s = work_list_pool(a.device_id, &pool);
    if (s != PATTN_STATUS_SUCCESS) return s;
    WorkListStaging::Slot* slot = staging().acquire(a.device_id, bytes, &s);
    if (slot == nullptr) return s;
    std::memcpy(slot->host, items.data(), bytes);
    void* device_items = nullptr;
    cudaError_t e = cudaMallocFromPoolAsync(&device_items, bytes, pool, stream);
    if (e != cudaSuccess) {
        staging().release(slot);
        return cuda_error(e, "cudaMallocFromPoolAsync (prefill work list)");
    }
    e = cudaMemcpyAsync(device_items, slot->host, bytes, cudaMemcpyHostToDevice, stream);
    if (e == cudaSuccess) e = cudaEventRecord(slot->copied, stream);
    staging().release(slot);
    if (e != cudaSuccess) {
        cudaFreeAsync(device_items, stream);
        return cuda_error(e, "cudaMemcpyAsync (prefill work list)");
    }

    p.work = static_cast<const PrefillWorkItem*>(device_items);
    p.q_lens_device = nullptr;
    p.kv_lens_device = nullptr;
    s = [&]() -> pattn_status {
        PATTN_DISPATCH_PREFILL_DTYPE(a.dtype, T, {
            PATTN_DISPATCH_PREFILL_CAUSAL(a.causal, CAUSAL, {
                s = launch_selected<HEAD_DIM, T, CAUSAL>(p, (int)items.size(), hopper, stream);
            })
        })
        return s;
    }();
    // Stream-ordered: the buffer is released after the kernel has read it.
    cudaError_t free_error = cudaFreeAsync(device_items, stream);
    if (s != PATTN_STATUS_SUCCESS) return s;
    PATTN_CUDA_TRY(free_error);
    return PATTN_STATUS_SUCCESS;
}

}  // namespace

pattn_status prefill(const AttentionArgs& a, void* stream_ptr) {
    if (a.batch == 0 || a.q_len == 0) return PATTN_STATUS_SUCCESS;
    ScopedDevice device(a.device_id);
    PATTN_CUDA_TRY(device.status());
    cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);

    PrefillParams p;
    std::memset(&p, 0, sizeof(p));
    p.q = a.q;
    p.k = a.k;
    p.v = a.v;
    p.o = a.o;
    p.lse = a.lse;
    p.q_stride_b = a.q_stride_b; p.q_stride_s = a.q_stride_s; p.q_stride_h = a.q_stride_h;
    p.k_stride_b = a.k_stride_b; p.k_stride_s = a.k_stride_s; p.k_stride_h = a.k_stride_h;
    p.v_stride_b = a.v_stride_b; p.v_stride_s = a.v_stride_s; p.v_stride_h = a.v_stride_h;
    p.o_stride_b = a.o_stride_b; p.o_stride_s = a.o_stride_s; p.o_stride_h = a.o_stride_h;
    p.lse_stride_b = a.lse_stride_b; p.lse_stride_s = a.lse_stride_s; p.lse_stride_h = a.lse_stride_h;
    p.batch = a.batch;
    p.q_len = a.q_len;
    p.kv_len = a.kv_len;
    p.num_kv_heads = a.num_kv_heads;
    p.group_size = a.num_qo_heads / a.num_kv_heads;
    p.scale_log2 = a.scale * 1.4426950408889634f;
    p.left_padded = a.left_padded;

    PATTN_DISPATCH_PREFILL_HEAD_DIM(a.head_dim, HEAD_DIM, { return run_with_head_dim<HEAD_DIM>(a, p, stream); })
    return PATTN_STATUS_INTERNAL_ERROR;  // unreachable: every case returns
}

}  // namespace cuda
}  // namespace pattn
