"""ctypes binding of PaddedAttention's C ABI (native/include/paddedattn.h).

No third-party package is needed; numpy and torch are used only when you pass
their arrays. The declarations that mirror the header one to one (constants,
enums, structs, function signatures) are generated from it into _native.py by
bindings/PaddedAttention.Bindings (`./build.sh bindings`); this file adds the
loading, the errors and the helpers on top. Import it as a package: put
bindings/python on PYTHONPATH or `pip install bindings/python`.

Stable API (other scripts import this module; names below do not change):

Loading
    load_library(path=None) -> ctypes.CDLL
        Loads libpaddedattn once and checks pattn_abi_version() against
        ABI_VERSION. Search order: `path`, $PADDEDATTN_NATIVE_LIB, the
        directory of this package, then <repo>/build/native, <repo>/native/build,
        <repo>/build (and their Release/ and Debug/ subfolders). When nothing
        loads, PattnLibraryError lists every path tried and why it failed.
    lib()                     the loaded CDLL (loads it on first use)
    loaded_from() -> str|None the path the library was loaded from
    version_string() -> str   pattn_version_string()
    abi_version() -> int      pattn_abi_version()
    status_string(s) -> str   pattn_status_string()
    last_error_message() -> str  pattn_last_error_message()

Errors
    PattnError(Exception)     .status (Status), .status_name, .message
    PattnLibraryError(OSError)
    check(status)             raises PattnError with pattn_last_error_message()
                              unless status == Status.SUCCESS; returns None.

Enums (IntEnum, values equal to the header's)
    Status, DType (generated as Dtype), DeviceType, MaskMode, PaddingSide
    Constants: ABI_VERSION, VERSION_MAJOR/MINOR/PATCH, MAX_DIMS, DEVICE_NAME_SIZE

Structs (ctypes.Structure, same fields and order as the header)
    Tensor (pattn_tensor), PrefillParams (pattn_prefill_params),
    DecodeParams (pattn_decode_params), MergeParams (pattn_merge_params),
    DeviceProperties (pattn_device_properties)

Tensor descriptors
    absent_tensor() -> Tensor                    data == NULL ("not given")
    tensor_from_pointer(ptr, shape, dtype, device_type=DeviceType.CUDA,
                        device_id=0, strides=None) -> Tensor
        Raw pointer (int) + shape; strides in elements, None = contiguous.
        dtype: DType, or a name: "f32"/"float32", "f16"/"float16"/"half",
        "bf16"/"bfloat16", "i32"/"int32" (a "torch." prefix is accepted).
    tensor_from_numpy(array, device_type=DeviceType.CPU, device_id=0) -> Tensor
        Host numpy array (float32, float16, int32; bfloat16 arrays from
        ml_dtypes too). Byte strides are converted to element strides.
    tensor_from_buffer(buffer, shape, dtype, strides=None) -> Tensor
        Any writable host buffer (ctypes array, array.array, bytearray,
        memoryview). The caller keeps the buffer alive.
    tensor_from_torch(t) -> Tensor
        A torch tensor (CPU or CUDA) through data_ptr()/stride()/device,
        without importing torch here.
    The returned Tensor never owns memory: keep the array/buffer alive for as
    long as the descriptor is used.

Calls (raise PattnError on failure; return None)
    sequence_prefill(q, k, v, o, mask_mode, lse=None, q_valid_lens=None,
                     kv_valid_lens=None, softmax_scale=0.0, stream=None, window=None,
                     logits_soft_cap=0.0, cu_seqlens_q=None, cu_seqlens_kv=None, page_table=None)
    decode(q, k_cache, v_cache, o, padding_side=PaddingSide.RIGHT, lse=None,
           kv_valid_lens=None, softmax_scale=0.0, num_splits=0, stream=None, page_table=None)
    merge_states(o_a, lse_a, o_b, lse_b, o_out, lse_out, stream=None)
    q, k, v, ... are Tensor descriptors (or anything tensor_like() accepts:
    numpy arrays, torch tensors). Valid lengths may be a Tensor (host or
    device, int32), a torch/numpy int32 array, or a Python sequence of ints
    (copied to a host int32 array for the duration of the call). `stream` is
    None (default stream), an int (cudaStream_t), or an object with a
    `cuda_stream` attribute (torch.cuda.Stream).

Devices, memory, streams (thin wrappers over the exported functions)
    device_count() -> int
    device_properties(device_id=0) -> dict
    device_synchronize(device_id=0)
    device_malloc(device_id, nbytes) -> int;  device_free(ptr)
    host_malloc_pinned(nbytes) -> int;        host_free_pinned(ptr)
    memcpy(dst, src, nbytes); memcpy_async(dst, src, nbytes, stream=None)
    memset_async(dst, value, nbytes, stream=None)
    pointer_get_device(ptr) -> (DeviceType, device_id)
    stream_create(device_id=0) -> int; stream_destroy(s); stream_synchronize(s)
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Iterable, Optional, Sequence, Tuple

__all__ = [
    "ABI_VERSION", "VERSION_MAJOR", "VERSION_MINOR", "VERSION_PATCH", "MAX_DIMS",
    "DEVICE_NAME_SIZE", "Status", "DType", "DeviceType", "MaskMode", "PaddingSide",
    "Tensor", "PrefillParams", "DecodeParams", "MergeParams", "DeviceProperties",
    "PattnError", "PattnLibraryError", "load_library", "lib", "loaded_from", "check",
    "version_string", "abi_version", "status_string", "last_error_message", "absent_tensor", "tensor_from_pointer",
    "tensor_from_numpy", "tensor_from_buffer", "tensor_from_torch", "tensor_like",
    "dtype_of", "dtype_size", "sequence_prefill", "decode", "merge_states",
    "device_count", "device_properties", "device_synchronize", "device_malloc",
    "device_free", "host_malloc_pinned", "host_free_pinned", "memcpy",
    "memcpy_async", "memset_async", "pointer_get_device", "stream_create",
    "stream_destroy", "stream_synchronize",
]

from ._native import (  # noqa: F401  (re-exported)
    ABI_VERSION, DEVICE_NAME_SIZE, FUNCTIONS, MAX_DIMS, VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH,
    DecodeParams, DeviceProperties, DeviceType, Dtype, MaskMode, MergeParams, PaddingSide, PrefillParams,
    Status, Tensor,
)

# The spelling this binding has always exported.
DType = Dtype


def _tensor_repr(self: Tensor) -> str:
    n = max(0, min(int(self.ndim), MAX_DIMS))
    where = "cpu" if self.device_type == DeviceType.CPU else "cuda:%d" % self.device_id
    return "Tensor(data=%s, dtype=%s, %s, shape=%s, strides=%s)" % (
        hex(self.data or 0), _enum_name(DType, self.dtype), where,
        list(self.shape[:n]), list(self.strides[:n]))


Tensor.__repr__ = _tensor_repr

# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


class PattnLibraryError(OSError):
    """The native library could not be found, loaded, or has another ABI."""


class PattnError(Exception):
    """A pattn_* call returned a status other than PATTN_STATUS_SUCCESS."""

    def __init__(self, status: int, message: str):
        self.status = _to_enum(Status, status)
        self.status_name = status_string(status)
        self.message = message
        super().__init__("%s: %s" % (self.status_name, message) if message else self.status_name)


_lib: Optional[ctypes.CDLL] = None
_loaded_from: Optional[str] = None


def _library_file_names() -> Sequence[str]:
    if sys.platform.startswith("win"):
        return ("paddedattn.dll", "libpaddedattn.dll")
    if sys.platform == "darwin":
        return ("libpaddedattn.dylib",)
    return ("libpaddedattn.so",)


def _candidate_paths() -> list:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))  # bindings/python/paddedattn -> repo root
    dirs = [here]
    for sub in ("build/native", "native/build", "build"):
        base = os.path.join(repo, *sub.split("/"))
        dirs += [base, os.path.join(base, "Release"), os.path.join(base, "Debug")]
    return [os.path.join(d, name) for d in dirs for name in _library_file_names()]


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Loads libpaddedattn (once) and checks its ABI version; see the module doc."""
    global _lib, _loaded_from
    if _lib is not None and path is None:
        return _lib

    tried = []
    candidates = []
    if path:
        candidates.append(("argument", path))
    env = os.environ.get("PADDEDATTN_NATIVE_LIB")
    if env:
        candidates.append(("PADDEDATTN_NATIVE_LIB", env))
    candidates += [("search", p) for p in _candidate_paths()]

    for origin, candidate in candidates:
        if origin == "search" and not os.path.exists(candidate):
            tried.append("%s (not found)" % candidate)
            continue
        try:
            handle = ctypes.CDLL(candidate)
        except OSError as error:
            tried.append("%s (%s)" % (candidate, error))
            # An explicit path that fails is an error, not a reason to pick
            # some other copy of the library silently.
            if origin != "search":
                break
            continue
        _bind(handle)
        found = int(handle.pattn_abi_version())
        if found != ABI_VERSION:
            raise PattnLibraryError(
                "%s has ABI version %d, this binding was written for %d" % (candidate, found, ABI_VERSION))
        _lib, _loaded_from = handle, candidate
        return handle

    raise PattnLibraryError(
        "could not load the PaddedAttention native library; set PADDEDATTN_NATIVE_LIB "
        "to the path of %s. Tried:\n  %s" % (_library_file_names()[0], "\n  ".join(tried)))


