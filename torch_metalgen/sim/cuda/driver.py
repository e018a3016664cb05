"""The CUDA driver API through ctypes: load a cubin into PyTorch's context, launch on
PyTorch's current stream, read module globals. Only what the CUDA back end needs.

PyTorch owns the context (the device's primary context, made current by any CUDA tensor
operation); modules are loaded into it, so kernels and torch ops share memory, streams,
CUDA graphs and compute-sanitizer's view of the process.
"""

from __future__ import annotations

import ctypes
import functools
import threading

from ..errors import SimulatorError, ToolchainMissingError

# CUfunction_attribute
MAX_THREADS_PER_BLOCK = 0
SHARED_SIZE_BYTES = 1
LOCAL_SIZE_BYTES = 3
NUM_REGS = 4

_c = ctypes.c_void_p


class CudaError(SimulatorError):
    """A CUDA driver call failed (the message names the call and CUDA's error)."""


@functools.cache
def _library() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL("libcuda.so.1")
    except OSError as error:
        raise ToolchainMissingError(
            f"the CUDA back end needs the NVIDIA driver (libcuda.so.1): {error}"
        ) from error
    signatures = {
        "cuInit": [ctypes.c_uint],
        "cuDriverGetVersion": [ctypes.POINTER(ctypes.c_int)],
        "cuCtxGetCurrent": [ctypes.POINTER(_c)],
        "cuModuleLoadData": [ctypes.POINTER(_c), ctypes.c_void_p],
        "cuModuleUnload": [_c],
        "cuModuleGetFunction": [ctypes.POINTER(_c), _c, ctypes.c_char_p],
        "cuModuleGetGlobal_v2": [
            ctypes.POINTER(ctypes.c_uint64),
            ctypes.POINTER(ctypes.c_size_t),
            _c,
            ctypes.c_char_p,
        ],
        "cuFuncGetAttribute": [ctypes.POINTER(ctypes.c_int), ctypes.c_int, _c],
        "cuLaunchKernel": [
            _c,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            _c,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
        ],
        "cuMemcpyDtoH_v2": [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t],
        "cuMemsetD8Async": [ctypes.c_uint64, ctypes.c_ubyte, ctypes.c_size_t, _c],
        "cuGetErrorName": [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)],
        "cuGetErrorString": [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)],
    }
    for name, arguments in signatures.items():
        function = getattr(library, name)
        function.argtypes = arguments
        function.restype = ctypes.c_int
    return library


def check(result: int, what: str) -> None:
    if result == 0:
        return
    name, text = ctypes.c_char_p(), ctypes.c_char_p()
    library = _library()
    library.cuGetErrorName(result, ctypes.byref(name))
    library.cuGetErrorString(result, ctypes.byref(text))
    raise CudaError(
        f"{what} failed: {(name.value or b'?').decode()} ({result}): {(text.value or b'').decode()}"
    )


_init_lock = threading.Lock()
_initialized = False


def current_context() -> int:
    """The calling thread's current context (PyTorch's, for its current device)."""
    global _initialized
    library = _library()
    with _init_lock:
        if not _initialized:
            check(library.cuInit(0), "cuInit")
            _initialized = True
    context = _c()
    check(library.cuCtxGetCurrent(ctypes.byref(context)), "cuCtxGetCurrent")
    if not context.value:  # PyTorch makes its context current at its first device call
        import torch

        torch.cuda.synchronize()
        check(library.cuCtxGetCurrent(ctypes.byref(context)), "cuCtxGetCurrent")
    if not context.value:
        raise CudaError(
            "no CUDA context is current on this thread: run a torch CUDA operation first "
            "(the CUDA back end launches in PyTorch's context)"
        )
    return context.value


def driver_version() -> int:
    version = ctypes.c_int()
    check(_library().cuDriverGetVersion(ctypes.byref(version)), "cuDriverGetVersion")
    return version.value


class Module:
    """A loaded cubin (in the context that was current when it was loaded)."""

    def __init__(self, image: bytes) -> None:
        self._image = ctypes.create_string_buffer(image, len(image))
        handle = _c()
        check(_library().cuModuleLoadData(ctypes.byref(handle), self._image), "cuModuleLoadData")
        self.handle = handle.value

    def function(self, name: str) -> int:
        handle = _c()
        check(
            _library().cuModuleGetFunction(ctypes.byref(handle), self.handle, name.encode()),
            f"cuModuleGetFunction({name})",
        )
        return handle.value

    def global_address(self, name: str) -> tuple[int, int]:
        address, size = ctypes.c_uint64(), ctypes.c_size_t()
        check(
            _library().cuModuleGetGlobal_v2(
                ctypes.byref(address), ctypes.byref(size), self.handle, name.encode()
            ),
            f"cuModuleGetGlobal({name})",
        )
        return address.value, size.value

    def read_global(self, name: str) -> bytes:
        address, size = self.global_address(name)
        return read_device(address, size)


def read_device(address: int, size: int) -> bytes:
    """Synchronous copy of device memory to the host (callers synchronize their stream)."""
    buffer = ctypes.create_string_buffer(size)
    check(_library().cuMemcpyDtoH_v2(buffer, address, size), "cuMemcpyDtoH")
    return buffer.raw


def memset_async(address: int, size: int, stream: int) -> None:
    check(_library().cuMemsetD8Async(address, 0, size, stream), "cuMemsetD8Async")


def function_attribute(function: int, attribute: int) -> int:
    value = ctypes.c_int()
    check(
        _library().cuFuncGetAttribute(ctypes.byref(value), attribute, function),
        "cuFuncGetAttribute",
    )
    return value.value


def launch(
    function: int,
    grid: tuple[int, int, int],
    block: tuple[int, int, int],
    shared_bytes: int,
    stream: int,
    parameter: bytes,
    what: str,
) -> None:
    """cuLaunchKernel with one by-value parameter (the packed launch_args)."""
    buffer = ctypes.create_string_buffer(parameter, len(parameter))
    pointers = (ctypes.c_void_p * 1)(ctypes.cast(buffer, ctypes.c_void_p))
    check(
        _library().cuLaunchKernel(function, *grid, *block, shared_bytes, stream, pointers, None),
        f"cuLaunchKernel({what}, grid={grid}, block={block}, shared={shared_bytes})",
    )
