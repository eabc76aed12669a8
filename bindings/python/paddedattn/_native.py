# Generated from native/include/paddedattn.h by bindings/PaddedAttention.Bindings. Do not edit.
# Regenerate with: ./build.sh bindings (or: dotnet run --project bindings/PaddedAttention.Bindings -- --header native/include/paddedattn.h --output src/Managed/Interop/NativeMethods.g.cs --python-output bindings/python/paddedattn/_native.py)
"""The C ABI of paddedattn.h as ctypes declarations, one to one.

Constants and enum values, struct layouts and the signatures of the exported
functions (FUNCTIONS: C name -> (restype, argtypes)). The hand-written layer
in __init__.py loads the library, binds FUNCTIONS and adds the helpers.
"""

import ctypes
import enum

# C: the constants of enum pattn_constants
ABI_VERSION = 2
VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0
MAX_DIMS = 4
DEVICE_NAME_SIZE = 256


class Status(enum.IntEnum):
    """C: enum pattn_status"""

    SUCCESS = 0
    INVALID_ARGUMENT = 1
    UNSUPPORTED = 2
    DEVICE_MISMATCH = 3
    OUT_OF_MEMORY = 4
    CUDA_ERROR = 5
    CUDA_NOT_BUILT = 6
    NO_DEVICE = 7
    INTERNAL_ERROR = 8


class Dtype(enum.IntEnum):
    """C: enum pattn_dtype"""

    F32 = 0
    F16 = 1
    BF16 = 2
    I32 = 3


class DeviceType(enum.IntEnum):
    """C: enum pattn_device_type"""

    CPU = 0
    CUDA = 1


class MaskMode(enum.IntEnum):
    """C: enum pattn_mask_mode"""

    PADDED = 0
    CAUSAL_PADDED_LEFT = 1
    CAUSAL_PADDED_RIGHT = 2
    PADDED_LEFT = 3


class PaddingSide(enum.IntEnum):
    """C: enum pattn_padding_side"""

    RIGHT = 0
    LEFT = 1


class Tensor(ctypes.Structure):
    """C: struct pattn_tensor"""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int),
        ("device_type", ctypes.c_int),
        ("device_id", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("shape", ctypes.c_int64 * 4),
        ("strides", ctypes.c_int64 * 4),
    ]


class PrefillParams(ctypes.Structure):
    """C: struct pattn_prefill_params"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("mask_mode", ctypes.c_int),
        ("q", Tensor),
        ("k", Tensor),
        ("v", Tensor),
        ("o", Tensor),
        ("lse", Tensor),
        ("q_valid_lens", Tensor),
        ("kv_valid_lens", Tensor),
        ("softmax_scale", ctypes.c_float),
        ("reserved", ctypes.c_uint32),
        ("cpu_max_threads", ctypes.c_int32),
        ("window_enabled", ctypes.c_uint32),
        ("window_left", ctypes.c_int32),
        ("window_right", ctypes.c_int32),
        ("logits_soft_cap", ctypes.c_float),
        ("cu_seqlens_q", Tensor),
        ("cu_seqlens_kv", Tensor),
        ("page_table", Tensor),
    ]


class DecodeParams(ctypes.Structure):
    """C: struct pattn_decode_params"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("padding_side", ctypes.c_int),
        ("q", Tensor),
        ("k_cache", Tensor),
        ("v_cache", Tensor),
        ("o", Tensor),
        ("lse", Tensor),
        ("kv_valid_lens", Tensor),
        ("softmax_scale", ctypes.c_float),
        ("num_splits", ctypes.c_int32),
        ("page_table", Tensor),
        ("cpu_max_threads", ctypes.c_int32),
        ("window_enabled", ctypes.c_uint32),
        ("window_left", ctypes.c_int32),
        ("window_right", ctypes.c_int32),
        ("logits_soft_cap", ctypes.c_float),
    ]


class MergeParams(ctypes.Structure):
    """C: struct pattn_merge_params"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("o_a", Tensor),
        ("lse_a", Tensor),
        ("o_b", Tensor),
        ("lse_b", Tensor),
        ("o_out", Tensor),
        ("lse_out", Tensor),
    ]


class DeviceProperties(ctypes.Structure):
    """C: struct pattn_device_properties"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("device_id", ctypes.c_int32),
        ("name", ctypes.c_char * 256),
        ("compute_capability_major", ctypes.c_int32),
        ("compute_capability_minor", ctypes.c_int32),
        ("multiprocessor_count", ctypes.c_int32),
        ("max_shared_memory_per_block_optin", ctypes.c_int32),
        ("total_global_memory", ctypes.c_uint64),
        ("l2_cache_size", ctypes.c_uint64),
    ]


