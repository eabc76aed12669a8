/*
 * paddedattn.h — the C ABI of PaddedAttention.
 *
 * This header is the single source of truth for the library's interface: the
 * C# bindings in src/Managed/Interop/NativeMethods.g.cs are generated from it
 * (see bindings/). Rules that keep it binding-friendly and stable:
 *   - fixed-width types only; enums have explicit values and are append-only;
 *   - parameter structs start with `uint32_t struct_size` (set it to
 *     sizeof(the struct)); they hold no bool, union or bit field;
 *   - every function that can fail returns pattn_status; on failure
 *     pattn_last_error_message() names the argument and the value;
 *   - no C++ exception crosses this boundary.
 *
 * Semantics (tensors, masks, exact results) are described in README.md and
 * docs/semantics.md; the short version is in the comments below.
 */
#ifndef PADDEDATTN_H
#define PADDEDATTN_H

#include <stdint.h>

#if defined(_WIN32)
#  if defined(PADDEDATTN_BUILDING_LIBRARY)
#    define PATTN_API __declspec(dllexport)
#  else
#    define PATTN_API __declspec(dllimport)
#  endif
#else
#  define PATTN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */
/* ------------------------------------------------------------------------ */

/* Constants visible to binding generators (macros are not). */
typedef enum pattn_constants {
    /* Bumped whenever a struct layout or a function signature changes. */
    PATTN_ABI_VERSION = 2,
    /* Library version, also returned by pattn_version_string(). */
    PATTN_VERSION_MAJOR = 0,
    PATTN_VERSION_MINOR = 1,
    PATTN_VERSION_PATCH = 0,
    /* Most dimensions a pattn_tensor can describe. */
    PATTN_MAX_DIMS = 4,
    /* Bytes in pattn_device_properties.name, including the terminating NUL. */
    PATTN_DEVICE_NAME_SIZE = 256
} pattn_constants;

/* The ABI version the library was built with; a binding compares it with the
 * PATTN_ABI_VERSION it was generated from. */
PATTN_API uint32_t pattn_abi_version(void);

/* "MAJOR.MINOR.PATCH" plus build details (CUDA or CPU-only); static string. */
PATTN_API const char* pattn_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status and errors                                                        */
/* ------------------------------------------------------------------------ */

typedef enum pattn_status {
    PATTN_STATUS_SUCCESS = 0,
    /* A null pointer, wrong shape, rank, stride, length, struct_size... */
    PATTN_STATUS_INVALID_ARGUMENT = 1,
    /* Valid input the library does not handle (a head_dim, a dtype...). */
    PATTN_STATUS_UNSUPPORTED = 2,
    /* Tensors of one call live on different devices (or host and device). */
    PATTN_STATUS_DEVICE_MISMATCH = 3,
    PATTN_STATUS_OUT_OF_MEMORY = 4,
    /* The CUDA runtime reported an error; the message has its name. */
    PATTN_STATUS_CUDA_ERROR = 5,
    /* A CUDA function was called on a library built without CUDA. */
    PATTN_STATUS_CUDA_NOT_BUILT = 6,
    /* A CUDA device id that does not exist, or no device at all. */
    PATTN_STATUS_NO_DEVICE = 7,
    /* A bug in the library; please report it with the message. */
    PATTN_STATUS_INTERNAL_ERROR = 8
} pattn_status;

/* Static, never NULL: "PATTN_STATUS_INVALID_ARGUMENT", ... ("unknown status"
 * for values this version does not know). */
PATTN_API const char* pattn_status_string(pattn_status status);

/* The message of the last failing call on this thread ("" when none). Valid
 * until the next pattn_* call on the same thread. */
PATTN_API const char* pattn_last_error_message(void);

/* The argument the last failing call on this thread rejected, spelled as in
 * its params struct or function signature ("q", "k_cache", "q_valid_lens",
 * "softmax_scale", "mask_mode", "params", "device_id", ...); "" when the
 * failure was not about one argument (a CUDA error, an internal error) or
 * there was none. When two arguments conflict (shapes that disagree,
 * overlapping memory) it names the one the message puts first. Valid until
 * the next pattn_* call on the same thread. */
