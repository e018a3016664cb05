"""NVRTC (NVIDIA's runtime compiler) through ctypes: CUDA C++ text -> cubin, no nvcc.

PyTorch's CUDA wheels depend on NVRTC (``nvidia-cuda-nvrtc``), so wherever ``torch.cuda``
works the compiler is there; a CUDA toolkit's ``lib64`` is searched too, and
``METALGEN_NVRTC=/path/to/libnvrtc.so.N`` overrides both. NVRTC needs no GPU: the CUDA
translation of every kernel can be compile-checked on a CPU-only machine that has it.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolchainMissingError

_SUCCESS = 0


@dataclass(frozen=True)
class Nvrtc:
    library: ctypes.CDLL
    path: str
    version: tuple[int, int]

    @property
    def identity(self) -> str:
        return f"nvrtc {self.version[0]}.{self.version[1]} ({Path(self.path).name})"


def _candidates() -> list[str]:
    configured = os.environ.get("METALGEN_NVRTC")
    if configured:
        return [configured]
    found: list[str] = []
    roots = [Path(p) for p in sys.path if p]
    for root in roots:  # pip's nvidia-cuda-nvrtc (CUDA 13: nvidia/cu13, 12: nvidia/cuda_nvrtc)
        for pattern in ("nvidia/cu13/lib/libnvrtc.so*", "nvidia/cuda_nvrtc/lib/libnvrtc.so*"):
            found += sorted(glob.glob(str(root / pattern)), reverse=True)
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home:
            found += sorted(glob.glob(f"{home}/lib64/libnvrtc.so*"), reverse=True)
    found += ["libnvrtc.so"]
    # The builtins library sits next to libnvrtc; skip it and the alternate ABI build.
    return [p for p in found if "builtins" not in p and ".alt." not in p]


@functools.cache
def find_nvrtc() -> Nvrtc:
    """The first NVRTC that loads; ToolchainMissingError naming what was tried otherwise."""
    tried = []
    for path in _candidates():
        directory = os.path.dirname(path)
        try:
            if directory:  # libnvrtc dlopens its builtins library by name: load it first
                for builtins in sorted(glob.glob(f"{directory}/libnvrtc-builtins.so*")):
                    if ".alt." not in builtins:
                        ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
                        break
            library = ctypes.CDLL(path)
        except OSError as error:
            tried.append(f"{path} ({error})")
            continue
        major, minor = ctypes.c_int(), ctypes.c_int()
        library.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
        return Nvrtc(library, path, (major.value, minor.value))
    raise ToolchainMissingError(
        "the CUDA back end compiles with NVRTC, which was not found (tried "
        + "; ".join(tried[-4:] or ["nothing"])
        + "). Install PyTorch's CUDA build (it depends on nvidia-cuda-nvrtc), or "
        "`pip install nvidia-cuda-nvrtc`, or point METALGEN_NVRTC at libnvrtc.so."
    )


def nvrtc_available() -> bool:
    try:
        find_nvrtc()
    except ToolchainMissingError:
        return False
    return True


class CompileFailed(Exception):
    """NVRTC rejected the program; ``log`` holds its diagnostics."""

    def __init__(self, log: str) -> None:
        super().__init__(log)
        self.log = log


def compile_to_cubin(source: str, name: str, options: list[str]) -> tuple[bytes, str]:
    """(cubin, log) of ``source`` (``name`` is its file name in diagnostics); CompileFailed
    with NVRTC's log when it does not compile."""
    nvrtc = find_nvrtc().library
    program = ctypes.c_void_p()
    check(
        nvrtc,
        nvrtc.nvrtcCreateProgram(
            ctypes.byref(program), source.encode(), name.encode(), 0, None, None
        ),
        "nvrtcCreateProgram",
    )
    try:
        encoded = [o.encode() for o in options]
        array = (ctypes.c_char_p * len(encoded))(*encoded)
        result = nvrtc.nvrtcCompileProgram(program, len(encoded), array)
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(program, buffer)
        log = buffer.value.decode(errors="replace")
        if result != _SUCCESS:
            raise CompileFailed(log)
        check(nvrtc, nvrtc.nvrtcGetCUBINSize(program, ctypes.byref(size)), "nvrtcGetCUBINSize")
        cubin = ctypes.create_string_buffer(size.value)
        check(nvrtc, nvrtc.nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN")
        return cubin.raw, log
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


def check(nvrtc: ctypes.CDLL, result: int, what: str) -> None:
    if result != _SUCCESS:
        nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
        message = nvrtc.nvrtcGetErrorString(result).decode()
        raise ToolchainMissingError(f"{what} failed: {message} ({result})")
