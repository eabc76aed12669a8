// ISA detection for the CPU backend (see isa.h). cpuid and xgetbv are read
// once; the environment switch exists so that tests can run every path on one
// machine (build.sh test does).
#include "isa.h"
#include "capabilities.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define PATTN_CPU_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#include <immintrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace pattn {
namespace cpu {
namespace {

#if defined(PATTN_CPU_X86)
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
    int v[4];
    __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
    for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(v[i]);
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}

Isa detect_hardware() {
    unsigned r[4];
    cpuid(0, 0, r);
    const unsigned max_leaf = r[0];
    if (max_leaf < 7) return Isa::Scalar;
    cpuid(1, 0, r);
    const bool fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1,
               f16c = (r[2] >> 29) & 1;
    if (!osxsave || !avx) return Isa::Scalar;
    const unsigned long long xcr0 = xgetbv0();
    const bool ymm_state = (xcr0 & 0x6) == 0x6;      // SSE + AVX state saved by the OS
    const bool zmm_state = (xcr0 & 0xE6) == 0xE6;    // + opmask, ZMM_Hi256, Hi16_ZMM
    cpuid(7, 0, r);
    const bool avx2 = (r[1] >> 5) & 1;
    const bool avx512f = (r[1] >> 16) & 1, avx512dq = (r[1] >> 17) & 1,
               avx512bw = (r[1] >> 30) & 1, avx512vl = (r[1] >> 31) & 1;
    if (!ymm_state || !avx2 || !fma || !f16c) return Isa::Scalar;
    if (zmm_state && avx512f && avx512dq && avx512bw && avx512vl) return Isa::Avx512;
    return Isa::Avx2;
}
#else
Isa detect_hardware() { return Isa::Scalar; }
#endif

Isa requested(Isa hardware) {
    const char* env = std::getenv("PADDEDATTN_CPU_ISA");
    if (env == nullptr || *env == '\0') return hardware;
    Isa want = hardware;
    if (std::strcmp(env, "scalar") == 0) want = Isa::Scalar;
    else if (std::strcmp(env, "avx2") == 0) want = Isa::Avx2;
    else if (std::strcmp(env, "avx512") == 0) want = Isa::Avx512;
    return static_cast<int>(want) < static_cast<int>(hardware) ? want : hardware;
}

}  // namespace

Isa active_isa() {
    static const Isa isa = requested(detect_hardware());  // thread-safe, once
    return isa;
}

const char* isa_name() {
    switch (active_isa()) {
        case Isa::Avx512: return "avx512";
        case Isa::Avx2: return "avx2";
        case Isa::Scalar: break;
    }
    return "scalar";
}

}  // namespace cpu

// The hook of native/src/capabilities.h (pattn_capabilities.cpu_isa): the
// path the dispatch above runs, overriding the weak compiled-baseline default.
const char* cpu_isa_in_use() {
    switch (cpu::active_isa()) {
        case cpu::Isa::Avx512: return "x86-64 AVX-512 (AVX-512F/BW/VL/DQ kernels)";
        case cpu::Isa::Avx2: return "x86-64 AVX2 + FMA + F16C";
        case cpu::Isa::Scalar: break;
    }
    return "portable (scalar kernels)";
}

}  // namespace pattn