PATTN_API const char* pattn_last_error_argument(void);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum pattn_dtype {
    PATTN_DTYPE_F32 = 0,
    PATTN_DTYPE_F16 = 1,
    PATTN_DTYPE_BF16 = 2,
    PATTN_DTYPE_I32 = 3
} pattn_dtype;

typedef enum pattn_device_type {
    PATTN_DEVICE_CPU = 0,  /* host memory (pageable or pinned) */
    PATTN_DEVICE_CUDA = 1
} pattn_device_type;

/* A strided view of memory. shape[i] and strides[i] (in elements, not bytes)
 * are read for i < ndim; the last dimension must have stride 1. A tensor with
 * data == NULL is "absent" where the argument is optional. */
typedef struct pattn_tensor {
    void* data;
    pattn_dtype dtype;
    pattn_device_type device_type;
    int32_t device_id;          /* CUDA device ordinal; 0 for the host */
    int32_t ndim;
    int64_t shape[PATTN_MAX_DIMS];
    int64_t strides[PATTN_MAX_DIMS];
} pattn_tensor;

/* ------------------------------------------------------------------------ */
/* Masked sequence prefill                                                  */
/* ------------------------------------------------------------------------ */

/* Padding side and attention pattern of a padded batch. Row b has
 * qv = q_valid_lens[b] real queries and kv = kv_valid_lens[b] real keys.
 * Right padding: real rows are [0, qv) and [0, kv). Left padding: real rows
 * are [q_len - qv, q_len) and [kv_len - kv, kv_len). Causal: real query i
 * (counted from 0 within its real rows) sees real key j iff j <= i + kv - qv
 * (bottom-right aligned, as FlashAttention). Names follow Apache TVM. */
typedef enum pattn_mask_mode {
    PATTN_MASK_PADDED = 0,              /* right padding, bidirectional */
    PATTN_MASK_CAUSAL_PADDED_LEFT = 1,  /* left padding, causal */
    PATTN_MASK_CAUSAL_PADDED_RIGHT = 2, /* right padding, causal */
    PATTN_MASK_PADDED_LEFT = 3          /* left padding, bidirectional */
} pattn_mask_mode;

/* Arguments of pattn_sequence_prefill.
 *   q      [batch, q_len,  num_qo_heads, head_dim]  f16/bf16 (CPU: also f32)
 *   k, v   [batch, kv_len, num_kv_heads, head_dim]  same dtype as q
 *   o      [batch, q_len,  num_qo_heads, head_dim]  same dtype as q (written)
 *   lse    [batch, q_len,  num_qo_heads] f32, optional (data == NULL: not written)
 *   q_valid_lens  [batch] i32, optional: absent means every row is full
 *   kv_valid_lens [batch] i32, optional: absent means equal to q_valid_lens
 *                 (then q_len must equal kv_len)
 * q, k, v, o and lse live on one device (all host, or all on one CUDA device).
 * Valid lengths live in host memory or on that same device. Host lengths are
 * checked (0 <= len <= q_len / kv_len); lengths in device memory cannot be
 * checked without a synchronization, so the kernels clamp them into range.
 * Padding query rows, and real rows that see no key, get o = 0, lse = -inf.
 * num_qo_heads must be a multiple of num_kv_heads (GQA/MQA). Accumulation is
 * in f32. */