def _bind(handle: ctypes.CDLL) -> None:
    missing = []
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            function = getattr(handle, name)
        except AttributeError:
            missing.append(name)
            continue
        function.restype = restype
        function.argtypes = argtypes
    if missing:
        raise PattnLibraryError("%s does not export: %s" % (handle._name, ", ".join(missing)))


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    return _lib if _lib is not None else load_library()


def loaded_from() -> Optional[str]:
    """The path the library was loaded from, or None before loading."""
    return _loaded_from


def version_string() -> str:
    return lib().pattn_version_string().decode("utf-8", "replace")


def abi_version() -> int:
    return int(lib().pattn_abi_version())


def status_string(status: int) -> str:
    try:
        return lib().pattn_status_string(int(status)).decode("utf-8", "replace")
    except PattnLibraryError:
        return _enum_name(Status, status)


def last_error_message() -> str:
    raw = lib().pattn_last_error_message()
    return raw.decode("utf-8", "replace") if raw else ""


def check(status: int) -> None:
    """Raises PattnError (with pattn_last_error_message()) unless status is SUCCESS."""
    if int(status) != Status.SUCCESS:
        raise PattnError(int(status), last_error_message())


def _enum_name(kind, value) -> str:
    try:
        return kind(int(value)).name
    except ValueError:
        return str(int(value))


