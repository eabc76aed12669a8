// Internal: the backend entry points that api.cpp dispatches to once the
// arguments are validated. In a build without CUDA, cuda_unavailable.cpp
// defines the cuda:: functions to return PATTN_STATUS_CUDA_NOT_BUILT.
#pragma once

#include "attention_args.h"
#include "paddedattn.h"

namespace pattn {
namespace cpu {
// Also serves decode, and a paged KV cache for both: the kernels read key
// rows through the page table (cpu/attend_item.h key_run).
pattn_status prefill(const AttentionArgs& args);
pattn_status merge_states(const MergeArgs& args);
}  // namespace cpu

namespace cuda {
pattn_status prefill(const AttentionArgs& args, void* stream);
pattn_status decode(const AttentionArgs& args, void* stream);
pattn_status merge_states(const MergeArgs& args, void* stream);
}  // namespace cuda
}  // namespace pattn
