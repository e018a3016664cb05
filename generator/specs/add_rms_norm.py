"""add_rms_norm: (rms_norm(x + residual), x + residual), the residual add fused into the
next RMSNorm (vLLM's fused_add_rms_norm, llama.cpp's fused add + norm).

One pass over memory: x, residual and weight are read once, both outputs written once. The
sum is added in float32 and rounded to the storage dtype once, exactly as eager PyTorch
rounds Hugging Face's ``residual + hidden_states``; the norm is of that rounded sum, so the
pair is what the unfused layer computes. Options (``offset``, ``casting_mode``), checks,
variants, tuning and params are rms_norm's (``generator/specs/rms_norm.py``), and so are the
kernel bodies (``generator/templates/rms_norm_rows.metal.inc``, a ResidualRow in place of
rms_norm's PlainRow). The looped variant (rows over SINGLE_ROW_MAX) reads the sum it wrote
back in its second pass instead of x and residual.
"""

import torch

from generator.model import Buffer, Check, OpSpec, Output
from generator.specs.rms_norm import (
    CASTING_MODES,
    ROW_ARG_DOCS,
    ROW_CPU_NORM,
    ROW_PARAMS,
    ROW_SIZES,
    ROW_TUNING,
    ROW_VARIANTS,
    row_checks,
)


def torch_reference(
    x: torch.Tensor,
    residual: torch.Tensor,
    weight: torch.Tensor | None = None,
    eps: float = 1e-6,
    offset: float = 0.0,
    casting_mode: str = "gemma",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition: rms_norm's reference applied to h = x + residual, and h."""
    h = x + residual
    normalized = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    if weight is not None:
        if casting_mode == "llama":
            # A no-op in the compute dtype, as in rms_norm's reference.
            normalized = normalized.to(x.dtype)
        normalized = normalized * (offset + weight)
    return normalized, h


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """An odd row length every variant takes (<= SIMD_ROW_MAX), a 3-D batch, Gemma's offset."""
    x = torch.randn(3, 2, 509, generator=generator).to(dtype)
    residual = (4 * torch.randn(3, 2, 509, generator=generator) + 1).to(dtype)
    weight = torch.randn(509, generator=generator).to(dtype)
    return x, residual, weight, 1e-6, 1.0, "gemma"


SPEC = OpSpec(
    name="add_rms_norm",
    schema=(
        "add_rms_norm(Tensor x, Tensor residual, Tensor? weight=None, float eps=1e-06, "
        'float offset=0.0, str casting_mode="gemma") -> (Tensor, Tensor)'
    ),
    doc="(rms_norm(x + residual), x + residual) in one pass; fp32 accumulation.",
    sizes=ROW_SIZES,
    checks=(
        *row_checks("add_rms_norm"),
        Check(
            "residual.scalar_type() == x.scalar_type()",
            '"add_rms_norm: residual must have the same dtype as x (", x.scalar_type(), "), "'
            '"got ", residual.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "residual.sizes() == x.sizes()",
            '"add_rms_norm: residual must have the shape of x ", x.sizes(), ", got ", '
            "residual.sizes()",
            before_sizes=True,
        ),
        Check(
            "residual.device() == x.device()",
            '"add_rms_norm: residual must be on the same device as x (", x.device(), "), got ", '
            "residual.device()",
            before_sizes=True,
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "residual"),
        Buffer(2, "weight", fallback="x"),
        Buffer(3, "out"),
        Buffer(4, "residual_out"),
    ),
    params=ROW_PARAMS,
    params_index=5,
    choices=(("casting_mode", CASTING_MODES),),
    tuning=ROW_TUNING,
    variants=ROW_VARIANTS,
    outputs=(Output("out", like="x"), Output("residual_out", like="x")),
    cpu_reference=(
        "// x + residual in x's dtype: ATen adds in float32 and rounds once, as eager does.\n"
        "const auto residual_out = (x + residual).contiguous();\n"
        "const auto h = residual_out.to(at::kFloat);\n"
        + ROW_CPU_NORM
        + "return {y.to(x.scalar_type()).contiguous(), residual_out};"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "tensor with at least one dimension; any layout (made contiguous first)."),
        ("residual", "x's shape, dtype and device; the sum x + residual is normalized."),
        *ROW_ARG_DOCS,
    ),
)
