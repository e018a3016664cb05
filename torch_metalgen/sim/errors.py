"""Exceptions of the MSL simulator. Every message names what failed and how to fix it."""

from __future__ import annotations


class SimulatorError(RuntimeError):
    """Base class: anything the simulator detects or cannot do."""


class ToolchainMissingError(SimulatorError):
    """No usable C++ compiler (clang >= 16 or ziglang) was found."""


class MetalCompileError(SimulatorError):
    """The .metal source did not compile; the message holds clang's diagnostics."""


class LaunchArgumentError(SimulatorError, ValueError):
    """A launch is malformed: unknown kernel, unbound buffer, bad geometry."""


class BarrierDivergenceError(SimulatorError):
    """Threads of one threadgroup did not all reach the same threadgroup_barrier."""


class NonUniformArgumentError(SimulatorError):
    """A SIMD-group function got different values for an argument that must be uniform."""


class InactiveLaneReadError(SimulatorError):
    """A SIMD-group function read a lane that was not active at that call."""


class UnwrittenOutputError(SimulatorError):
    """Elements of an output buffer still hold the poison pattern after the launch."""


class OrderDependenceError(SimulatorError):
    """Two scheduling orders gave different results (a missing barrier, a race)."""


class OutOfBoundsError(SimulatorError):
    """An access outside every bound buffer, threadgroup variable and the thread's own
    memory (the memory checks of the default build, or AddressSanitizer with asan=True)."""


class DataRaceError(SimulatorError):
    """Two threads accessed the same memory, at least one writing, with nothing ordering
    them: threads of a threadgroup with no barrier (with mem_threadgroup) in between, or
    two threadgroups of one launch on device memory (atomics excepted)."""


class UninitializedReadError(SimulatorError):
    """A thread read threadgroup memory that no thread of its threadgroup had written."""


class SimdWidthError(SimulatorError):
    """A SIMD-group function was used as if SIMD-groups were wider than 32 lanes."""


class ResourceLimitError(SimulatorError):
    """Over an Apple-GPU limit: 1024 threads per threadgroup, 32 KiB threadgroup memory."""


# Error kinds reported by the C++ runtime (include/metalsim/rt.h, metalsim_error_kind).
ERROR_BY_KIND: dict[int, type[SimulatorError]] = {
    1: BarrierDivergenceError,
    2: NonUniformArgumentError,
    3: InactiveLaneReadError,
    4: ResourceLimitError,
    5: LaunchArgumentError,
    6: OutOfBoundsError,
    7: DataRaceError,
    8: UninitializedReadError,
    9: SimdWidthError,
}
