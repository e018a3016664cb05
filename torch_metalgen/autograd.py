"""Backward formulas for the metalgen ops (``torch.library.register_autograd``), derived
from each op's torch reference, the one place its math is written.

The kernels are inference kernels. For an op whose spec says ``autograd="reference"``, the
backward is the vector-Jacobian product of the spec's torch reference
(``_generated/references.py``) evaluated in float32 on the saved inputs, so a patched
model still trains (without a speedup in backward).
"""

from __future__ import annotations

import torch

from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS

# Storage dtypes whose gradients are computed in float32 (float64 stays float64).
_LOW_PRECISION = (torch.float16, torch.bfloat16, torch.float32)


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float32 if tensor.dtype in _LOW_PRECISION else tensor.dtype


def _setup_context(ctx, inputs, output):
    tensors = [value for value in inputs if isinstance(value, torch.Tensor)]
    ctx.save_for_backward(*tensors)
    # Non-tensor arguments and where each tensor goes, so backward rebuilds the call.
    ctx.layout = [None if isinstance(value, torch.Tensor) else (value,) for value in inputs]


def _make_backward(op: str):
    reference = REFERENCES[op]

    def backward(ctx, *grad_outputs):
        saved = iter(ctx.saved_tensors)
        arguments = [next(saved) if slot is None else slot[0] for slot in ctx.layout]
        # Differentiate only w.r.t. tensors that need a gradient.
        wanted = [
            i
            for i, value in enumerate(arguments)
            if isinstance(value, torch.Tensor) and ctx.needs_input_grad[i]
        ]
        if not wanted:
            return tuple(None for _ in arguments)
        compute = [
            value.to(_compute_dtype(value)) if isinstance(value, torch.Tensor) else value
            for value in arguments
        ]

        def function(*differentiable):
            call = list(compute)
            for i, value in zip(wanted, differentiable, strict=True):
                call[i] = value
            return reference(*call)

        primals = [compute[i] for i in wanted]
        outputs, vjp = torch.func.vjp(function, *primals)
        if isinstance(outputs, torch.Tensor):
            cotangents = grad_outputs[0].to(outputs.dtype)
        else:
            cotangents = tuple(
                torch.zeros_like(o) if g is None else g.to(o.dtype)
                for o, g in zip(outputs, grad_outputs, strict=True)
            )
        gradients = vjp(cotangents)
        result: list[torch.Tensor | None] = [None] * len(arguments)
        for i, gradient in zip(wanted, gradients, strict=True):
            result[i] = gradient.to(arguments[i].dtype)
        return tuple(result)

    return backward


for _op, _info in OPS.items():
    if _info["autograd"] == "reference":
        torch.library.register_autograd(
            f"metalgen::{_op}", _make_backward(_op), setup_context=_setup_context
        )
