// Internal (CPU backend): which instruction set the attention kernels use.
// Detected once per process from cpuid/xgetbv; PADDEDATTN_CPU_ISA =
// scalar | avx2 | avx512 | avx512_bf16 lowers the choice (a path the machine
// lacks is never picked: such a request, or an unknown value, runs the
// machine's best path and says so once on stderr).
#pragma once

namespace pattn {
namespace cpu {

// Ordered: each path needs what the ones below it need.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Avx512Bf16 = 3 };

// The path every CPU call of this process uses (decided on the first call).
Isa active_isa();

// "scalar", "avx2" (AVX2+FMA+F16C), "avx512" (AVX-512 F/BW/VL/DQ) or
// "avx512_bf16" (+ AVX512_BF16: bf16 scores by vdpbf16ps); static.
const char* isa_name();

}  // namespace cpu
}  // namespace pattn
