"""What the CUDA tier needs, and why a test skips: a CUDA GPU, NVRTC, compute-sanitizer,
the CPU simulator (for the tests that run a kernel on both back ends)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch


@functools.cache
def gpu_skip_reason() -> str | None:
    if not torch.cuda.is_available():
        return f"needs a CUDA GPU (torch {torch.__version__} has none here)"
    from torch_metalgen.sim import cuda

    ok, why = cuda.available()
    return None if ok else why


@functools.cache
def nvrtc_skip_reason() -> str | None:
    from torch_metalgen.sim.cuda import nvrtc_available

    if not nvrtc_available():
        return "needs NVRTC (pip install nvidia-cuda-nvrtc, or METALGEN_NVRTC)"
    return None


@functools.cache
def sim_skip_reason() -> str | None:
    from torch_metalgen import sim

    info = sim.toolchain_info()
    if not info.get("available"):
        return f"no simulator toolchain: {info.get('reason')}"
    try:  # a compiler that cannot build the simulator's headers counts as none
        sim.compile_library(Path(__file__).resolve().parent / "kernels" / "features.metal")
    except sim.MetalCompileError:
        return None  # the file's own error: let the test report it
    except sim.SimulatorError as error:
        return f"the simulator cannot build here: {str(error)[:200]}"
    return None


def sanitizer_path() -> str | None:
    """compute-sanitizer on PATH or in the CUDA toolkit, or None."""
    from torch_metalgen.sim.cuda.sanitize import find_sanitizer

    return find_sanitizer()


def require_gpu() -> None:
    reason = gpu_skip_reason()
    if reason:
        pytest.skip(reason)


def require_nvrtc() -> None:
    reason = nvrtc_skip_reason()
    if reason:
        pytest.skip(reason)


def require_sim() -> None:
    reason = sim_skip_reason()
    if reason:
        pytest.skip(reason)