typedef struct pattn_prefill_params {
    uint32_t struct_size;       /* sizeof(pattn_prefill_params) */
    pattn_mask_mode mask_mode;
    pattn_tensor q;
    pattn_tensor k;
    pattn_tensor v;
    pattn_tensor o;
    pattn_tensor lse;
    pattn_tensor q_valid_lens;
    pattn_tensor kv_valid_lens;
    float softmax_scale;        /* 0: 1/sqrt(head_dim) */
    uint32_t reserved;          /* must be 0 */
    /* ABI 2 (a struct_size of ABI 1 ends before this field, which then means 0): */
    int32_t cpu_max_threads;    /* CPU backend: most threads the call uses; 0: all hardware threads */
    /* ABI 2, attention variants (docs/semantics.md, "Sliding window, soft-capping, packed layout"). */
    uint32_t window_enabled;    /* 0: no window (window_left/right ignored); 1: they apply */
    int32_t window_left;        /* real query i sees keys j >= i + kv - qv - window_left; -1: unlimited */
    int32_t window_right;       /* ... and j <= i + kv - qv + window_right; -1: unlimited */
    float logits_soft_cap;      /* > 0: each score s becomes cap * tanh(s * scale / cap); 0: off */
    /* Packed layout: [batch + 1] i32 token offsets (host or device). Present:
     * q/o are [total_q, num_qo_heads, head_dim], k/v [total_kv, num_kv_heads,
     * head_dim], lse [total_q, num_qo_heads]; sequence b is tokens
     * [cu_seqlens_q[b], cu_seqlens_q[b + 1]); q_valid_lens/kv_valid_lens must
     * be absent and mask_mode PADDED or CAUSAL_PADDED_RIGHT. */
    pattn_tensor cu_seqlens_q;
    pattn_tensor cu_seqlens_kv; /* optional: absent means equal to cu_seqlens_q */
    /* Paged KV cache, as page_table of pattn_decode_params (a struct_size
     * ending before this field means none). Present: k and v are
     * [num_pages, page_size, num_kv_heads, head_dim] with page_size 1 to 256,
     * and real key j of row b is slot j % page_size of page
     * page_table[b][j / page_size]; kv_len is max_pages_per_row * page_size.
     *   page_table [batch, max_pages_per_row] i32, where the tensors are;
     *              only the first ceil(kv / page_size) entries of a row are
     *              read; rows may share pages. Host entries are checked,
     *              device entries clamped into [0, num_pages).
     * For new tokens after a cached prefix: kv_valid_lens holds each row's
     * keys (prefix + new), q_valid_lens the new queries, and a causal query
     * sees the prefix plus the new keys up to its own (bottom-right aligned).
     * mask_mode must be PADDED or CAUSAL_PADDED_RIGHT (keys are appended at
     * the end of a row); cu_seqlens_q must be absent. */
    pattn_tensor page_table;
} pattn_prefill_params;

/* Runs masked prefill. CUDA tensors run asynchronously on `stream` (a
 * cudaStream_t of the tensors' device; NULL is the default stream); host
 * tensors run on the CPU backend and return when done. batch == 0 or
 * q_len == 0 succeeds and does nothing. */
PATTN_API pattn_status pattn_sequence_prefill(const pattn_prefill_params* params, void* stream);

/* ------------------------------------------------------------------------ */
/* Decode against a padded KV cache                                         */
/* ------------------------------------------------------------------------ */

typedef enum pattn_padding_side {
    PATTN_PADDING_RIGHT = 0,    /* real keys are [0, kv) */
    PATTN_PADDING_LEFT = 1      /* real keys are [cache_len - kv, cache_len) */
} pattn_padding_side;

/* Arguments of pattn_decode: a few new queries per row against a KV cache.
 *   q        [batch, q_len, num_qo_heads, head_dim], 1 <= q_len <= 16, all rows real
 *   k_cache, v_cache [batch, cache_len, num_kv_heads, head_dim]
 *   o        [batch, q_len, num_qo_heads, head_dim] (written)
 *   lse      [batch, q_len, num_qo_heads] f32, optional
 *   kv_valid_lens [batch] i32, optional: absent means cache_len for every row
 * Query i sees real key j iff j <= i + kv - q_len (causal, bottom-right
 * aligned; with q_len == 1 every real key). The new tokens' keys are expected
 * to be in the cache already (the last q_len real keys). */
