// Internal: the thread-local error message behind pattn_last_error_message.
#pragma once

#include "paddedattn.h"

namespace pattn {

// Records a printf-style message for this thread and returns `status`, so
// that failure paths read `return set_error(PATTN_STATUS_..., "q.shape[3] (head_dim) = %d ...", d);`.
pattn_status set_error(pattn_status status, const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Clears the message at the start of every API call.
void clear_error();

}  // namespace pattn
