// The attention kernel for x86-64 with AVX-512 F/BW/VL/DQ (16 floats per
// vector). CMake compiles this file alone with the AVX-512 flags; isa.cpp
// calls it only where cpuid and the OS (xgetbv) report them.
#if defined(__x86_64__) || defined(_M_X64)
#include "vec_avx512.h"

namespace pattn {
namespace cpu {
namespace {
using Vec = VecAvx512;
}  // namespace
}  // namespace cpu
}  // namespace pattn

#define PATTN_ATTEND_ENTRY attend_avx512
#define PATTN_PACK_ENTRY pack_avx512
#include "attend_kernel.h"
#endif
