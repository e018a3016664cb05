"""Argument checks the Python side needs (the C++ plans check everything else)."""

from __future__ import annotations

import torch


def check_same_device(op: str, reference: str, **tensors: torch.Tensor | None) -> None:
    """Every tensor must be on the device of ``tensors[reference]``.

    The dispatcher picks one kernel for all arguments (a meta tensor among CPU ones sends
    the call to the fake impl), so a mix must be rejected before any impl runs.
    """
    device = tensors[reference].device
    for name, tensor in tensors.items():
        if tensor is not None and tensor.device != device:
            raise ValueError(
                f"{op}: {name} must be on the same device as {reference} ({device}), "
                f"got {tensor.device}"
            )
