"""Poisoning of output buffers and the check that every element was written.

The poison is a signalling NaN with a payload for floating types (arithmetic never
produces it: any operation on it gives a quiet NaN) and 0xA5 bytes for integers, so a
kernel that writes a computed NaN still counts as having written."""

from __future__ import annotations

import torch

from .errors import UnwrittenOutputError

_SAME_SIZE_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_POISON = {
    torch.float32: 0x7FA5A5A5,
    torch.float16: 0x7DA5,
    torch.bfloat16: 0x7FA5,
    torch.float64: 0x7FF4A5A5A5A5A5A5,
}


def _pattern(tensor: torch.Tensor) -> int:
    if tensor.dtype in _POISON:
        return _POISON[tensor.dtype]
    size = tensor.element_size()
    value = int.from_bytes(b"\xa5" * size, "little", signed=size > 1)
    return value


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dtype == torch.bool:
        return tensor.view(torch.uint8)
    return tensor.view(_SAME_SIZE_INT[tensor.element_size()])


def poison(tensor: torch.Tensor) -> None:
    if tensor.numel():
        _bits(tensor).fill_(_pattern(tensor))


def check_written(tensor: torch.Tensor, kernel: str, index: int) -> None:
    if not tensor.numel():
        return
    unwritten = (_bits(tensor) == _pattern(tensor)).reshape(-1)
    count = int(unwritten.sum())
    if not count:
        return
    # Runs of unwritten indices, from the starts and ends of the mask's 1-runs.
    padded = torch.cat(
        [
            torch.zeros(1, dtype=torch.int8),
            unwritten.to(torch.int8),
            torch.zeros(1, dtype=torch.int8),
        ]
    )
    edges = torch.diff(padded)
    starts = torch.nonzero(edges == 1).reshape(-1)[:9].tolist()
    ends = (torch.nonzero(edges == -1).reshape(-1)[:9] - 1).tolist()
    ranges = [str(a) if a == b else f"{a}-{b}" for a, b in zip(starts, ends, strict=True)]
    shown = ", ".join(ranges[:8]) + (", ..." if len(ranges) > 8 else "")
    raise UnwrittenOutputError(
        f"kernel '{kernel}' left {count} of {tensor.numel()} elements of output buffer({index}) "
        f"(shape {tuple(tensor.shape)}, {tensor.dtype}) unwritten: flat indices [{shown}] still "
        "hold the poison written before the launch. Check the grid covers every element "
        "(tails, odd sizes) and that no thread returns before storing."
    )
