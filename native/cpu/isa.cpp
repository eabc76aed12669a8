// ISA detection for the CPU backend (see isa.h). cpuid and xgetbv are read
// once; the environment switch exists so that tests can run every path on one
// machine (build.sh test does).
#include "isa.h"
#include "capabilities.h"

#include <cstdio>
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
    const unsigned max_subleaf = r[0];
    const bool avx2 = (r[1] >> 5) & 1;
    const bool avx512f = (r[1] >> 16) & 1, avx512dq = (r[1] >> 17) & 1,
               avx512bw = (r[1] >> 30) & 1, avx512vl = (r[1] >> 31) & 1;
    if (!ymm_state || !avx2 || !fma || !f16c) return Isa::Scalar;
    if (!zmm_state || !avx512f || !avx512dq || !avx512bw || !avx512vl) return Isa::Avx2;
    // AVX512_BF16: leaf 7 sub-leaf 1, EAX bit 5. (AVX512_FP16, leaf 7 EDX bit
    // 23, is not used: it only computes in f16; docs/architecture.md.)
    if (max_subleaf >= 1) {
        cpuid(7, 1, r);
        if ((r[0] >> 5) & 1) return Isa::Avx512Bf16;
    }
    return Isa::Avx512;
}
#else
Isa detect_hardware() { return Isa::Scalar; }
#endif

// The values of PADDEDATTN_CPU_ISA, indexed by Isa.
constexpr const char* kIsaNames[] = {"scalar", "avx2", "avx512", "avx512_bf16"};
constexpr int kIsaCount = static_cast<int>(sizeof kIsaNames / sizeof kIsaNames[0]);

// A request the machine cannot honour (or does not understand) is not an
// error of any call: the backend runs its best path and tells the person who
// set the variable, once (native/tests/test_cpu_isa.c checks both cases).
Isa requested(Isa hardware) {
    const char* env = std::getenv("PADDEDATTN_CPU_ISA");
    if (env == nullptr || *env == '\0') return hardware;
    for (int i = 0; i < kIsaCount; ++i) {
        if (std::strcmp(env, kIsaNames[i]) != 0) continue;
        if (i <= static_cast<int>(hardware)) return static_cast<Isa>(i);
        std::fprintf(stderr,
                     "paddedattn: PADDEDATTN_CPU_ISA=%s asks for a path this CPU lacks; "
                     "the CPU backend runs %s, the best path of this CPU\n",
                     env, kIsaNames[static_cast<int>(hardware)]);
        return hardware;
    }
    std::fprintf(stderr,
                 "paddedattn: PADDEDATTN_CPU_ISA=%s is not one of scalar, avx2, avx512, avx512_bf16; "
                 "the CPU backend runs %s, the best path of this CPU\n",
                 env, kIsaNames[static_cast<int>(hardware)]);
    return hardware;
}

}  // namespace

Isa active_isa() {
    static const Isa isa = requested(detect_hardware());  // thread-safe, once
    return isa;
}

const char* isa_name() { return kIsaNames[static_cast<int>(active_isa())]; }

}  // namespace cpu

// The hook of native/src/capabilities.h (pattn_capabilities.cpu_isa): the
// path the dispatch above runs, overriding the weak compiled-baseline default.
const char* cpu_isa_in_use() {
    switch (cpu::active_isa()) {
        case cpu::Isa::Avx512Bf16: return "x86-64 AVX-512 + AVX512_BF16 (vdpbf16ps bf16 scores)";
        case cpu::Isa::Avx512: return "x86-64 AVX-512 (AVX-512F/BW/VL/DQ kernels)";
        case cpu::Isa::Avx2: return "x86-64 AVX2 + FMA + F16C";
        case cpu::Isa::Scalar: break;
    }
    return "portable (scalar kernels)";
}

}  // namespace pattn