class Capabilities(ctypes.Structure):
    """C: struct pattn_capabilities"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("cuda_built", ctypes.c_int32),
        ("cuda_runtime_version", ctypes.c_int32),
        ("cuda_architecture_count", ctypes.c_int32),
        ("cuda_architectures", ctypes.c_int32 * 16),
        ("cuda_arch_specific", ctypes.c_int32 * 16),
        ("cpu_isa", ctypes.c_char * 64),
    ]


# C name -> (restype, argtypes), in header order.
FUNCTIONS = {
    "pattn_abi_version": (ctypes.c_uint32, []),
    "pattn_version_string": (ctypes.c_char_p, []),
    "pattn_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "pattn_last_error_message": (ctypes.c_char_p, []),
    "pattn_last_error_argument": (ctypes.c_char_p, []),
    "pattn_sequence_prefill": (ctypes.c_int, [ctypes.POINTER(PrefillParams), ctypes.c_void_p]),
    "pattn_decode": (ctypes.c_int, [ctypes.POINTER(DecodeParams), ctypes.c_void_p]),
    "pattn_merge_states": (ctypes.c_int, [ctypes.POINTER(MergeParams), ctypes.c_void_p]),
    "pattn_device_count": (ctypes.c_int, [ctypes.POINTER(ctypes.c_int32)]),
    "pattn_device_get_properties": (ctypes.c_int, [ctypes.c_int32, ctypes.POINTER(DeviceProperties)]),
    "pattn_device_synchronize": (ctypes.c_int, [ctypes.c_int32]),
    "pattn_device_malloc": (ctypes.c_int, [ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]),
    "pattn_device_free": (ctypes.c_int, [ctypes.c_void_p]),
    "pattn_host_malloc_pinned": (ctypes.c_int, [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]),
    "pattn_host_free_pinned": (ctypes.c_int, [ctypes.c_void_p]),
    "pattn_memcpy": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]),
    "pattn_memcpy_async": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p]),
    "pattn_memset_async": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_uint64, ctypes.c_void_p]),
    "pattn_pointer_get_device": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int32)]),
    "pattn_stream_create": (ctypes.c_int, [ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]),
    "pattn_stream_destroy": (ctypes.c_int, [ctypes.c_void_p]),
    "pattn_stream_synchronize": (ctypes.c_int, [ctypes.c_void_p]),
    "pattn_event_create": (ctypes.c_int, [ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]),
    "pattn_event_destroy": (ctypes.c_int, [ctypes.c_void_p]),
    "pattn_event_record": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
    "pattn_event_synchronize": (ctypes.c_int, [ctypes.c_void_p]),
    "pattn_event_query": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]),
    "pattn_event_elapsed_ms": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)]),
    "pattn_stream_wait_event": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
    "pattn_get_capabilities": (ctypes.c_int, [ctypes.POINTER(Capabilities)]),
}

# C names of the declarations above, for the layout test.
CONSTANTS = {
    "PATTN_ABI_VERSION": ABI_VERSION,
    "PATTN_VERSION_MAJOR": VERSION_MAJOR,
    "PATTN_VERSION_MINOR": VERSION_MINOR,
    "PATTN_VERSION_PATCH": VERSION_PATCH,
    "PATTN_MAX_DIMS": MAX_DIMS,
    "PATTN_DEVICE_NAME_SIZE": DEVICE_NAME_SIZE,
}
ENUMS = {
    "pattn_status": Status,
    "pattn_dtype": Dtype,
    "pattn_device_type": DeviceType,
    "pattn_mask_mode": MaskMode,
    "pattn_padding_side": PaddingSide,
}
ENUM_CONSTANTS = {
    "PATTN_STATUS_SUCCESS": Status.SUCCESS,
    "PATTN_STATUS_INVALID_ARGUMENT": Status.INVALID_ARGUMENT,
    "PATTN_STATUS_UNSUPPORTED": Status.UNSUPPORTED,
    "PATTN_STATUS_DEVICE_MISMATCH": Status.DEVICE_MISMATCH,
    "PATTN_STATUS_OUT_OF_MEMORY": Status.OUT_OF_MEMORY,
    "PATTN_STATUS_CUDA_ERROR": Status.CUDA_ERROR,
    "PATTN_STATUS_CUDA_NOT_BUILT": Status.CUDA_NOT_BUILT,
    "PATTN_STATUS_NO_DEVICE": Status.NO_DEVICE,
    "PATTN_STATUS_INTERNAL_ERROR": Status.INTERNAL_ERROR,
    "PATTN_DTYPE_F32": Dtype.F32,
    "PATTN_DTYPE_F16": Dtype.F16,
    "PATTN_DTYPE_BF16": Dtype.BF16,
    "PATTN_DTYPE_I32": Dtype.I32,
    "PATTN_DEVICE_CPU": DeviceType.CPU,
    "PATTN_DEVICE_CUDA": DeviceType.CUDA,
    "PATTN_MASK_PADDED": MaskMode.PADDED,
    "PATTN_MASK_CAUSAL_PADDED_LEFT": MaskMode.CAUSAL_PADDED_LEFT,
    "PATTN_MASK_CAUSAL_PADDED_RIGHT": MaskMode.CAUSAL_PADDED_RIGHT,
    "PATTN_MASK_PADDED_LEFT": MaskMode.PADDED_LEFT,
    "PATTN_PADDING_RIGHT": PaddingSide.RIGHT,
    "PATTN_PADDING_LEFT": PaddingSide.LEFT,
}
STRUCTS = {
    "pattn_tensor": Tensor,
    "pattn_prefill_params": PrefillParams,
    "pattn_decode_params": DecodeParams,
    "pattn_merge_params": MergeParams,
    "pattn_device_properties": DeviceProperties,
    "pattn_capabilities": Capabilities,
}

__all__ = [
    "ABI_VERSION",
    "VERSION_MAJOR",
    "VERSION_MINOR",
    "VERSION_PATCH",
    "MAX_DIMS",
    "DEVICE_NAME_SIZE",
    "Status",
    "Dtype",
    "DeviceType",
    "MaskMode",
    "PaddingSide",
    "Tensor",
    "PrefillParams",
    "DecodeParams",
    "MergeParams",
    "DeviceProperties",
    "Capabilities",
    "FUNCTIONS",
    "CONSTANTS",
    "ENUMS",
    "ENUM_CONSTANTS",
    "STRUCTS",
]
