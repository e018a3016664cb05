"""A compiled simulator library: validates launches and runs them through the runtime."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from . import outputs as output_checks
from .build import (
    Artifact,
    build_library,
    build_runtime,
    normalize_constants,
    normalize_defines,
)
from .errors import ERROR_BY_KIND, LaunchArgumentError, SimulatorError
from .frontend import Kernel
from .instrument import symbolize_message
from .isolated import launch_in_subprocess
from .orders import run_in_two_orders
from .request import (
    DISPATCHES,
    INACTIVE_LANES,
    MAX_BINDINGS,
    ORDERS,
    LaunchRequest,
    check_choice,
    triple,
)
from .traffic import BufferTraffic, LaunchResult, record


class _LaunchDesc(ctypes.Structure):
    """Mirror of metalsim_launch_desc (include/metalsim/rt.h)."""

    _fields_ = [
        ("kernel_name", ctypes.c_char_p),
        ("entry", ctypes.c_void_p),
        ("buffers", ctypes.c_void_p * MAX_BINDINGS),
        ("threadgroup_lengths", ctypes.c_uint32 * MAX_BINDINGS),
        ("grid", ctypes.c_uint32 * 3),
        ("threadgroup", ctypes.c_uint32 * 3),
        ("dispatch_threadgroups", ctypes.c_int),
        ("order", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("num_workers", ctypes.c_int),
        ("poison_inactive", ctypes.c_int),
        ("error_kind", ctypes.c_int),
        ("error", ctypes.c_char * 4096),
        ("buffer_sizes", ctypes.c_uint64 * MAX_BINDINGS),
        ("check_memory", ctypes.c_int),
        ("bytes_read", ctypes.c_uint64 * MAX_BINDINGS),
        ("bytes_written", ctypes.c_uint64 * MAX_BINDINGS),
        ("distinct_read", ctypes.c_uint64 * MAX_BINDINGS),
        ("distinct_written", ctypes.c_uint64 * MAX_BINDINGS),
        ("image_base", ctypes.c_uint64),
    ]


class _KernelInfo(ctypes.Structure):
    _fields_ = [
        ("host_name", ctypes.c_char_p),
        ("entry", ctypes.c_void_p),
        ("num_params", ctypes.c_int),
        ("params", ctypes.c_void_p),
        ("max_total_threads_per_threadgroup", ctypes.c_uint32),
    ]


class _ParamInfo(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("index", ctypes.c_int),
        ("pointee_size", ctypes.c_uint64),
        ("is_reference", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("type", ctypes.c_char_p),
    ]


_runtime_lock = threading.Lock()
_runtime: ctypes.CDLL | None = None


def _load_runtime() -> ctypes.CDLL:
    """The fiber runtime, loaded once with RTLD_GLOBAL so kernel libraries link to it."""
    global _runtime
    if _runtime is not None:  # every launch asks: no lock once it is loaded
        return _runtime
    with _runtime_lock:
        if _runtime is None:
            path = build_runtime(asan=False) / "libmetalsim.so"
            runtime = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
            runtime.metalsim_launch.argtypes = [ctypes.POINTER(_LaunchDesc)]
            runtime.metalsim_launch.restype = ctypes.c_int
            _runtime = runtime
        return _runtime


class Library:
    """Kernels of one .metal file. Use compile_library() to get one."""

    def __init__(
        self,
        source: Path,
        artifact: Artifact,
        include_dirs: tuple[Path, ...] = (),
        constants: tuple = (),
        warnings_as_errors: bool = True,
        defines: tuple = (),
    ):
        self.source = source
        self.artifact = artifact
        self.include_dirs = include_dirs
        self.warnings_as_errors = warnings_as_errors
        self.defines = dict(defines)
        # The function constant values this library was specialised with.
        self.constants = dict(constants)
        self.function_constants = {c.name: c for c in artifact.function_constants}
        self.kernels: dict[str, Kernel] = {k.host_name: k for k in artifact.kernels}
        # host_name -> entry point (in-process build only; the ASan build runs elsewhere).
        self._entries: dict[str, int] = {}
        # host_name -> {parameter name: bytes a setBytes argument must hold}, from the
        # launcher's table (sizeof the struct a `constant T&` parameter reads).
        self._bytes_needed: dict[str, dict[str, int]] = {}
        if not artifact.asan:
            _load_runtime()
            self._dll = ctypes.CDLL(str(artifact.binary), mode=os.RTLD_NOW | os.RTLD_LOCAL)
            count = ctypes.c_int.in_dll(self._dll, "metalsim_kernel_count").value
            table = (_KernelInfo * max(count, 1)).in_dll(self._dll, "metalsim_kernels")
            for info in table[:count]:
                name = info.host_name.decode()
                params = ctypes.cast(info.params, ctypes.POINTER(_ParamInfo))
                self._entries[name] = info.entry
                self._bytes_needed[name] = {
                    p.name.decode(): p.pointee_size if p.is_reference else 0
                    for p in (params[: info.num_params] if info.num_params else [])
                }

    def __repr__(self) -> str:
        return f"Library({str(self.source)!r}, kernels={sorted(self.kernels)})"

    def _kernel(self, name: str) -> Kernel:
        if name not in self.kernels:
            raise LaunchArgumentError(
                f"{self.source.name} has no kernel named {name!r}; it defines "
                f"{sorted(self.kernels)} (the [[host_name]] of an instantiation or the function "
                "name of a plain kernel)."
            )
        return self.kernels[name]

    def launch(
        self,
        kernel: str,
        *,
        buffers: Mapping[int, torch.Tensor],
        bytes: Mapping[int, bytes] | None = None,  # noqa: A002 - the Metal name (setBytes)
        threadgroup_memory: Mapping[int, int] | None = None,
        grid: Iterable[int],
        threadgroup: Iterable[int],
        dispatch: str = "threads",
        order: str = "forward",
        seed: int = 0,
        outputs: Iterable[int] = (),
        inactive_lanes: str = "error",
        num_threads: int | None = None,
        check_orders: bool = False,
        check_memory: bool = True,
        constants: Mapping[int, bool | int | float] | None = None,
    ) -> LaunchResult:
        """Runs `kernel` once, like encoding one dispatch and waiting for it.

        buffers: buffer index -> CPU tensor bound at its data_ptr() (setBuffer); the
            kernel writes into it in place.
        bytes: buffer index -> bytes copied for the launch (setBytes).
        threadgroup_memory: [[threadgroup(i)]] index -> length in bytes (a multiple of 16).
        grid: threads (dispatch="threads", dispatchThreads) or threadgroups
            (dispatch="threadgroups", dispatchThreadgroups), 1 to 3 dimensions.
        threadgroup: threads per threadgroup, 1 to 3 dimensions (at most 1024 in all).
        order: "forward", "reverse" or "random" (seeded by `seed`) scheduling of threads.
        outputs: buffer indices poisoned before the launch and checked for unwritten
            elements after it (UnwrittenOutputError).
        inactive_lanes: "error" (InactiveLaneReadError) or "poison" (NaN / 0xFF bytes).
        num_threads: OS threads that run threadgroups (default METALGEN_SIM_THREADS, else
            all CPUs); ignored by the AddressSanitizer build.
        check_orders: also run in a second order from the same inputs and require
            bit-identical buffers (OrderDependenceError).
        check_memory: check every load and store of the kernel (in-process build):
            out-of-bounds accesses (OutOfBoundsError), data races on threadgroup and
            device memory (DataRaceError), reads of threadgroup memory no thread wrote
            (UninitializedReadError), and count the traffic per buffer. False is faster.

        Returns a LaunchResult with the bytes read and written per buffer index (empty
        for the AddressSanitizer build or with check_memory=False).
        constants: [[function_constant(i)]] index -> value (MTLFunctionConstantValues);
            a library specialised with these values runs the launch (compiled once per
            value set, cached).

        Raises LaunchArgumentError for a malformed launch (before anything runs), and the
        SimulatorError subclass of whatever the kernel did wrong.
        """
        if constants is not None and dict(normalize_constants(constants)) != self.constants:
            specialised = compile_library(
                self.source,
                self.include_dirs,
                self.artifact.asan,
                constants=constants,
                warnings_as_errors=self.warnings_as_errors,
                defines=self.defines,
            )
            arguments = dict(locals())
            for name in ("self", "specialised", "constants", "kernel", "__class__"):
                arguments.pop(name, None)
            return specialised.launch(kernel, **arguments)
        info = self._kernel(kernel)
        bytes_args = dict(bytes or {})
        threadgroup_memory = dict(threadgroup_memory or {})
        check_choice("order", order, ORDERS)
        check_choice("dispatch", dispatch, DISPATCHES)
        check_choice("inactive_lanes", inactive_lanes, INACTIVE_LANES)
        request = LaunchRequest(
            kernel=kernel,
            buffers=buffers,
            bytes_args=bytes_args,
            threadgroup_memory=threadgroup_memory,
            grid=triple(grid, "grid"),
            threadgroup=triple(threadgroup, "threadgroup"),
            dispatch_threadgroups=dispatch == "threadgroups",
            seed=seed & (2**64 - 1),
            poison_inactive=inactive_lanes == "poison",
            num_threads=num_threads or 0,
            check_memory=bool(check_memory),
        )
        group = request.threadgroup
        per_group = group[0] * group[1] * group[2]
        limit = info.max_total_threads_per_threadgroup
        if limit and per_group > limit:
            raise LaunchArgumentError(
                f"kernel '{kernel}' declares [[max_total_threads_per_threadgroup({limit})]] but "
                f"the launch uses a threadgroup of {per_group} threads {group}; launch at most "
                f"{limit} threads per threadgroup."
            )
        self._check_bindings(info, buffers, bytes_args, threadgroup_memory)
        outputs = tuple(outputs)
        for index in outputs:
            if index not in buffers:
                raise LaunchArgumentError(
                    f"outputs lists buffer({index}), but buffers has no tensor at index {index}"
                )
            output_checks.poison(buffers[index])

        run = self._run_isolated if self.artifact.asan else self._run_here
        if check_orders:
            result = run_in_two_orders(kernel, buffers, order, lambda other: run(request, other))
        else:
            result = run(request, order)
        for index in outputs:
            output_checks.check_written(buffers[index], kernel, index)
        record(result)
        return result

    def _check_bindings(self, info: Kernel, buffers, bytes_args, threadgroup_memory) -> None:
        kernel = info.host_name
        for index in (*buffers, *bytes_args, *threadgroup_memory):
            if not isinstance(index, int) or not 0 <= index < MAX_BINDINGS:
                raise LaunchArgumentError(
                    f"binding index {index!r} is not an int in 0..{MAX_BINDINGS - 1} "
                    "(Metal's [[buffer(i)]] / [[threadgroup(i)]] range)"
                )
        for index in set(buffers) & set(bytes_args):
            raise LaunchArgumentError(
                f"buffer({index}) is bound both as a tensor and as bytes; pass it in one of "
                "`buffers` or `bytes`"
            )
        for index, tensor in buffers.items():
            if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu":
                raise LaunchArgumentError(
                    f"buffers[{index}] must be a CPU torch.Tensor, got "
                    f"{getattr(tensor, 'device', type(tensor))}"
                )
        bytes_needed = self._bytes_needed.get(kernel, {})
        for p in info.parameters:
            where = f"kernel '{kernel}' parameter '{p.name}' ({p.type}) at {info.file}"
            if p.kind == "buffer":
                if p.index not in buffers and p.index not in bytes_args:
                    raise LaunchArgumentError(
                        f"{where} reads buffer({p.index}), but the launch binds no tensor or "
                        f"bytes at index {p.index}."
                    )
                needed = bytes_needed.get(p.name, 0)
                if p.index in bytes_args and len(bytes_args[p.index]) < needed:
                    raise LaunchArgumentError(
                        f"{where} needs {needed} bytes, but bytes[{p.index}] has "
                        f"{len(bytes_args[p.index])}: the host-side params struct does not "
                        "match the kernel's."
                    )
            elif p.kind == "threadgroup":
                length = threadgroup_memory.get(p.index, 0)
                if length <= 0:
                    raise LaunchArgumentError(
                        f"{where} uses [[threadgroup({p.index})]], but threadgroup_memory has no "
                        f"length for index {p.index} (setThreadgroupMemoryLength)."
                    )
                if length % 16:
                    raise LaunchArgumentError(
                        f"{where}: threadgroup_memory[{p.index}] = {length} bytes; Metal requires "
                        "a multiple of 16."
                    )

    def _run_isolated(self, request: LaunchRequest, order: str) -> LaunchResult:
        launch_in_subprocess(self.artifact.binary, request, order)
        return LaunchResult(request.kernel)

    def _run_here(self, request: LaunchRequest, order: str) -> LaunchResult:
        runtime = _load_runtime()
        desc = _LaunchDesc()
        name = request.kernel.encode()
        desc.kernel_name = name
        desc.entry = self._entries[request.kernel]
        keep_alive = []
        for index, tensor in request.buffers.items():
            desc.buffers[index] = tensor.data_ptr() if tensor.numel() else 0
            desc.buffer_sizes[index] = _extent_bytes(tensor)
        for index, data in request.bytes_args.items():
            # 16-byte aligned copy, as Metal's setBytes gives an aligned buffer.
            storage = torch.zeros(max(len(data), 16), dtype=torch.uint8)
            if data:
                storage[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            keep_alive.append(storage)
            desc.buffers[index] = storage.data_ptr()
            desc.buffer_sizes[index] = len(data)
        desc.threadgroup_lengths[:] = request.threadgroup_lengths()
        desc.grid[:] = request.grid
        desc.threadgroup[:] = request.threadgroup
        desc.dispatch_threadgroups = int(request.dispatch_threadgroups)
        desc.order = ORDERS[order]
        desc.seed = request.seed
        desc.num_workers = request.num_threads
        desc.poison_inactive = int(request.poison_inactive)
        desc.check_memory = int(request.check_memory)
        kind = runtime.metalsim_launch(ctypes.byref(desc))
        del keep_alive
        if kind:
            message = symbolize_message(desc.error.decode(errors="replace"), self.artifact.binary)
            raise ERROR_BY_KIND.get(kind, SimulatorError)(message)
        if not request.check_memory:
            return LaunchResult(request.kernel)
        unknown = 2**64 - 1

        def distinct(value: int) -> int | None:
            return None if value == unknown else value

        traffic = {
            index: BufferTraffic(
                read=desc.bytes_read[index],
                written=desc.bytes_written[index],
                distinct_read=distinct(desc.distinct_read[index]),
                distinct_written=distinct(desc.distinct_written[index]),
            )
            for index in (*request.buffers, *request.bytes_args)
            if desc.buffer_sizes[index]
        }
        return LaunchResult(
            request.kernel, traffic, _regions(request, desc), frozenset(request.bytes_args)
        )


def _regions(request: LaunchRequest, desc) -> dict[int, int]:
    """Binding index -> the lowest index bound to the same memory: bindings whose extents
    overlap are one buffer to the checker (runtime/check.cpp merges them the same way)."""
    spans = sorted(
        (tensor.data_ptr(), tensor.data_ptr() + desc.buffer_sizes[index], index)
        for index, tensor in request.buffers.items()
        if desc.buffer_sizes[index]
    )
    regions: dict[int, int] = {index: index for index in request.bytes_args}
    group: list[int] = []
    end = -1
    for lo, hi, index in spans:
        if group and lo < end:
            group.append(index)
            end = max(end, hi)
        else:
            group, end = [index], hi
        for member in group:
            regions[member] = min(group)
    return regions


def _extent_bytes(tensor: torch.Tensor) -> int:
    """Bytes from data_ptr() that the tensor's elements span (what a kernel may touch)."""
    if tensor.numel() == 0:
        return 0
    # PyTorch strides are never negative: the elements lie from data_ptr() upwards.
    last = sum(
        (size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride(), strict=True)
    )
    return (last + 1) * tensor.element_size()