typedef struct pattn_decode_params {
    uint32_t struct_size;       /* sizeof(pattn_decode_params) */
    pattn_padding_side padding_side;
    pattn_tensor q;
    pattn_tensor k_cache;
    pattn_tensor v_cache;
    pattn_tensor o;
    pattn_tensor lse;
    pattn_tensor kv_valid_lens;
    float softmax_scale;        /* 0: 1/sqrt(head_dim) */
    int32_t num_splits;         /* KV splits per row; 0: chosen by the library */
    /* ABI 2 (a caller of ABI 1 passes struct_size = offsetof(page_table) and
     * gets the contiguous cache). Paged KV cache, vLLM's block table over
     * FlashInfer's page layout: with page_table present, k_cache and v_cache
     * are [num_pages, page_size, num_kv_heads, head_dim] and real key j of
     * row b is slot j % page_size of page page_table[b][j / page_size].
     *   page_table [batch, max_pages_per_row] i32, optional (data == NULL: a
     *              contiguous cache as above); host memory for host tensors,
     *              device memory for CUDA tensors. Only the first
     *              ceil(kv / page_size) entries of a row are read (the rest
     *              may hold anything, e.g. -1); rows may share pages.
     *   kv_valid_lens: as above, at most max_pages_per_row * page_size
     *              (absent: every row is max_pages_per_row * page_size long);
     *              the last page's length follows from it.
     * padding_side must be PATTN_PADDING_RIGHT. Host page tables are checked
     * (0 <= entry < num_pages); device entries are clamped into range. */
    pattn_tensor page_table;
    /* CPU backend: most threads the call uses; 0: all hardware threads (ABI 2). */
    int32_t cpu_max_threads;
    /* ABI 2, attention variants, as in pattn_prefill_params (qv = q_len): */
    uint32_t window_enabled;    /* 0: no window; 1: window_left/right apply */
    int32_t window_left;        /* -1: unlimited */
    int32_t window_right;       /* -1: unlimited (no effect: decode is causal) */
    float logits_soft_cap;      /* 0: off */
} pattn_decode_params;

PATTN_API pattn_status pattn_decode(const pattn_decode_params* params, void* stream);

/* ------------------------------------------------------------------------ */
/* Merging attention states                                                 */
/* ------------------------------------------------------------------------ */

/* Merges two partial attention results over disjoint key sets into the
 * result over their union (as FlashInfer's merge_state):
 *   lse = ln(exp(lse_a) + exp(lse_b)),
 *   o   = o_a * exp(lse_a - lse) + o_b * exp(lse_b - lse).
 * A state with lse = -inf contributes nothing; both -inf gives o = 0,
 * lse = -inf. o tensors are [tokens, num_heads, head_dim] or
 * [batch, len, num_heads, head_dim] (any dtype of pattn_dtype but I32, all
 * the same), lse tensors have o's shape without the last dimension, f32.
 * o_out / lse_out may be the same memory as o_a / lse_a. */
typedef struct pattn_merge_params {
    uint32_t struct_size;       /* sizeof(pattn_merge_params) */
    uint32_t reserved;          /* must be 0 */
    pattn_tensor o_a;
    pattn_tensor lse_a;
    pattn_tensor o_b;
    pattn_tensor lse_b;
    pattn_tensor o_out;
    pattn_tensor lse_out;
} pattn_merge_params;

PATTN_API pattn_status pattn_merge_states(const pattn_merge_params* params, void* stream);

/* ------------------------------------------------------------------------ */
/* Devices, memory and streams (thin, checked wrappers over the CUDA runtime */
/* so that callers need no other CUDA binding). In a CPU-only build,         */
/* pattn_device_count reports 0 and the others return                        */
/* PATTN_STATUS_CUDA_NOT_BUILT.                                              */
/* ------------------------------------------------------------------------ */

typedef struct pattn_device_properties {
    uint32_t struct_size;       /* sizeof(pattn_device_properties), set by the caller */
    int32_t device_id;
    char name[PATTN_DEVICE_NAME_SIZE]; /* NUL-terminated */
    int32_t compute_capability_major;
    int32_t compute_capability_minor;
    int32_t multiprocessor_count;
    int32_t max_shared_memory_per_block_optin;
    uint64_t total_global_memory;
    uint64_t l2_cache_size;
} pattn_device_properties;

/* Number of usable CUDA devices; 0 (and success) when there is no driver, no
 * device, or no CUDA in this build. */
PATTN_API pattn_status pattn_device_count(int32_t* count);
PATTN_API pattn_status pattn_device_get_properties(int32_t device_id, pattn_device_properties* properties);
PATTN_API pattn_status pattn_device_synchronize(int32_t device_id);

/* Device memory of `device_id`. bytes == 0 gives *ptr = NULL and success.
 * Freeing NULL is a no-op. */
