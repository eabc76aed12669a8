// CPU-only builds: the CUDA backend entry points exist but report that the
// library was built without CUDA. (Validation already refuses CUDA tensors in
// such a build; these are the last line.)
#if !defined(PATTN_WITH_CUDA)

#include "backends.h"
#include "errors.h"

namespace pattn {
namespace cuda {

pattn_status prefill(const AttentionArgs&, void*) {
    return set_error(PATTN_STATUS_CUDA_NOT_BUILT,
                     "prefill on CUDA tensors: this library was built without CUDA");
}

pattn_status decode(const AttentionArgs&, void*) {
    return set_error(PATTN_STATUS_CUDA_NOT_BUILT,
                     "decode on CUDA tensors: this library was built without CUDA");
}

pattn_status merge_states(const MergeArgs&, void*) {
    return set_error(PATTN_STATUS_CUDA_NOT_BUILT,
                     "merge_states on CUDA tensors: this library was built without CUDA");
}

}  // namespace cuda
}  // namespace pattn

#endif  // !PATTN_WITH_CUDA