def _to_enum(kind, value):
    try:
        return kind(int(value))
    except ValueError:
        return int(value)


# --------------------------------------------------------------------------
# Tensor descriptors
# --------------------------------------------------------------------------

_DTYPE_NAMES = {
    "f32": DType.F32, "float32": DType.F32, "float": DType.F32,
    "f16": DType.F16, "float16": DType.F16, "half": DType.F16,
    "bf16": DType.BF16, "bfloat16": DType.BF16,
    "i32": DType.I32, "int32": DType.I32, "int": DType.I32,
}
_DTYPE_SIZES = {DType.F32: 4, DType.F16: 2, DType.BF16: 2, DType.I32: 4}


def dtype_of(dtype: Any) -> DType:
    """A DType from a DType/int, a name ("bf16", "float16", "torch.bfloat16"), or a numpy dtype."""
    if isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, int):
        return DType(dtype)
    name = str(getattr(dtype, "name", dtype)).lower()
    if name.startswith("torch."):
        name = name[len("torch."):]
    if name not in _DTYPE_NAMES:
        raise ValueError("dtype %r is not one of f32, f16, bf16, i32" % (dtype,))
    return _DTYPE_NAMES[name]


def dtype_size(dtype: Any) -> int:
    """Bytes per element of a dtype."""
    return _DTYPE_SIZES[dtype_of(dtype)]


def absent_tensor() -> Tensor:
    """A descriptor with data == NULL: an optional argument that is not given."""
    return Tensor()


def _contiguous_strides(shape: Sequence[int]) -> list:
    strides, step = [], 1
    for extent in reversed(shape):
        strides.append(step)
        step *= max(int(extent), 1)
    return list(reversed(strides))


