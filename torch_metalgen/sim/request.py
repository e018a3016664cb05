"""One validated launch, in the form both back ends take: the in-process runtime
(library.py, through ctypes) and the AddressSanitizer subprocess (isolated.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from .errors import LaunchArgumentError

MAX_BINDINGS = 31  # METALSIM_MAX_BINDINGS (include/metalsim/rt.h)
# Scheduling orders, encoded as metalsim_launch_desc.order expects them.
ORDERS = {"forward": 0, "reverse": 1, "random": 2}
DISPATCHES = ("threads", "threadgroups")
INACTIVE_LANES = ("error", "poison")


@dataclass(frozen=True)
class LaunchRequest:
    kernel: str
    buffers: Mapping[int, torch.Tensor]  # setBuffer: bound at data_ptr()
    bytes_args: Mapping[int, bytes]  # setBytes: copied for the launch
    threadgroup_memory: Mapping[int, int]  # [[threadgroup(i)]] lengths in bytes
    grid: tuple[int, int, int]
    threadgroup: tuple[int, int, int]
    dispatch_threadgroups: bool
    seed: int  # already reduced to 64 bits
    poison_inactive: bool
    num_threads: int  # OS threads; 0: METALGEN_SIM_THREADS or all CPUs
    check_memory: bool = True  # bounds, races, uninitialized reads, traffic (in-process)

    def threadgroup_lengths(self) -> list[int]:
        """The [[threadgroup(i)]] lengths as the runtime's fixed-size table."""
        lengths = [0] * MAX_BINDINGS
        for index, length in self.threadgroup_memory.items():
            lengths[index] = length
        return lengths


def triple(value: Iterable[int], name: str) -> tuple[int, int, int]:
    """A grid or threadgroup size padded to three dimensions."""
    items = tuple(int(v) for v in value)
    if len(items) > 3 or not items or any(v < 0 or v >= 2**32 for v in items):
        raise LaunchArgumentError(
            f"{name} must be 1 to 3 sizes, each in 0..2**32-1 (e.g. (n,) or (x, y, z)), "
            f"got {value!r}"
        )
    return (*items, *(1,) * (3 - len(items)))  # type: ignore[return-value]


def check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    choices = list(choices)
    if value not in choices:
        raise LaunchArgumentError(f"{name} must be one of {choices}, got {value!r}")
