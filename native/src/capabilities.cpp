// pattn_get_capabilities: what this binary was built with (CUDA or not, the
// CUDA architectures compiled in) and the CPU instruction set the CPU backend
// runs with. The architecture list comes from CMake (PATTN_CUDA_ARCHITECTURES,
// set in native/CMakeLists.txt from CMAKE_CUDA_ARCHITECTURES).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(PATTN_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

#include "api_guard.h"
#include "capabilities.h"
#include "errors.h"
#include "paddedattn.h"

namespace pattn {

// Default of the hook declared in capabilities.h: the ISA the compiler was
// allowed to use for the whole library. Weak, so that the CPU backend's
// runtime dispatch can define the real answer in its own file.
#if defined(__GNUC__) || defined(__clang__)
__attribute__((weak))
#endif
const char* cpu_isa_in_use() {
#if defined(__AVX512F__)
    return "x86-64 AVX-512 (compiled baseline)";
#elif defined(__AVX2__)
    return "x86-64 AVX2 (compiled baseline)";
#elif defined(__x86_64__) || defined(_M_X64)
    return "x86-64 SSE2 (compiled baseline)";
#elif defined(__aarch64__) || defined(_M_ARM64)
    return "arm64 NEON (compiled baseline)";
#else
    return "scalar (compiled baseline)";
#endif
}

namespace {

// "80,90a,100-real" -> {80, 0}, {90, 1}, {100, 0}; names without a number
// ("native", "all") are skipped.
void parse_architectures(const char* list, pattn_capabilities* out) {
    const int32_t capacity = (int32_t)(sizeof out->cuda_architectures / sizeof out->cuda_architectures[0]);
    const char* p = list;
    while (*p != '\0' && out->cuda_architecture_count < capacity) {
        char* end = nullptr;
        const long number = std::strtol(p, &end, 10);
        if (end != p && number > 0) {
            out->cuda_architectures[out->cuda_architecture_count] = (int32_t)number;
            out->cuda_arch_specific[out->cuda_architecture_count] = (*end == 'a') ? 1 : 0;
            ++out->cuda_architecture_count;
        }
        const char* comma = std::strchr(p, ',');
        if (comma == nullptr) break;
        p = comma + 1;
    }
}

}  // namespace
}  // namespace pattn

extern "C" {

PATTN_API pattn_status pattn_get_capabilities(pattn_capabilities* capabilities) {
    return pattn::guarded("pattn_get_capabilities", [&]() -> pattn_status {
        if (capabilities == nullptr)
            return pattn::set_error(PATTN_STATUS_INVALID_ARGUMENT, "capabilities is NULL");
        if (capabilities->struct_size != sizeof(pattn_capabilities))
            return pattn::set_error(PATTN_STATUS_INVALID_ARGUMENT,
                                    "capabilities->struct_size = %u, expected %zu (sizeof(pattn_capabilities))",
                                    (unsigned)capabilities->struct_size, sizeof(pattn_capabilities));
        std::memset(capabilities, 0, sizeof *capabilities);
        capabilities->struct_size = sizeof(pattn_capabilities);
#if defined(PATTN_WITH_CUDA)
        capabilities->cuda_built = 1;
        capabilities->cuda_runtime_version = CUDART_VERSION;
#if defined(PATTN_CUDA_ARCHITECTURES)
        pattn::parse_architectures(PATTN_CUDA_ARCHITECTURES, capabilities);
#endif
#endif
        std::snprintf(capabilities->cpu_isa, sizeof capabilities->cpu_isa, "%s", pattn::cpu_isa_in_use());
        return PATTN_STATUS_SUCCESS;
    });
}

}  // extern "C"
