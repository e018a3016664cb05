"""Order-dependence check: the same launch in two scheduling orders must give
bit-identical buffers; a difference means a missing barrier or a race."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import torch

from .errors import OrderDependenceError

T = TypeVar("T")
_BITS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    flat = tensor.reshape(-1)
    return (
        flat.view(torch.uint8)
        if tensor.dtype == torch.bool
        else flat.view(_BITS[tensor.element_size()])
    )


def _difference(index: int, first: torch.Tensor, second: torch.Tensor) -> str | None:
    if first.numel() == 0:
        return None
    differs = torch.nonzero(_bits(first) != _bits(second)).reshape(-1)
    if differs.numel() == 0:
        return None
    i = int(differs[0])
    return (
        f"buffer({index}): {differs.numel()} of {first.numel()} elements differ, first at "
        f"flat index {i}: {first.reshape(-1)[i].item()!r} vs {second.reshape(-1)[i].item()!r}"
    )


def run_in_two_orders(
    kernel: str, buffers: Mapping[int, torch.Tensor], order: str, run: Callable[[str], T]
) -> T:
    """Runs `run(order)` and `run(other order)` from the same buffer contents; returns
    the first run's result."""
    before = {index: tensor.clone() for index, tensor in buffers.items()}
    result = run(order)
    first = {index: tensor.clone() for index, tensor in buffers.items()}
    for index, tensor in buffers.items():
        tensor.copy_(before[index])
    other = "reverse" if order != "reverse" else "forward"
    run(other)
    differences = [
        d for index, tensor in buffers.items() if (d := _difference(index, first[index], tensor))
    ]
    if differences:
        raise OrderDependenceError(
            f"kernel '{kernel}' gives different results when its threads run in {order} and "
            f"{other} order: " + "; ".join(differences) + ". A thread reads memory that another "
            "thread writes without a threadgroup_barrier between them, or threads race on "
            "device memory."
        )
    return result
