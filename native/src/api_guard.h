// Internal: the wrapper every exported function runs its body in, so that the
// message is cleared first and no C++ exception crosses the C ABI.
#pragma once

#include <exception>
#include <new>

#include "errors.h"

namespace pattn {

template <typename Body>
pattn_status guarded(const char* function, Body&& body) noexcept {
    try {
        clear_error();
        return body();
    } catch (const std::bad_alloc&) {
        return set_error(PATTN_STATUS_OUT_OF_MEMORY, "%s: out of host memory", function);
    } catch (const std::exception& e) {
        return set_error(PATTN_STATUS_INTERNAL_ERROR, "%s: internal error: %s", function, e.what());
    } catch (...) {
        return set_error(PATTN_STATUS_INTERNAL_ERROR, "%s: internal error (unknown exception)",
                         function);
    }
}

}  // namespace pattn
