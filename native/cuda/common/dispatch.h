// Compile-time dispatch for the host side of every kernel family. Each
// macro binds a constant (or type) for the body; its default case returns
// PATTN_STATUS_UNSUPPORTED naming the value, so there is no silent fallback.
// `what` names the kernels in the message ("prefill", "decode").
#pragma once

#include "errors.h"
#include "paddedattn.h"

// The head_dims of the CUDA kernels: 64, 128, 256 and the small embedding
// models' 32, 80 and 96 (prefill and decode have the same instantiations).
#define PATTN_DISPATCH_HEAD_DIM(what, head_dim, CONST_NAME, ...)                                         \
    switch (head_dim) {                                                                                  \
        case 32: { constexpr int CONST_NAME = 32; __VA_ARGS__ } break;                                   \
        case 64: { constexpr int CONST_NAME = 64; __VA_ARGS__ } break;                                   \
        case 80: { constexpr int CONST_NAME = 80; __VA_ARGS__ } break;                                   \
        case 96: { constexpr int CONST_NAME = 96; __VA_ARGS__ } break;                                   \
        case 128: { constexpr int CONST_NAME = 128; __VA_ARGS__ } break;                                 \
        case 256: { constexpr int CONST_NAME = 256; __VA_ARGS__ } break;                                 \
        default:                                                                                         \
            return ::pattn::set_error(PATTN_STATUS_UNSUPPORTED,                                          \
                                      "head_dim = %d is not supported by the CUDA %s kernels "           \
                                      "(supported: 32, 64, 80, 96, 128, 256)", (int)(head_dim), what);   \
    }

// The 16-bit element types of q/k/v/o.
#define PATTN_DISPATCH_DTYPE(what, dtype, TYPE_NAME, ...)                                                \
    switch (dtype) {                                                                                     \
        case PATTN_DTYPE_F16: { using TYPE_NAME = __half; __VA_ARGS__ } break;                           \
        case PATTN_DTYPE_BF16: { using TYPE_NAME = __nv_bfloat16; __VA_ARGS__ } break;                   \
        default:                                                                                         \
            return ::pattn::set_error(PATTN_STATUS_UNSUPPORTED,                                          \
                                      "dtype = %d is not supported by the CUDA %s kernels "              \
                                      "(supported: f16, bf16)", (int)(dtype), what);                     \
    }

#define PATTN_DISPATCH_BOOL(value, CONST_NAME, ...)                                                      \
    if (value) { constexpr bool CONST_NAME = true; __VA_ARGS__ }                                         \
    else { constexpr bool CONST_NAME = false; __VA_ARGS__ }

// The prefill kernels' head_dims: those of PATTN_DISPATCH_HEAD_DIM.
#define PATTN_DISPATCH_PREFILL_HEAD_DIM(head_dim, CONST_NAME, ...) \
    PATTN_DISPATCH_HEAD_DIM("prefill", head_dim, CONST_NAME, __VA_ARGS__)
