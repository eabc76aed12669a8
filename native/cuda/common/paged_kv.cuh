// The page-table lookup of a paged KV cache (docs/semantics.md, "Paged KV
// cache"), shared by the decode kernel (decode_kernel.cuh) and the mma.sync
// prefill kernel (prefill_kernel.cuh): real key j of a row is slot
// j % page_size of page row_table[j / page_size]. Device tables are not
// checked on the host, so the entry is clamped into [0, num_pages).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace pattn {
namespace cuda {

// log2(page_size) when it is a power of two (a shift instead of a
// division in the kernels), else -1.
inline int32_t page_shift_of(int32_t page_size) {
    for (int32_t shift = 0; shift < 31; ++shift)
        if ((int32_t(1) << shift) == page_size) return shift;
    return -1;
}

// The page-table fields of a kernel's parameters (DecodeParams and
// PrefillParams name them alike) from validated arguments with a table.
template <class Params, class Args>
inline void set_page_table(Params& p, const Args& a) {
    p.page_table = a.page_table;
    p.page_table_stride = a.page_table_stride;
    p.page_size = a.page_size;
    p.num_pages = a.num_pages;
    p.page_shift = page_shift_of(a.page_size);
}

struct PageSlot {
    int64_t page;
    int32_t slot;
};

// The two halves of page_slot, for kernels that load the table entries of
// a tile's keys together, before computing their addresses
// (decode_kernel.cuh load_pages).
__device__ __forceinline__ int32_t page_of_key(const int32_t* row_table, int32_t j, int32_t page_size,
                                               int32_t page_shift, int32_t num_pages) {
    const int32_t entry = page_shift >= 0 ? j >> page_shift : j / page_size;
    return min(max(__ldg(row_table + entry), 0), num_pages - 1);
}
__device__ __forceinline__ int32_t slot_of_key(int32_t j, int32_t page_size, int32_t page_shift) {
    return page_shift >= 0 ? j & (page_size - 1) : j % page_size;
}

__device__ __forceinline__ PageSlot page_slot(const int32_t* row_table, int32_t j, int32_t page_size,
                                              int32_t page_shift, int32_t num_pages) {
    const int32_t entry = page_shift >= 0 ? j >> page_shift : j / page_size;
    PageSlot s;
    s.slot = j - entry * page_size;
    s.page = min(max(__ldg(row_table + entry), 0), num_pages - 1);
    return s;
}

}  // namespace cuda
}  // namespace pattn
