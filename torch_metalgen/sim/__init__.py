"""MSL simulator: runs the project's Metal kernels on the CPU with GPU semantics.

The real .metal text is compiled as C++ with clang and a compatibility header; every
GPU thread runs as a fiber, so barriers, SIMD-group functions, threadgroup memory and
simdgroup matrices behave as on an Apple GPU, and misuse is reported. docs/simulator.md.
"""

from __future__ import annotations

from .errors import (
    BarrierDivergenceError,
    DataRaceError,
    InactiveLaneReadError,
    LaunchArgumentError,
    MetalCompileError,
    NonUniformArgumentError,
    OrderDependenceError,
    OutOfBoundsError,
    ResourceLimitError,
    SimdWidthError,
    SimulatorError,
    ToolchainMissingError,
    UninitializedReadError,
    UnwrittenOutputError,
)
from .library import Library, compile_library, run_isolated
from .mode import simulate
from .plan import metal_source_dir, run_plan
from .toolchain import toolchain_info
from .traffic import BufferTraffic, LaunchResult, record_launches

__all__ = [
    "BarrierDivergenceError",
    "BufferTraffic",
    "DataRaceError",
    "InactiveLaneReadError",
    "LaunchArgumentError",
    "LaunchResult",
    "Library",
    "MetalCompileError",
    "NonUniformArgumentError",
    "OrderDependenceError",
    "OutOfBoundsError",
    "ResourceLimitError",
    "SimdWidthError",
    "SimulatorError",
    "ToolchainMissingError",
    "UninitializedReadError",
    "UnwrittenOutputError",
    "compile_library",
    "metal_source_dir",
    "record_launches",
    "run_isolated",
    "run_plan",
    "simulate",
    "toolchain_info",
]