PATTN_API pattn_status pattn_device_malloc(int32_t device_id, uint64_t bytes, void** ptr);
PATTN_API pattn_status pattn_device_free(void* ptr);

/* Page-locked host memory, for truly asynchronous copies. */
PATTN_API pattn_status pattn_host_malloc_pinned(uint64_t bytes, void** ptr);
PATTN_API pattn_status pattn_host_free_pinned(void* ptr);

/* Copies `bytes` between any two of host and device memory (direction
 * inferred from the pointers). pattn_memcpy returns when the copy is
 * complete, so work on any stream (non-blocking ones too) sees it. The async
 * form is ordered on `stream`; with pageable host memory it may return only
 * after the host side is read. */
PATTN_API pattn_status pattn_memcpy(void* dst, const void* src, uint64_t bytes);
PATTN_API pattn_status pattn_memcpy_async(void* dst, const void* src, uint64_t bytes, void* stream);
/* Sets `bytes` bytes of device memory to `value` (low byte), ordered on `stream`. */
PATTN_API pattn_status pattn_memset_async(void* dst, int32_t value, uint64_t bytes, void* stream);

/* Where a pointer lives: PATTN_DEVICE_CUDA and its device for device memory
 * (including memory allocated by other CUDA libraries), PATTN_DEVICE_CPU for
 * anything else. */
PATTN_API pattn_status pattn_pointer_get_device(const void* ptr, pattn_device_type* device_type, int32_t* device_id);

/* Streams of `device_id` (non-blocking with respect to the default stream). */
PATTN_API pattn_status pattn_stream_create(int32_t device_id, void** stream);
PATTN_API pattn_status pattn_stream_destroy(void* stream);
PATTN_API pattn_status pattn_stream_synchronize(void* stream);

/* ------------------------------------------------------------------------ */
/* Events (cudaEvent_t): order one stream after work on another, and time    */
/* work without synchronising the device. In a CPU-only build they return    */
/* PATTN_STATUS_CUDA_NOT_BUILT.                                              */
/* ------------------------------------------------------------------------ */

/* An event of `device_id` that records timing (cudaEventDefault). */
PATTN_API pattn_status pattn_event_create(int32_t device_id, void** event);
PATTN_API pattn_status pattn_event_destroy(void* event);
/* Captures the work queued on `stream` (NULL: the default stream) so far. */
PATTN_API pattn_status pattn_event_record(void* event, void* stream);
/* Blocks the calling thread until the recorded work has finished. */
PATTN_API pattn_status pattn_event_synchronize(void* event);
/* *completed = 1 when the recorded work has finished (or nothing was
 * recorded), 0 while it runs; never blocks. */
PATTN_API pattn_status pattn_event_query(void* event, int32_t* completed);
/* Milliseconds between two recorded, completed events of one device. */
PATTN_API pattn_status pattn_event_elapsed_ms(void* start, void* end, float* milliseconds);
/* Work queued on `stream` after this call waits for `event` (on the device;
 * the calling thread does not wait). */
PATTN_API pattn_status pattn_stream_wait_event(void* stream, void* event);

/* ------------------------------------------------------------------------ */
/* Capabilities: what this binary was built with.                            */
/* ------------------------------------------------------------------------ */

typedef struct pattn_capabilities {
    uint32_t struct_size;           /* sizeof(pattn_capabilities), set by the caller */
    int32_t cuda_built;             /* 1: the CUDA backend is compiled in; 0: CPU-only build */
    int32_t cuda_runtime_version;   /* CUDART_VERSION built against (e.g. 11080); 0 without CUDA */
    int32_t cuda_architecture_count; /* entries used in cuda_architectures */
    /* The CUDA architectures compiled in, as CMake names them (80, 90; a
     * Hopper-only 90a build reports 90 here and 1 in cuda_arch_specific). */
    int32_t cuda_architectures[16];
    int32_t cuda_arch_specific[16]; /* 1 where the entry is an arch-specific ("a") target */
    /* The instruction set the CPU backend runs with, e.g. "x86-64 (compiled
     * baseline)"; NUL-terminated. */
    char cpu_isa[64];
} pattn_capabilities;

PATTN_API pattn_status pattn_get_capabilities(pattn_capabilities* capabilities);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PADDEDATTN_H */
