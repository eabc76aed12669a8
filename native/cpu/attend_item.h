// Internal (CPU backend): one unit of attention work and the layout of a
// thread's scratch, shared by the planner (prefill_cpu.cpp) and the kernels
// (attend_kernel.h, compiled once per instruction set). Plain data and
// `static` helpers only: the kernel files are compiled with different -m
// flags or target regions, so nothing here may be an inline function the
// linker could share.
#pragma once

#include <cstddef>
#include <cstdint>

#include "attention_args.h"

namespace pattn {
namespace cpu {

// Keys per tile of the online softmax (a tile's K and V are converted to f32
// once and reused by every query row of the item).
constexpr int kKeyTile = 128;
// Query rows per item: heads of one KV group times queries, about this many.
constexpr int kItemRows = 64;
// Every dimension in scratch is padded to this many floats (the widest vector).
constexpr int kPad = 16;

// Real queries [i_begin, i_end) of batch row b (counted within its real rows)
// for every query head of KV head kv_head. Rows of the item are
// r = (i - i_begin) * group + g, head = kv_head * group + g.
struct AttendItem {
    int32_t b;
    int32_t kv_head;
    int64_t i_begin, i_end;
    int64_t q_first, k_first;  // where the real rows start (mask_rules.h row_extent)
    int64_t qv, kv;
    int64_t keys_first;        // keys [keys_first, keys_any) are seen by some row of the item
    int64_t keys_any;
    // Query i sees keys [clamp(lo_first + (i - i_begin)), clamp(hi_first +
    // (i - i_begin))), clamped into [0, kv]: the unclamped form of
    // mask_rules.h key_bounds at i_begin (causal, window; unlimited sides are
    // far outside [0, kv]).
    int64_t lo_first, hi_first;
    float soft_cap;            // 0: off; else scores become cap * tanh(score / cap)
    double cost;               // estimated multiply-adds, for scheduling
    // K and V of (b, kv_head) already converted to rows of ScratchLayout::dp
    // floats (key j at packed_k + j * dp; f32, or for K the bf16 elements as
    // they are on the AVX512_BF16 path), or null: the kernel converts each
    // tile itself. The planner packs once per call when several items share
    // the rows (reading strided K/V rows per item was bound by memory).
    const float* packed_k;
    const float* packed_v;
};

static inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Key rows [key, key + count) of batch row b lie at element offsets (head 0)
// k_off + r * k_stride_s in K and v_off + r * v_stride_s in V: the rest of
// the row when contiguous; with a page table (attention_args.h) the slots
// left on key's page, page_table[b][key / page_size] (host tables were
// range-checked in validate.cpp; only keys a query sees are asked for). One
// division per run, not per key.
struct KeyRun {
    int64_t count, k_off, v_off;
};

static inline KeyRun key_run(const AttentionArgs& a, int64_t b, int64_t key, int64_t key_end) {
    if (a.page_table == nullptr)
        return KeyRun{key_end - key, b * a.k_stride_b + key * a.k_stride_s, b * a.v_stride_b + key * a.v_stride_s};
    const int64_t entry = key / a.page_size, slot = key - entry * a.page_size;
    const int64_t page = a.page_table[b * a.page_table_stride + entry];
    const int64_t left = a.page_size - slot;
    return KeyRun{key_end - key < left ? key_end - key : left, page * a.k_stride_b + slot * a.k_stride_s,
                  page * a.v_stride_b + slot * a.v_stride_s};
}

// Offsets (in floats, each a multiple of kPad) of a thread's scratch.
struct ScratchLayout {
    int64_t dp;        // head_dim padded
    int64_t mp;        // rows of an item padded
    int64_t q, k, v, s, acc, m, corr, l, vis, vis_lo;
    int64_t total;
};

static inline ScratchLayout scratch_layout(int64_t head_dim, int64_t max_rows) {
    ScratchLayout s;
    s.dp = round_up(head_dim, kPad);
    s.mp = round_up(max_rows, kPad);
    int64_t at = 0;
    s.q = at;    at += s.mp * s.dp;           // f32 [mp][dp] queries
    s.k = at;    at += kKeyTile * s.dp;       // f32 [kKeyTile][dp] keys of a tile
    s.v = at;    at += kKeyTile * s.dp;       // f32 [kKeyTile][dp] values
    s.s = at;    at += kKeyTile * s.mp;       // f32 [kKeyTile][mp] scores, key-major
    s.acc = at;  at += 2 * s.mp * s.dp;       // f64 [mp][dp] running output
    s.m = at;    at += s.mp;                  // f32 running max (log2 units)
    s.corr = at; at += s.mp;                  // f32 rescale factor of the tile
    s.l = at;    at += 2 * s.mp;              // f64 running sum
    s.vis = at;  at += s.mp;                  // f32 end of the visible keys of the tile per row
    s.vis_lo = at; at += s.mp;                // f32 start of them
    s.total = at;
    return s;
}

// The kernel of one instruction set: runs an item and writes its rows; returns
// false, having written nothing, when a score is not finite in f32 (the
// planner then recomputes the item in double precision).
using AttendKernel = bool (*)(const AttentionArgs& args, const AttendItem& item, float* scratch);

// Converts keys [key_begin, key_end) of (b, kv_head) to f32 rows of dp floats
// at k_out / v_out (same per-ISA conversions as the kernel's own packing).
using PackKernel = void (*)(const AttentionArgs& args, int32_t b, int32_t kv_head, int64_t key_begin,
                            int64_t key_end, int64_t dp, float* k_out, float* v_out);

bool attend_portable(const AttentionArgs& args, const AttendItem& item, float* scratch);
void pack_portable(const AttentionArgs&, int32_t, int32_t, int64_t, int64_t, int64_t, float*, float*);
#if defined(__x86_64__) || defined(_M_X64)
bool attend_avx2(const AttentionArgs& args, const AttendItem& item, float* scratch);
bool attend_avx512(const AttentionArgs& args, const AttendItem& item, float* scratch);
void pack_avx2(const AttentionArgs&, int32_t, int32_t, int64_t, int64_t, int64_t, float*, float*);
void pack_avx512(const AttentionArgs&, int32_t, int32_t, int64_t, int64_t, int64_t, float*, float*);
bool attend_avx512_bf16(const AttentionArgs& args, const AttendItem& item, float* scratch);
void pack_avx512_bf16(const AttentionArgs&, int32_t, int32_t, int64_t, int64_t, int64_t, float*, float*);
#endif

}  // namespace cpu
}  // namespace pattn
