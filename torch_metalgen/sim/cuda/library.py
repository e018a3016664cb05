"""Compile a .metal file for CUDA (front end, translation, NVRTC; cached) and launch its
kernels on CUDA tensors with Metal's dispatch semantics.

A dispatch becomes one or more CUDA launches on PyTorch's current stream. dispatchThreads
with a grid that is not a multiple of the threadgroup launches its partial edge
threadgroups separately with their own (smaller) block size, so threads_per_threadgroup,
thread indices and SIMD-groups in an edge threadgroup are what Metal gives it; a grid over
CUDA's per-dimension limits is split the same way. Threadgroups of one Metal dispatch never
synchronize with each other, so the split changes nothing a correct kernel can observe.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import cache as sim_cache
from .. import outputs as output_checks
from ..build import constants_header, normalize_constants
from ..errors import (
    InactiveLaneReadError,
    LaunchArgumentError,
    MetalCompileError,
    NonUniformArgumentError,
    ResourceLimitError,
    SimulatorError,
)
from ..frontend import Kernel
from ..request import DISPATCHES, MAX_BINDINGS, check_choice, triple
from . import driver, nvrtc
from .frontend import FrontEnd, cuda_cache_root, front_end
from .translate import PARAM_KINDS, Entry, translate_program

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
# Apple GPU limits (csrc/launch_plan.h has the same numbers for the plans).
MAX_THREADS_PER_THREADGROUP = 1024
MAX_THREADGROUP_MEMORY = 32 * 1024
MAX_SET_BYTES = 4096
# CUDA's grid limits per dimension.
_CUDA_GRID_LIMIT = (2**31 - 1, 65535, 65535)
# launch_args (sim/cuda/include/kernel.h): buffers, bytes offsets, threadgroup offsets,
# geometry (16 uint32), then the setBytes area.
_HEADER = struct.Struct(f"<{MAX_BINDINGS}Q{MAX_BINDINGS}I{MAX_BINDINGS}I16I")
_NOT_BYTES = 0xFFFFFFFF
PARTIAL_SIMD = ("error", "allow")


class SimdCollectiveError(SimulatorError):
    """A SIMD-group function or simdgroup matrix ran with fewer lanes than its SIMD-group
    has: on CUDA the active set (__activemask) is not guaranteed to be Metal's, so the
    result is refused (``partial_simd="allow"`` accepts it)."""


def nvrtc_options(arch: str, include_dirs: list[Path]) -> list[str]:
    """NVRTC flags: every function a device function (Metal has no host code), IEEE
    float32 (no FMA contraction, like the simulator and the project's -fno-fast-math Metal
    build), line info for compute-sanitizer reports at .metal lines."""
    return [
        f"--gpu-architecture={arch}",
        "--std=c++17",
        "--device-as-default-execution-space",
        "--fmad=false",
        "--generate-line-info",
        "--diag-suppress=177,550,20208",  # unused variable/function, bit_cast of long double
        f"--include-path={INCLUDE_DIR}",
        *(f"--include-path={d}" for d in include_dirs),
    ]


def _headers_digest() -> str:
    files = sorted(p for p in INCLUDE_DIR.iterdir() if p.is_file())
    parts = [(p.name, sim_cache.file_digest(p)) for p in files]
    for module in ("translate.py", "library.py"):
        path = Path(__file__).resolve().parent / module
        parts.append((module, sim_cache.file_digest(path)))
    return sim_cache.digest(parts)


@dataclass(frozen=True)
class Program:
    """A compiled .metal file: its cubin and the generated entry of each kernel."""

    front: FrontEnd
    cubin: bytes
    entries: tuple[Entry, ...]
    arch: str
    log: str
    key: str  # content key of the cache entry


def _shadow_path(root: Path, path: Path) -> Path:
    return root / path.relative_to(path.anchor)


def build_program(
    source: str | Path,
    include_dirs: tuple[Path, ...] = (),
    constants=None,
    arch: str | None = None,
    warnings_as_errors: bool = True,
) -> Program:
    """Front end, translation and NVRTC for ``source`` (cached by content). ``arch``
    ("sm_90") defaults to the current CUDA device's; give it to compile without a GPU."""
    values = constants if isinstance(constants, tuple) else normalize_constants(constants)
    front = front_end(source, include_dirs, values, warnings_as_errors)
    if arch is None:
        major, minor = torch.cuda.get_device_capability()
        arch = f"sm_{major}{minor}"
    translated, main_text, entries = translate_program(
        list(front.dependencies), front.source, front.kernels, constants_header(values)
    )
    key = sim_cache.digest(
        "cuda-program",
        _headers_digest(),
        nvrtc.find_nvrtc().identity,
        arch,
        main_text,
        sorted((str(p), t) for p, t in translated.items()),
    )
    root = cuda_cache_root() / "programs" / key
    cubin_path, manifest = root / "kernels.cubin", root / "log.json"
    if cubin_path.exists() and manifest.exists():
        log = json.loads(manifest.read_text())["log"]
        return Program(front, cubin_path.read_bytes(), tuple(entries), arch, log, key)
    root.mkdir(parents=True, exist_ok=True)
    shadow = root / "shadow"
    for path, text in translated.items():
        target = _shadow_path(shadow, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    directories = [front.source.parent, *(Path(d).resolve() for d in include_dirs)]
    include_paths = [_shadow_path(shadow, d) for d in directories]
    for directory in include_paths:
        directory.mkdir(parents=True, exist_ok=True)
    (root / "main.cu").write_text(main_text)
    try:
        # Named inside the shadow tree: quoted includes resolve next to it, to the
        # translated headers, not to the originals beside the .metal file.
        cubin, log = nvrtc.compile_to_cubin(
            main_text,
            str(_shadow_path(shadow, front.source)) + ".cu",
            nvrtc_options(arch, include_paths),
        )
    except nvrtc.CompileFailed as failure:
        raise MetalCompileError(
            f"{front.source}: the CUDA translation does not compile with NVRTC (a construct "
            f"the CUDA back end does not map, or a bug in it; the translated program is "
            f"{root / 'main.cu'}):\n{failure.log.strip()}"
        ) from None
    temporary = root / f".kernels.cubin.{os.getpid()}"
    temporary.write_bytes(cubin)
    temporary.replace(cubin_path)
    sim_cache.write_atomic(manifest, json.dumps({"log": log}))
    return Program(front, cubin, tuple(entries), arch, log, key)


@dataclass
class _KernelInfo:
    entry: Entry
    function: int
    bytes_capacity: int
    parameters: list[tuple[int, int, int, int, int]]  # kind, index, pointee size, ref, bytes ok
    max_threads: int
    static_shared: int


@dataclass(frozen=True)
class LaunchStatus:
    """What the kernel recorded in a launch (sim/cuda/include/simd.h, status_t)."""

    partial_collectives: int = 0
    inactive_reads: int = 0
    nonuniform: int = 0
    partial_matrix: int = 0
    detail: str = ""


_FUNCTION_NAMES = (
    "simd_sum simd_product simd_min simd_max simd_and simd_or simd_xor quad_sum quad_product "
    "quad_min quad_max quad_and quad_or quad_xor simd_prefix_inclusive_sum "
    "simd_prefix_exclusive_sum simd_prefix_inclusive_product simd_prefix_exclusive_product "
    "simd_shuffle simd_shuffle_up simd_shuffle_down simd_shuffle_xor simd_shuffle_rotate_up "
    "simd_shuffle_rotate_down simd_broadcast simd_broadcast_first quad_shuffle quad_shuffle_up "
    "quad_shuffle_down quad_shuffle_xor quad_broadcast simd_shuffle_and_fill_up "
    "simd_shuffle_and_fill_down simd_ballot simd_all simd_any simd_is_first "
    "simd_active_threads_mask simdgroup_barrier simdgroup_matrix"
).split()
_STATUS = struct.Struct("<8I9IIQ")  # count[8], first_* (9 uint32 + pad), first_file


def _lanes(mask: int) -> str:
    lanes = [i for i in range(32) if mask >> i & 1]
    if not lanes:
        return "none"
    runs, start = [], lanes[0]
    for a, b in itertools.pairwise([*lanes, None]):
        if b != a + 1:
            runs.append(f"{start}-{a}" if a != start else str(a))
            start = b
    return "[" + ", ".join(runs) + "]"


class CudaLibrary:
    """The kernels of one .metal file, loaded in the current CUDA context."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.source = program.front.source
        self.module = driver.Module(program.cubin)
        self.status_address, self.status_size = self.module.global_address("metalcuda_status")
        self._kernels: dict[str, _KernelInfo] = {}
        for entry in program.entries:
            words = self.module.read_global(entry.info_symbol)
            values = struct.unpack(f"<{len(words) // 4}I", words)
            count = values[1]
            parameters = [tuple(values[2 + 5 * i : 7 + 5 * i]) for i in range(count)]
            function = self.module.function(entry.symbol)
            self._kernels[entry.kernel.host_name] = _KernelInfo(
                entry,
                function,
                values[0],
                parameters,  # type: ignore[arg-type]
                driver.function_attribute(function, driver.MAX_THREADS_PER_BLOCK),
                driver.function_attribute(function, driver.SHARED_SIZE_BYTES),
            )

    @property
    def kernels(self) -> list[str]:
        return list(self._kernels)

    def kernel(self, name: str) -> Kernel:
        return self._info(name).entry.kernel

    def attributes(self, name: str) -> dict[str, int]:
        """Registers, local (spill) memory and static shared memory of a kernel's entry."""
        function = self._info(name).function
        return {
            "registers": driver.function_attribute(function, driver.NUM_REGS),
            "local_bytes": driver.function_attribute(function, driver.LOCAL_SIZE_BYTES),
            "shared_bytes": driver.function_attribute(function, driver.SHARED_SIZE_BYTES),
            "max_threads": driver.function_attribute(function, driver.MAX_THREADS_PER_BLOCK),
        }

    def _info(self, name: str) -> _KernelInfo:
        info = self._kernels.get(name)
        if info is None:
            raise LaunchArgumentError(
                f"{self.source.name} has no kernel '{name}'; it has {sorted(self._kernels)}"
            )
        return info

    def launch(
        self,
        kernel: str,
        *,
        buffers: dict[int, torch.Tensor] | None = None,
        bytes: dict[int, bytes] | None = None,  # noqa: A002 - Metal's setBytes
        threadgroup_memory: dict[int, int] | None = None,
        grid=(1, 1, 1),
        threadgroup=(1, 1, 1),
        dispatch: str = "threads",
        outputs=(),
        check: bool = True,
        partial_simd: str = "error",
    ) -> LaunchStatus | None:
        """One Metal dispatch on PyTorch's current CUDA stream (as sim.Library.launch:
        buffers = setBuffer, bytes = setBytes, threadgroup_memory =
        setThreadgroupMemoryLength, dispatch "threads" or "threadgroups").

        outputs: buffer indices poisoned before and checked after (UnwrittenOutputError).
        check: synchronize after the launch and raise what the kernel recorded (partial
        SIMD-group calls, reads of inactive lanes, non-uniform shuffle arguments); the
        LaunchStatus is returned. False: nothing waits (benchmarks, graph capture).
        partial_simd: "error" refuses a SIMD-group call with lanes missing, "allow" accepts
        CUDA's __activemask() as its active set.
        """
        info = self._info(kernel)
        buffers = dict(buffers or {})
        bytes_args = dict(bytes or {})
        threadgroup_memory = dict(threadgroup_memory or {})
        check_choice("dispatch", dispatch, DISPATCHES)
        check_choice("partial_simd", partial_simd, PARTIAL_SIMD)
        grid3, group3 = triple(grid, "grid"), triple(threadgroup, "threadgroup")
        per_group = group3[0] * group3[1] * group3[2]
        front = info.entry.kernel
        limit = min(
            front.max_total_threads_per_threadgroup or MAX_THREADS_PER_THREADGROUP,
            info.max_threads,
        )
        if per_group == 0 or per_group > limit:
            raise LaunchArgumentError(
                f"kernel '{kernel}' takes 1 to {limit} threads per threadgroup, but the launch "
                f"uses {per_group} {group3}"
            )
        (addresses, bytes_offsets), payload = self._pack(
            info, buffers, bytes_args, threadgroup_memory
        )
        dynamic, threadgroup_offsets = self._threadgroup_layout(info, threadgroup_memory)
        if info.static_shared + dynamic > MAX_THREADGROUP_MEMORY:
            raise ResourceLimitError(
                f"kernel '{kernel}' uses {info.static_shared} bytes of threadgroup memory "
                f"declared in the kernel and {dynamic} bytes of [[threadgroup(i)]] arguments: "
                f"over Metal's {MAX_THREADGROUP_MEMORY} bytes per threadgroup"
            )
        for index in outputs:
            if index not in buffers:
                raise LaunchArgumentError(
                    f"outputs lists buffer({index}), but buffers has no tensor at index {index}"
                )
            output_checks.poison(buffers[index])
        if 0 in grid3:
            return LaunchStatus() if check else None
        stream = torch.cuda.current_stream().cuda_stream
        capturing = torch.cuda.is_current_stream_capturing()
        check = check and not capturing
        if check:
            driver.memset_async(self.status_address, self.status_size, stream)
        threads = dispatch == "threads"
        groups_per_grid = [-(-grid3[d] // group3[d]) if threads else grid3[d] for d in range(3)]
        threads_per_grid = [grid3[d] if threads else grid3[d] * group3[d] for d in range(3)]
        for origin, groups, block in _segments(grid3, group3, not threads):
            geometry = [*origin, *groups_per_grid, *threads_per_grid, *group3, 0, 0, 0, 0]
            packed = (
                _HEADER.pack(*addresses, *bytes_offsets, *threadgroup_offsets, *geometry) + payload
            )
            driver.launch(info.function, groups, block, dynamic, stream, packed, kernel)
        for index in outputs:
            _check_written(buffers[index], kernel, index)
        if not check:
            return None
        torch.cuda.current_stream().synchronize()
        status = self._read_status()
        self._raise_for(kernel, status, partial_simd)
        return status

    def _pack(self, info, buffers, bytes_args, threadgroup_memory):
        kernel = info.entry.kernel
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
        device = torch.device("cuda", torch.cuda.current_device())
        addresses = [0] * MAX_BINDINGS
        for index, tensor in buffers.items():
            if not isinstance(tensor, torch.Tensor) or tensor.device != device:
                raise LaunchArgumentError(
                    f"buffers[{index}] must be a torch.Tensor on {device} (the current CUDA "
                    f"device), got {getattr(tensor, 'device', type(tensor))}"
                )
            addresses[index] = tensor.data_ptr()
        offsets = [_NOT_BYTES] * MAX_BINDINGS
        payload = bytearray()
        for index, data in sorted(bytes_args.items()):
            if len(data) > MAX_SET_BYTES:
                raise LaunchArgumentError(
                    f"bytes[{index}] has {len(data)} bytes; Metal's setBytes takes at most "
                    f"{MAX_SET_BYTES} (use a buffer)"
                )
            offsets[index] = len(payload)
            payload += data + b"\0" * (16 - len(data) % 16 if len(data) % 16 or not data else 0)
        for position, (kind, index, size, is_ref, takes_bytes) in enumerate(info.parameters):
            if kind != PARAM_KINDS["buffer"]:
                continue
            p = kernel.parameters[position]
            where = f"kernel '{kernel.host_name}' parameter '{p.name}' ({p.type})"
            if index in bytes_args:
                if not takes_bytes:
                    raise LaunchArgumentError(
                        f"{where} is in the device address space; the CUDA back end binds "
                        f"setBytes data (bytes[{index}]) to constant-space parameters only"
                    )
                if is_ref and len(bytes_args[index]) < size:
                    raise LaunchArgumentError(
                        f"{where} needs {size} bytes, but bytes[{index}] has "
                        f"{len(bytes_args[index])}: the host-side params struct does not "
                        "match the kernel's."
                    )
            elif index in buffers:
                tensor = buffers[index]
                extent = _extent_bytes(tensor)
                if is_ref and extent < size:
                    raise LaunchArgumentError(
                        f"{where} needs {size} bytes, but buffers[{index}] spans {extent}"
                    )
            else:
                raise LaunchArgumentError(
                    f"{where} reads buffer({index}), but the launch binds no tensor or bytes at "
                    f"index {index}."
                )
        if len(payload) + 16 > info.bytes_capacity:
            raise LaunchArgumentError(
                f"kernel '{kernel.host_name}': {len(payload)} bytes of setBytes data do not fit "
                f"the {info.bytes_capacity - 16} its constant parameters can hold"
            )
        payload += b"\0" * (info.bytes_capacity - len(payload))
        return (addresses, offsets), bytes(payload)

    def _threadgroup_layout(self, info, threadgroup_memory) -> tuple[int, list[int]]:
        kernel = info.entry.kernel
        offsets = [0] * MAX_BINDINGS
        total = 0
        for position, (kind, index, _, _, _) in enumerate(info.parameters):
            if kind != PARAM_KINDS["threadgroup"]:
                continue
            p = kernel.parameters[position]
            length = int(threadgroup_memory.get(index, 0))
            if length <= 0 or length % 16:
                raise LaunchArgumentError(
                    f"kernel '{kernel.host_name}' parameter '{p.name}' uses "
                    f"[[threadgroup({index})]], which needs threadgroup_memory[{index}] > 0 "
                    "bytes, a multiple of 16 "
                    f"(setThreadgroupMemoryLength); got {length}"
                )
            offsets[index] = total
            total += length
        return total, offsets

    def _read_status(self) -> LaunchStatus:
        raw = driver.read_device(self.status_address, self.status_size)
        values = _STATUS.unpack_from(raw)
        counts = values[:8]
        if not any(counts):
            return LaunchStatus()
        taken, kind, line, mask, lanes, function, bx, by, bz, thread = values[8:18]
        file_address = values[18]
        file = _device_string(file_address)
        name = _FUNCTION_NAMES[function] if function < len(_FUNCTION_NAMES) else "?"
        what = {
            1: f"ran with lanes {_lanes(mask)} active of the SIMD-group's {_lanes(lanes)}",
            2: f"read a lane that was not active (active lanes {_lanes(mask)})",
            3: f"got a delta/mask/lane argument that differs between the lanes {_lanes(mask)}",
            4: f"ran with lanes {_lanes(mask)} active, but simdgroup matrices need all 32",
        }.get(kind, "?")
        detail = (
            f"{name} at {file}:{line} {what} (first seen in thread {thread} of threadgroup "
            f"({bx}, {by}, {bz}) of this launch)"
        )
        return LaunchStatus(counts[1], counts[2], counts[3], counts[4], detail)

    @staticmethod
    def _raise_for(kernel: str, status: LaunchStatus, partial_simd: str) -> None:
        if status.inactive_reads:
            raise InactiveLaneReadError(
                f"kernel '{kernel}': {status.inactive_reads} SIMD-group reads of an inactive "
                f"lane: {status.detail}; the value would be undefined on the GPU"
            )
        if status.nonuniform:
            raise NonUniformArgumentError(
                f"kernel '{kernel}': {status.nonuniform} SIMD-group calls with an argument "
                f"that must be uniform and was not: {status.detail}"
            )
        if status.partial_matrix:
            raise SimdCollectiveError(f"kernel '{kernel}': {status.detail}")
        if status.partial_collectives and partial_simd == "error":
            raise SimdCollectiveError(
                f"kernel '{kernel}': {status.partial_collectives} SIMD-group calls ran with "
                f"lanes missing, e.g. {status.detail}. CUDA's __activemask() is not guaranteed "
                "to be the active set Metal would use there, so the CUDA back end refuses the "
                "result (partial_simd='allow' accepts it; the CPU simulator knows Metal's set)."
            )


def _extent_bytes(tensor: torch.Tensor) -> int:
    if tensor.numel() == 0:
        return 0
    last = sum(
        (size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride(), strict=True)
    )
    return (last + 1) * tensor.element_size()


def _check_written(tensor: torch.Tensor, kernel: str, index: int) -> None:
    """Unwritten elements (still the poison): counted on the GPU, described on the CPU."""
    if not tensor.numel():
        return
    pattern = output_checks._pattern(tensor)
    if bool((output_checks._bits(tensor) == pattern).any()):
        output_checks.check_written(tensor.cpu(), kernel, index)


def _segments(grid, group, dispatch_threadgroups: bool):
    """(origin in threadgroups, CUDA grid, CUDA block) of each launch of one dispatch."""
    per_dim = []
    for d in range(3):
        if dispatch_threadgroups:
            parts = [(0, grid[d], group[d])]
        else:
            full, rest = divmod(grid[d], group[d])
            parts = ([(0, full, group[d])] if full else []) + ([(full, 1, rest)] if rest else [])
        chunks = []
        for start, count, block in parts:  # CUDA's per-dimension grid limit
            for offset in range(0, count, _CUDA_GRID_LIMIT[d]):
                chunks.append((start + offset, min(_CUDA_GRID_LIMIT[d], count - offset), block))
        per_dim.append(chunks)
    for x, y, z in itertools.product(*per_dim):
        yield (x[0], y[0], z[0]), (x[1], y[1], z[1]), (x[2], y[2], z[2])


_libraries: dict[tuple, tuple[CudaLibrary, dict[str, int]]] = {}
_lock = threading.Lock()


def _mtimes(paths) -> dict[str, int]:
    result = {}
    for path in paths:
        try:
            result[str(path)] = os.stat(path).st_mtime_ns
        except OSError:
            result[str(path)] = -1
    return result


def compile_library(
    source_path,
    include_dirs=(),
    constants=None,
    warnings_as_errors: bool = True,
) -> CudaLibrary:
    """The CUDA build of the .metal file at ``source_path``, loaded in the current CUDA
    context. Kept in memory per context until the file or one of its includes changes
    (a launch costs a few stat calls, not a translation); built once per content on disk."""
    source = Path(source_path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"Metal source {source} does not exist")
    dirs = tuple(Path(d).resolve() for d in include_dirs)
    values = normalize_constants(constants)
    context = driver.current_context()
    key = (context, str(source), tuple(map(str, dirs)), values, bool(warnings_as_errors))
    with _lock:
        cached = _libraries.get(key)
        if cached and _mtimes(cached[1]) == cached[1]:
            return cached[0]
        program = build_program(source, dirs, values, warnings_as_errors=warnings_as_errors)
        library = CudaLibrary(program)
        _libraries[key] = (library, _mtimes(program.front.dependencies))
        return library


def _device_string(address: int, limit: int = 512) -> str:
    """The NUL-terminated string at a device address (a kernel's __FILE__): one read, or byte
    by byte where the string lies near the end of the module's data (a 512-byte read past
    it fails, and the H100 tier saw only "?" for the file)."""
    try:
        return driver.read_device(address, limit).split(b"\0", 1)[0].decode()
    except (SimulatorError, UnicodeDecodeError):
        pass
    name = bytearray()
    try:
        while len(name) < limit:
            byte = driver.read_device(address + len(name), 1)
            if byte == b"\0":
                break
            name += byte
        return name.decode()
    except (SimulatorError, UnicodeDecodeError):
        return name.decode(errors="replace") or "?"
