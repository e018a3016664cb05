"""A compiled simulator library: validates launches and runs them through the runtime."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from . import outputs as output_checks
from .build import Artifact, build_library, build_runtime
from .errors import ERROR_BY_KIND, LaunchArgumentError, SimulatorError
from .frontend import Kernel
from .orders import run_in_two_orders

MAX_BINDINGS = 31
ORDERS = {"forward": 0, "reverse": 1, "random": 2}
DISPATCHES = ("threads", "threadgroups")


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
    with _runtime_lock:
        if _runtime is None:
            path = build_runtime(asan=False) / "libmetalsim.so"
            runtime = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
            runtime.metalsim_launch.argtypes = [ctypes.POINTER(_LaunchDesc)]
            runtime.metalsim_launch.restype = ctypes.c_int
            _runtime = runtime
        return _runtime


def _triple(value: Iterable[int], name: str) -> tuple[int, int, int]:
    items = tuple(int(v) for v in value)
    if len(items) > 3 or not items or any(v < 0 or v >= 2**32 for v in items):
        raise LaunchArgumentError(f"{name} must be 1 to 3 non-negative sizes, got {value!r}")
    return (*items, *(1,) * (3 - len(items)))  # type: ignore[return-value]


def _format_indices(indices: list[int]) -> str:
    ranges, start = [], None
    for i, value in enumerate(indices):
        if start is None:
            start = value
        if i + 1 == len(indices) or indices[i + 1] != value + 1:
            ranges.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return "[" + ", ".join(ranges) + "]"


class Library:
    """Kernels of one .metal file. Use compile_library() to get one."""

    def __init__(self, source: Path, artifact: Artifact):
        self.source = source
        self.artifact = artifact
        self.kernels: dict[str, Kernel] = {k.host_name: k for k in artifact.kernels}
        self._entries: dict[str, tuple[int, list[_ParamInfo]]] = {}
        if not artifact.asan:
            _load_runtime()
            self._dll = ctypes.CDLL(str(artifact.binary), mode=os.RTLD_NOW | os.RTLD_LOCAL)
            count = ctypes.c_int.in_dll(self._dll, "metalsim_kernel_count").value
            table = (_KernelInfo * max(count, 1)).in_dll(self._dll, "metalsim_kernels")
            for info in table[:count]:
                params = (
                    ctypes.cast(info.params, ctypes.POINTER(_ParamInfo))[: info.num_params]
                    if info.num_params
                    else []
                )
                self._entries[info.host_name.decode()] = (info.entry, list(params))

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
    ) -> None:
        """Runs `kernel` once, like encoding one dispatch and waiting for it.

        buffers: buffer index -> CPU tensor bound at its data_ptr() (setBuffer).
        bytes: buffer index -> bytes copied for the launch (setBytes).
        threadgroup_memory: [[threadgroup(i)]] index -> length in bytes.
        grid: threads (dispatch="threads", dispatchThreads) or threadgroups
            (dispatch="threadgroups", dispatchThreadgroups).
        order: "forward", "reverse" or "random" (seeded) scheduling of threads.
        outputs: buffer indices poisoned before the launch and checked for unwritten
            elements after it (UnwrittenOutputError).
        inactive_lanes: "error" (InactiveLaneReadError) or "poison" (NaN / 0xFF bytes).
        check_orders: also run in a second order from the same inputs and require
            bit-identical buffers (OrderDependenceError).
        """
        info = self._kernel(kernel)
        bytes_args = dict(bytes or {})
        threadgroup_memory = dict(threadgroup_memory or {})
        if order not in ORDERS:
            raise LaunchArgumentError(f"order must be one of {list(ORDERS)}, got {order!r}")
        if dispatch not in DISPATCHES:
            raise LaunchArgumentError(
                f"dispatch must be 'threads' or 'threadgroups', got {dispatch!r}"
            )
        if inactive_lanes not in ("error", "poison"):
            raise LaunchArgumentError(
                f"inactive_lanes must be 'error' or 'poison', got {inactive_lanes!r}"
            )
        grid3 = _triple(grid, "grid")
        group3 = _triple(threadgroup, "threadgroup")
        per_group = group3[0] * group3[1] * group3[2]
        limit = info.max_total_threads_per_threadgroup
        if limit and per_group > limit:
            raise LaunchArgumentError(
                f"kernel '{kernel}' declares [[max_total_threads_per_threadgroup({limit})]] but "
                f"the launch uses a threadgroup of {per_group} threads {group3}."
            )
        self._check_bindings(info, buffers, bytes_args, threadgroup_memory)
        outputs = tuple(outputs)
        for index in outputs:
            if index not in buffers:
                raise LaunchArgumentError(
                    f"outputs lists buffer({index}), but buffers has no tensor at index {index}"
                )
            output_checks.poison(buffers[index])

        def run(run_order: str) -> None:
            if self.artifact.asan:
                from .isolated import launch_in_subprocess

                launch_in_subprocess(
                    self,
                    kernel,
                    buffers,
                    bytes_args,
                    threadgroup_memory,
                    grid3,
                    group3,
                    dispatch,
                    run_order,
                    seed,
                    inactive_lanes,
                )
            else:
                self._launch_here(
                    info,
                    buffers,
                    bytes_args,
                    threadgroup_memory,
                    grid3,
                    group3,
                    dispatch,
                    run_order,
                    seed,
                    inactive_lanes,
                    num_threads,
                )

        if check_orders:
            run_in_two_orders(kernel, buffers, order, run)
        else:
            run(order)
        for index in outputs:
            output_checks.check_written(buffers[index], kernel, index)

    def _check_bindings(self, info: Kernel, buffers, bytes_args, threadgroup_memory) -> None:
        kernel = info.host_name
        for index in (*buffers, *bytes_args, *threadgroup_memory):
            if not isinstance(index, int) or not 0 <= index < MAX_BINDINGS:
                raise LaunchArgumentError(f"binding index {index!r} is not in 0..30")
        for index in set(buffers) & set(bytes_args):
            raise LaunchArgumentError(f"buffer({index}) is bound both as a tensor and as bytes")
        for index, tensor in buffers.items():
            if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu":
                raise LaunchArgumentError(
                    f"buffers[{index}] must be a CPU torch.Tensor, got "
                    f"{getattr(tensor, 'device', type(tensor))}"
                )
        native = {p.name.decode(): p for p in self._entries.get(kernel, (0, []))[1]}
        for p in info.parameters:
            where = f"kernel '{kernel}' parameter '{p.name}' ({p.type}) at {info.file}"
            if p.kind == "buffer":
                if p.index not in buffers and p.index not in bytes_args:
                    raise LaunchArgumentError(
                        f"{where} reads buffer({p.index}), but the launch binds no tensor or "
                        f"bytes at index {p.index}."
                    )
                table = native.get(p.name)
                needed = table.pointee_size if table and table.is_reference else 0
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

    def _launch_here(
        self,
        info,
        buffers,
        bytes_args,
        threadgroup_memory,
        grid3,
        group3,
        dispatch,
        order,
        seed,
        inactive_lanes,
        num_threads,
    ) -> None:
        runtime = _load_runtime()
        entry, _ = self._entries[info.host_name]
        desc = _LaunchDesc()
        name = info.host_name.encode()
        desc.kernel_name = name
        desc.entry = entry
        keep_alive = []
        for index, tensor in buffers.items():
            desc.buffers[index] = tensor.data_ptr() if tensor.numel() else 0
        for index, data in bytes_args.items():
            # 16-byte aligned copy, as Metal's setBytes gives an aligned buffer.
            storage = torch.zeros(max(len(data), 16), dtype=torch.uint8)
            if data:
                storage[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            keep_alive.append(storage)
            desc.buffers[index] = storage.data_ptr()
        for index, length in threadgroup_memory.items():
            desc.threadgroup_lengths[index] = length
        desc.grid[:] = grid3
        desc.threadgroup[:] = group3
        desc.dispatch_threadgroups = 1 if dispatch == "threadgroups" else 0
        desc.order = ORDERS[order]
        desc.seed = seed & (2**64 - 1)
        desc.num_workers = num_threads or 0
        desc.poison_inactive = 1 if inactive_lanes == "poison" else 0
        kind = runtime.metalsim_launch(ctypes.byref(desc))
        del keep_alive
        if kind:
            raise ERROR_BY_KIND.get(kind, SimulatorError)(desc.error.decode(errors="replace"))


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


def compile_library(source_path, include_dirs=(), asan: bool = False) -> Library:
    """Compiles (or fetches from the cache) the .metal file at `source_path`.

    include_dirs: extra directories for #include "..." (the file's own directory is
    always searched). asan=True builds an AddressSanitizer executable: its launches run
    in a subprocess and report out-of-bounds accesses as OutOfBoundsError.
    """
    source = Path(source_path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"Metal source {source} does not exist")
    dirs = tuple(Path(d).resolve() for d in include_dirs)
    key = (str(source), tuple(str(d) for d in dirs), bool(asan))
    with _libraries_lock:
        cached = _libraries.get(key)
        if cached and _mtimes(cached[1]) == cached[1]:
            return cached[0]
        artifact = build_library(source, dirs, bool(asan))
        library = Library(source, artifact)
        _libraries[key] = (library, _mtimes(artifact.dependencies))
        return library
