/*
 * paged_test_util.h — what the paged KV cache tests (test_decode_paged.c,
 * test_prefill_paged.c) share: physical page numbers in a shuffled order,
 * and the descriptor checks of a host page table.
 */
#ifndef PADDEDATTN_PAGED_TEST_UTIL_H
#define PADDEDATTN_PAGED_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>

#include "test_util.h"

/* Replaces the logical page numbers 0..num_pages-1 in the table's entries
 * (>= 0; -1 stays) by a random permutation of them. */
static TU_UNUSED void tu_shuffle_pages(int32_t* table, int32_t entries, int32_t num_pages, tu_rng* rng) {
    int32_t* order = (int32_t*)malloc(sizeof(int32_t) * (size_t)(num_pages > 0 ? num_pages : 1));
    int32_t e;
    for (e = 0; e < num_pages; ++e) order[e] = e;
    for (e = num_pages - 1; e > 0; --e) {
        const int32_t r = tu_rng_int(rng, 0, e), t = order[e];
        order[e] = order[r];
        order[r] = t;
    }
    for (e = 0; e < entries; ++e)
        if (table[e] >= 0) table[e] = order[table[e]];
    free(order);
}

/* The rules of the page_table descriptor, through `call` on `params` whose
 * field `page_table` (a valid host table) is changed one at a time and
 * restored: dtype, batch, rank, contiguity, placement. */
typedef pattn_status (*tu_paged_call)(const void* params);

static TU_UNUSED void tu_check_page_table_rules(tu_paged_call call, const void* params, pattn_tensor* page_table) {
    const pattn_tensor saved = *page_table;
    page_table->dtype = PATTN_DTYPE_F32;
    CHECK_STATUS(call(params), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_table.dtype");
    *page_table = saved;
    page_table->shape[0] = 1;
    CHECK_STATUS(call(params), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_table.shape[0]");
    *page_table = saved;
    page_table->ndim = 1;
    CHECK_STATUS(call(params), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_table.ndim");
    *page_table = saved;
    page_table->strides[1] = 2;
    CHECK_STATUS(call(params), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("page_table.strides[1]");
    *page_table = saved;
    page_table->device_type = PATTN_DEVICE_CUDA;
    CHECK_STATUS(call(params), PATTN_STATUS_DEVICE_MISMATCH);
    CHECK_ERROR_MENTIONS("page_table");
    *page_table = saved;
}

#endif /* PADDEDATTN_PAGED_TEST_UTIL_H */