def tensor_from_pointer(ptr: int, shape: Sequence[int], dtype: Any,
                        device_type: int = DeviceType.CUDA, device_id: int = 0,
                        strides: Optional[Sequence[int]] = None) -> Tensor:
    """Describes memory at a raw address (e.g. torch's data_ptr()); strides in elements."""
    shape = [int(s) for s in shape]
    if not 1 <= len(shape) <= MAX_DIMS:
        raise ValueError("rank %d is outside 1..%d" % (len(shape), MAX_DIMS))
    strides = _contiguous_strides(shape) if strides is None else [int(s) for s in strides]
    if len(strides) != len(shape):
        raise ValueError("strides %s do not match shape %s" % (strides, shape))
    t = Tensor()
    t.data = int(ptr) if ptr else None
    t.dtype = int(dtype_of(dtype))
    t.device_type = int(device_type)
    t.device_id = int(device_id) if int(device_type) == DeviceType.CUDA else 0
    t.ndim = len(shape)
    for i, (extent, stride) in enumerate(zip(shape, strides)):
        t.shape[i] = extent
        t.strides[i] = stride
    return t


def tensor_from_numpy(array: Any, device_type: int = DeviceType.CPU, device_id: int = 0) -> Tensor:
    """Describes a host numpy array (float32, float16, int32, or ml_dtypes.bfloat16)."""
    itemsize = int(array.dtype.itemsize)
    byte_strides = [int(s) for s in array.strides]
    if any(s % itemsize for s in byte_strides):
        raise ValueError("array strides %s are not multiples of the element size %d" % (byte_strides, itemsize))
    pointer = int(array.__array_interface__["data"][0])
    return tensor_from_pointer(pointer, array.shape, dtype_of(array.dtype), device_type, device_id,
                               [s // itemsize for s in byte_strides])


def tensor_from_buffer(buffer: Any, shape: Sequence[int], dtype: Any,
                       strides: Optional[Sequence[int]] = None) -> Tensor:
    """Describes a writable host buffer (ctypes array, array.array, bytearray, memoryview)."""
    if isinstance(buffer, ctypes.Array):
        pointer = ctypes.addressof(buffer)
        nbytes = ctypes.sizeof(buffer)
    else:
        view = memoryview(buffer)
        if view.readonly:
            raise ValueError("the buffer is read-only")
        nbytes = view.nbytes
        pointer = ctypes.addressof(ctypes.c_char.from_buffer(view)) if nbytes else 0
    t = tensor_from_pointer(pointer, shape, dtype, DeviceType.CPU, 0, strides)
    n = int(t.ndim)
    if all(t.shape[i] > 0 for i in range(n)):
        last = sum((t.shape[i] - 1) * t.strides[i] for i in range(n))
        if (last + 1) * dtype_size(dtype) > nbytes:
            raise ValueError("shape %s does not fit in a buffer of %d bytes" % (list(shape), nbytes))
    return t


def tensor_from_torch(t: Any) -> Tensor:
    """Describes a torch tensor (CPU or CUDA) by data_ptr(), shape, stride() and device."""
    device = t.device
    if device.type == "cuda":
        device_type, device_id = DeviceType.CUDA, (device.index or 0)
    elif device.type == "cpu":
        device_type, device_id = DeviceType.CPU, 0
    else:
        raise ValueError("torch device %s is neither cpu nor cuda" % device)
    return tensor_from_pointer(t.data_ptr(), list(t.shape), str(t.dtype), device_type, device_id,
                               list(t.stride()))


def tensor_like(value: Any) -> Tensor:
    """A Tensor from a Tensor, a numpy array or a torch tensor; None gives an absent tensor."""
    if value is None:
        return absent_tensor()
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "data_ptr") and hasattr(value, "stride"):
        return tensor_from_torch(value)
    if hasattr(value, "__array_interface__"):
        return tensor_from_numpy(value)
    raise TypeError("cannot describe a %s as a pattn_tensor" % type(value).__name__)


def _lengths(value: Any, keep_alive: list) -> Tensor:
    """Valid lengths: a tensor, an array, or a sequence of ints (copied to host int32)."""
    if value is None or isinstance(value, Tensor) or hasattr(value, "data_ptr") \
            or hasattr(value, "__array_interface__"):
        return tensor_like(value)
    values = [int(x) for x in value]
    host = (ctypes.c_int32 * max(len(values), 1))(*values)
    keep_alive.append(host)
    return tensor_from_pointer(ctypes.addressof(host), [len(values)], DType.I32, DeviceType.CPU)


def _stream_pointer(stream: Any) -> Optional[int]:
    if stream is None:
        return None
    if hasattr(stream, "cuda_stream"):
        stream = stream.cuda_stream
    return int(stream) or None


# --------------------------------------------------------------------------
# Attention calls
# --------------------------------------------------------------------------


def _set_variants(params: Any, window: Optional[Tuple[int, int]], logits_soft_cap: float) -> None:
    params.window_enabled = 0 if window is None else 1
    params.window_left, params.window_right = (0, 0) if window is None else (int(window[0]), int(window[1]))
    params.logits_soft_cap = float(logits_soft_cap)


def sequence_prefill(q: Any, k: Any, v: Any, o: Any, mask_mode: int, lse: Any = None,
                     q_valid_lens: Any = None, kv_valid_lens: Any = None,
                     softmax_scale: float = 0.0, stream: Any = None,
                     window: Optional[Tuple[int, int]] = None, logits_soft_cap: float = 0.0,
                     cu_seqlens_q: Any = None, cu_seqlens_kv: Any = None,
                     page_table: Any = None) -> None:
    """pattn_sequence_prefill; softmax_scale 0 means 1/sqrt(head_dim).

    window = (left, right) turns the sliding window on (-1 = unlimited side);
    cu_seqlens_q / cu_seqlens_kv ([batch + 1] int32) select the packed layout
    (q/o [total_q, heads, d], k/v [total_kv, kv_heads, d]; mask_mode PADDED or
    CAUSAL_PADDED_RIGHT). With page_table ([batch, max_pages_per_row] int32),
    k/v are pages [num_pages, page_size, num_kv_heads, head_dim] (page_size 1
    to 256; mask_mode PADDED or CAUSAL_PADDED_RIGHT): new queries after a
    cached prefix, kv_valid_lens counting prefix + new keys. See
    docs/semantics.md."""
    keep_alive: list = []
    params = PrefillParams()
    params.struct_size = ctypes.sizeof(PrefillParams)
    params.mask_mode = int(mask_mode)
    params.q, params.k, params.v, params.o = (tensor_like(x) for x in (q, k, v, o))
    params.lse = tensor_like(lse)
    params.q_valid_lens = _lengths(q_valid_lens, keep_alive)
    params.kv_valid_lens = _lengths(kv_valid_lens, keep_alive)
    params.softmax_scale = float(softmax_scale)
    params.reserved = 0
    _set_variants(params, window, logits_soft_cap)
    params.cu_seqlens_q = _lengths(cu_seqlens_q, keep_alive)
    params.cu_seqlens_kv = _lengths(cu_seqlens_kv, keep_alive)
    params.page_table = tensor_like(page_table)
    check(lib().pattn_sequence_prefill(ctypes.byref(params), _stream_pointer(stream)))


def decode(q: Any, k_cache: Any, v_cache: Any, o: Any, padding_side: int = PaddingSide.RIGHT,
           lse: Any = None, kv_valid_lens: Any = None, softmax_scale: float = 0.0,
           num_splits: int = 0, stream: Any = None, page_table: Any = None) -> None:
    """pattn_decode; num_splits 0 lets the library choose. With page_table
    ([batch, max_pages_per_row] int32), k_cache/v_cache are pages
    [num_pages, page_size, num_kv_heads, head_dim] (right padding only)."""
    keep_alive: list = []
    params = DecodeParams()
    params.struct_size = ctypes.sizeof(DecodeParams)
    params.padding_side = int(padding_side)
    params.q, params.k_cache, params.v_cache, params.o = (tensor_like(x) for x in (q, k_cache, v_cache, o))
    params.lse = tensor_like(lse)
    params.kv_valid_lens = _lengths(kv_valid_lens, keep_alive)
    params.softmax_scale = float(softmax_scale)
    params.num_splits = int(num_splits)
    params.page_table = tensor_like(page_table)
    check(lib().pattn_decode(ctypes.byref(params), _stream_pointer(stream)))


def merge_states(o_a: Any, lse_a: Any, o_b: Any, lse_b: Any, o_out: Any, lse_out: Any,
                 stream: Any = None) -> None:
    """pattn_merge_states: (o_a, lse_a) merged with (o_b, lse_b) into (o_out, lse_out)."""
    params = MergeParams()
    params.struct_size = ctypes.sizeof(MergeParams)
    params.reserved = 0
    params.o_a, params.lse_a, params.o_b, params.lse_b, params.o_out, params.lse_out = (
        tensor_like(x) for x in (o_a, lse_a, o_b, lse_b, o_out, lse_out))
    check(lib().pattn_merge_states(ctypes.byref(params), _stream_pointer(stream)))


# --------------------------------------------------------------------------
# Devices, memory, streams
# --------------------------------------------------------------------------


def device_count() -> int:
    count = ctypes.c_int32(0)
    check(lib().pattn_device_count(ctypes.byref(count)))
    return int(count.value)


def device_properties(device_id: int = 0) -> dict:
    props = DeviceProperties()
    props.struct_size = ctypes.sizeof(DeviceProperties)
    check(lib().pattn_device_get_properties(int(device_id), ctypes.byref(props)))
    return {
        "device_id": int(props.device_id),
        "name": props.name.decode("utf-8", "replace"),
        "compute_capability": (int(props.compute_capability_major), int(props.compute_capability_minor)),
        "multiprocessor_count": int(props.multiprocessor_count),
        "max_shared_memory_per_block_optin": int(props.max_shared_memory_per_block_optin),
        "total_global_memory": int(props.total_global_memory),
        "l2_cache_size": int(props.l2_cache_size),
    }


def device_synchronize(device_id: int = 0) -> None:
    check(lib().pattn_device_synchronize(int(device_id)))


def device_malloc(device_id: int, nbytes: int) -> int:
    ptr = ctypes.c_void_p()
    check(lib().pattn_device_malloc(int(device_id), int(nbytes), ctypes.byref(ptr)))
    return int(ptr.value or 0)


def device_free(ptr: int) -> None:
    check(lib().pattn_device_free(int(ptr) or None))


def host_malloc_pinned(nbytes: int) -> int:
    ptr = ctypes.c_void_p()
    check(lib().pattn_host_malloc_pinned(int(nbytes), ctypes.byref(ptr)))
    return int(ptr.value or 0)


def host_free_pinned(ptr: int) -> None:
    check(lib().pattn_host_free_pinned(int(ptr) or None))


def memcpy(dst: int, src: int, nbytes: int) -> None:
    check(lib().pattn_memcpy(int(dst) or None, int(src) or None, int(nbytes)))


def memcpy_async(dst: int, src: int, nbytes: int, stream: Any = None) -> None:
    check(lib().pattn_memcpy_async(int(dst) or None, int(src) or None, int(nbytes), _stream_pointer(stream)))


def memset_async(dst: int, value: int, nbytes: int, stream: Any = None) -> None:
    check(lib().pattn_memset_async(int(dst) or None, int(value), int(nbytes), _stream_pointer(stream)))


def pointer_get_device(ptr: int):
    device_type = ctypes.c_int(0)
    device_id = ctypes.c_int32(0)
    check(lib().pattn_pointer_get_device(int(ptr) or None, ctypes.byref(device_type), ctypes.byref(device_id)))
    return _to_enum(DeviceType, device_type.value), int(device_id.value)


def stream_create(device_id: int = 0) -> int:
    stream = ctypes.c_void_p()
    check(lib().pattn_stream_create(int(device_id), ctypes.byref(stream)))
    return int(stream.value or 0)


def stream_destroy(stream: int) -> None:
    check(lib().pattn_stream_destroy(_stream_pointer(stream)))


def stream_synchronize(stream: int) -> None:
    check(lib().pattn_stream_synchronize(_stream_pointer(stream)))


if __name__ == "__main__":
    load_library()
    print("loaded %s: version %s, ABI %d, %d CUDA device(s)"
          % (_loaded_from, version_string(), abi_version(), device_count()))
