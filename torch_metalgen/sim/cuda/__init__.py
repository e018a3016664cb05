"""CUDA back end of the MSL simulator's front end: the project's Metal kernels, unchanged,
on a real NVIDIA GPU (a second correctness oracle; docs/cuda.md).

The same front end and source rewrite as the CPU simulator, one more target: the rewritten
MSL is translated to CUDA C++ (translate.py), compiled by NVRTC against a compatibility
header (sim/cuda/include) and launched with the project's own C++ LaunchPlans on CUDA
tensors, on PyTorch's stream:

    import torch, torch_metalgen
    from torch_metalgen.sim import cuda
    with cuda.enable():
        y = torch.ops.metalgen.rms_norm(x.cuda(), w.cuda(), 1e-6)

Imported on demand; needs torch with CUDA, an NVIDIA driver, NVRTC, and the simulator's
clang front end (or its cached results; see frontend.py).
"""

from __future__ import annotations

from .frontend import FrontEnd, front_end
from .library import (
    CudaLibrary,
    LaunchStatus,
    Program,
    SimdCollectiveError,
    build_program,
    compile_library,
)
from .mode import VariantNotApplicable, enable
from .nvrtc import find_nvrtc, nvrtc_available
from .plan import run_plan

__all__ = [
    "CudaLibrary",
    "FrontEnd",
    "LaunchStatus",
    "Program",
    "SimdCollectiveError",
    "VariantNotApplicable",
    "available",
    "build_program",
    "compile_library",
    "enable",
    "find_nvrtc",
    "front_end",
    "nvrtc_available",
    "run_plan",
]


def available() -> tuple[bool, str]:
    """(True, "") when kernels can run here, else (False, why): torch without CUDA, no GPU,
    no NVRTC."""
    import torch

    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} has no usable CUDA device"
    if not nvrtc_available():
        return False, "NVRTC was not found (pip install nvidia-cuda-nvrtc, or METALGEN_NVRTC)"
    return True, ""
