// The attention kernel for x86-64 with AVX-512 F/BW/VL/DQ and AVX512_BF16:
// the AVX-512 kernel (vec_avx512.h, attend_kernel.h) whose bf16 scores Q Kᵀ
// come from vdpbf16ps (Vec::dot_pairs) on the bf16 inputs as they are,
// instead of converting Q and K to f32 first. f32 and f16 inputs run the
// plain AVX-512 code, compiled again here. isa.cpp calls this file only where
// cpuid reports AVX512_BF16 besides AVX-512 F/BW/VL/DQ.
//
// Accuracy: a product of two bf16 (8-bit significands) is exact in f32, so
// one vdpbf16ps lane adds the same two products two f32 FMAs on the
// converted values would (summation order differs). The instruction treats
// bf16 denormals (|x| < 2^-126) as zero, flushes denormal results to zero
// and rounds to nearest even whatever MXCSR says; a score loses only terms
// below 2^-126, far under the bf16 tolerance of docs/semantics.md. P V stays
// f32: P rounded to bf16 would add up to 2^-9 relative error per weight
// (docs/architecture.md, CPU backend).
//
// No file-wide -m flag (native/CMakeLists.txt): the target region below gives
// every function defined in it the AVX-512 + AVX512_BF16 target, while the
// headers included before it (standard library, convert.h, attend_item.h)
// keep the baseline, so no AVX-512 copy of a shared inline function can
// reach callers outside this file.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <math.h>

#include "attend_item.h"
#include "attention_args.h"
#include "convert.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c"))), \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")
#endif

#include "vec_avx512.h"

namespace pattn {
namespace cpu {
namespace {

struct Vec : VecAvx512 {
    // 2 * W bf16 elements, the operand of vdpbf16ps.
    using pairs = __m512bh;
    static pairs load_pairs(const uint16_t* p) {
        pairs x;
        std::memcpy(&x, p, sizeof x);  // one unaligned 64-byte load
        return x;
    }
    // acc[i] += a[2i] * b[2i] + a[2i+1] * b[2i+1]
    static reg dot_pairs(reg acc, pairs a, pairs b) { return _mm512_dpbf16_ps(acc, a, b); }
};

}  // namespace
}  // namespace cpu
}  // namespace pattn

#define PATTN_BF16_PAIR_SCORES 1
#define PATTN_ATTEND_ENTRY attend_avx512_bf16
#define PATTN_PACK_ENTRY pack_avx512_bf16
#include "attend_kernel.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif
