// The thread-local error message and the status names of the C ABI.
#include "errors.h"

#include <cstdarg>
#include <cstdio>

namespace pattn {
namespace {
// One message per thread; a fixed buffer so that recording an error never
// allocates (it may be reporting an allocation failure).
thread_local char t_message[1024] = "";
}  // namespace

pattn_status set_error(pattn_status status, const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::vsnprintf(t_message, sizeof t_message, format, args);
    va_end(args);
    return status;
}

void clear_error() { t_message[0] = '\0'; }

}  // namespace pattn

extern "C" {

PATTN_API const char* pattn_status_string(pattn_status status) {
    switch (status) {
        case PATTN_STATUS_SUCCESS: return "PATTN_STATUS_SUCCESS";
        case PATTN_STATUS_INVALID_ARGUMENT: return "PATTN_STATUS_INVALID_ARGUMENT";
        case PATTN_STATUS_UNSUPPORTED: return "PATTN_STATUS_UNSUPPORTED";
        case PATTN_STATUS_DEVICE_MISMATCH: return "PATTN_STATUS_DEVICE_MISMATCH";
        case PATTN_STATUS_OUT_OF_MEMORY: return "PATTN_STATUS_OUT_OF_MEMORY";
        case PATTN_STATUS_CUDA_ERROR: return "PATTN_STATUS_CUDA_ERROR";
        case PATTN_STATUS_CUDA_NOT_BUILT: return "PATTN_STATUS_CUDA_NOT_BUILT";
        case PATTN_STATUS_NO_DEVICE: return "PATTN_STATUS_NO_DEVICE";
        case PATTN_STATUS_INTERNAL_ERROR: return "PATTN_STATUS_INTERNAL_ERROR";
    }
    return "unknown status";
}

PATTN_API const char* pattn_last_error_message(void) { return pattn::t_message; }

}  // extern "C"