_libraries: dict[tuple, tuple[Library, dict[str, int]]] = {}
_libraries_lock = threading.Lock()


def _mtimes(paths: Iterable[str]) -> dict[str, int]:
    result = {}
    for path in paths:
        try:
            result[path] = os.stat(path).st_mtime_ns
        except OSError:
            result[path] = -1
    return result


def compile_library(
    source_path,
    include_dirs=(),
    asan: bool = False,
    constants=None,
    warnings_as_errors: bool = True,
    defines=None,
) -> Library:
    """Compiles (or fetches from the cache) the .metal file at `source_path`.

    include_dirs: extra directories for #include "..." (the file's own directory is
    always searched). asan=True builds an AddressSanitizer executable: its launches run
    in a subprocess and report out-of-bounds accesses as OutOfBoundsError.
    constants: [[function_constant(i)]] index -> bool/int/float, as a pipeline's
    MTLFunctionConstantValues; constants not given are undefined
    (is_function_constant_defined() is false, the value is zero).
    warnings_as_errors: compile with -Werror (the default, as the project builds its
    Metal); False for third-party code built without it (warnings are then ignored,
    every MSL conformance check still applies).
    defines: preprocessor macros {name: value} defined before the source, as a pipeline's
    MTLCompileOptions.preprocessorMacros (ggml passes GGML_METAL_HAS_BF16 so).
    """
    values = normalize_constants(constants)
    macros = normalize_defines(defines)
    source = Path(source_path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"Metal source {source} does not exist")
    dirs = tuple(Path(d).resolve() for d in include_dirs)
    key = (str(source), tuple(str(d) for d in dirs), bool(asan), values, warnings_as_errors, macros)
    with _libraries_lock:
        cached = _libraries.get(key)
        if cached and _mtimes(cached[1]) == cached[1]:
            return cached[0]
        artifact = build_library(source, dirs, bool(asan), values, bool(warnings_as_errors), macros)
        library = Library(source, artifact, dirs, values, bool(warnings_as_errors), macros)
        _libraries[key] = (library, _mtimes(artifact.dependencies))
        return library


def run_isolated(source_path, kernel: str, include_dirs=(), **launch_arguments) -> None:
    """Compiles `source_path` with AddressSanitizer and runs one launch of `kernel` in a
    subprocess. Takes Library.launch's keyword arguments (buffers are written back in
    place); raises OutOfBoundsError with the ASan report on an out-of-bounds access and
    SimulatorError if the subprocess crashes."""
    compile_library(source_path, include_dirs, asan=True).launch(kernel, **launch_arguments)
