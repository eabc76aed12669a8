// Internal (CPU backend): which instruction set the attention kernels use.
// Detected once per process from cpuid/xgetbv; PADDEDATTN_CPU_ISA =
// scalar | avx2 | avx512 lowers the choice (a path the machine lacks is never
// picked: the request is capped at what the machine has).
#pragma once

namespace pattn {
namespace cpu {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The path every CPU call of this process uses (decided on the first call).
Isa active_isa();

// "scalar", "avx2" (AVX2+FMA+F16C) or "avx512" (AVX-512 F/BW/VL/DQ); static.
const char* isa_name();

}  // namespace cpu
}  // namespace pattn
