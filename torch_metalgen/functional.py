"""Typed Python wrappers of the ``torch.ops.metalgen`` ops."""

from __future__ import annotations

import torch

from torch_metalgen import _ops  # noqa: F401  (registers the ops)


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-6
) -> torch.Tensor:
    """RMSNorm over the last dimension: ``x * rsqrt(mean(x**2, -1) + eps) * weight``.

    Args:
        x: float32, float16 or bfloat16 tensor with at least one dimension; any layout
            (non-contiguous inputs are made contiguous first).
        weight: optional 1-D tensor of ``x.shape[-1]`` elements, same dtype and device as x.
        eps: positive finite number added to the mean square.

    Returns a new contiguous tensor of x's shape and dtype. Accumulates in float32. On
    ``mps`` it runs the generated Metal kernel; elsewhere a reference from ATen ops.
    Raises ValueError / TypeError naming the offending argument.
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"rms_norm: eps must be a float, got {type(eps).__name__}")
    return torch.ops.metalgen.rms_norm(x, weight, float(eps))
