"""What a launch did to memory: bytes read and written per buffer binding, counted by
the in-process build's memory checks (runtime/check.cpp), and a recorder that collects
the results of every launch in a block (for `verify` and benchmarks).

    with sim.record_launches() as launches:
        run_plan(plan)
    for result in launches:
        print(result.kernel, result.traffic[0].distinct_read)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BufferTraffic:
    """Bytes moved through one binding during one launch.

    read / written: every load / store counted (a byte read twice counts twice).
    distinct_read / distinct_written: bytes touched at least once (None when the bound
    buffers were over the checker's 64 MiB shadow limit). A single-pass kernel has
    read == distinct_read == the input's size. Bindings of one tensor (or overlapping
    views) share their numbers. Accesses the compiler turns into memcpy (copies of
    structs over 16 bytes) and simdgroup_load/store are not counted.
    """

    read: int
    written: int
    distinct_read: int | None
    distinct_written: int | None


@dataclass(frozen=True)
class LaunchResult:
    """One launch: the kernel's host name and the traffic per buffer index (empty when
    the launch ran without memory checks, e.g. the AddressSanitizer build).

    regions: binding index -> the lowest index bound to the same memory (one tensor bound
    twice, overlapping views): such bindings share one BufferTraffic, counted once by
    bytes_read() and bytes_written()."""

    kernel: str
    traffic: Mapping[int, BufferTraffic] = field(default_factory=dict)
    regions: Mapping[int, int] = field(default_factory=dict)
    set_bytes: frozenset[int] = frozenset()  # indices bound with setBytes (parameters)

    def buffers(self, tensors_only: bool = False) -> dict[int, BufferTraffic]:
        """The traffic of each distinct buffer, by its lowest binding index (tensors_only:
        without the setBytes parameters)."""
        return {
            index: traffic
            for index, traffic in self.traffic.items()
            if self.regions.get(index, index) == index
            and not (tensors_only and index in self.set_bytes)
        }

    def bytes_read(self) -> int:
        return sum(t.read for t in self.buffers().values())

    def bytes_written(self) -> int:
        return sum(t.written for t in self.buffers().values())


_recorders = threading.local()


@contextlib.contextmanager
def record_launches() -> Iterator[list[LaunchResult]]:
    """Collects the LaunchResult of every launch this thread runs inside the block
    (run_plan, simulate(), Library.launch; with check_orders, the first order's)."""
    stack = getattr(_recorders, "stack", None)
    if stack is None:
        stack = _recorders.stack = []
    results: list[LaunchResult] = []
    stack.append(results)
    try:
        yield results
    finally:
        stack.remove(results)


def record(result: LaunchResult) -> None:
    """Called by the launcher for every finished launch."""
    for results in getattr(_recorders, "stack", ()):
        results.append(result)


def bytes_moved(launches: list[LaunchResult]) -> int:
    """Bytes read plus bytes written by the launches in bound tensors (setBytes parameters,
    which every thread may read, are left out)."""
    return sum(
        t.read + t.written
        for launch in launches
        for t in launch.buffers(tensors_only=True).values()
    )


def tensor_bytes(tensors) -> int:
    """Compulsory bytes of these tensors: each element once (a broadcast view counts its
    storage, an expanded dimension once)."""
    total = 0
    for tensor in tensors:
        if tensor is None or not hasattr(tensor, "element_size"):
            continue
        elements = 1
        for size, stride in zip(tensor.shape, tensor.stride(), strict=True):
            elements *= size if stride != 0 else 1
        total += elements * tensor.element_size()
    return total
