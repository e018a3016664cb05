"""Backward formulas for the metalgen ops (``torch.library.register_autograd``).

The kernels are inference kernels; gradients are computed from the op's definition with
ATen ops in float32, so a patched model still trains (without a speedup in backward).
"""

from __future__ import annotations

import torch


def _rms_norm_setup_context(ctx, inputs, output):
    x, weight, eps = inputs
    ctx.save_for_backward(x, weight)
    ctx.eps = eps


def _rms_norm_backward(ctx, grad_output):
    x, weight = ctx.saved_tensors
    x32 = x.float()
    inv_rms = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + ctx.eps)
    normalized = x32 * inv_rms
    grad32 = grad_output.float()
    grad_weight = None
    if weight is not None:
        if ctx.needs_input_grad[1]:
            grad_weight = (grad32 * normalized).reshape(-1, x.shape[-1]).sum(0).to(weight.dtype)
        grad32 = grad32 * weight.float()
    grad_x = None
    if ctx.needs_input_grad[0]:
        # d/dx of x * r(x), r = rsqrt(mean(x^2) + eps): r * (g - normalized * mean(g * normalized))
        mean_term = (grad32 * normalized).mean(-1, keepdim=True)
        grad_x = (inv_rms * (grad32 - normalized * mean_term)).to(x.dtype)
    return grad_x, grad_weight, None


torch.library.register_autograd(
    "metalgen::rms_norm", _rms_norm_backward, setup_context=_rms_norm_setup_context
)
