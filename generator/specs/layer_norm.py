"""LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * weight + bias.

var is the biased variance of the row (as torch.nn.LayerNorm). Weight and bias are each
optional. Three kernel variants, chosen by row length like rms_norm
(``reference/apple-gpus.md``):

- ``simd_rows``: short rows; one SIMD group per row, several rows per threadgroup; mean,
  then centered sum of squares (two passes over a row that stays in cache).
- ``single_row``: one threadgroup per row held in registers (N_READS per thread); two passes
  over the registers, one read of x; rows up to SINGLE_ROW_MAX = 1024 threads x N_READS.
- ``looped``: longer rows; 1024 threads stride over the row merging per-thread (count, mean,
  M2) moments (Chan et al.), then write: x is read twice.

None of them computes E[x^2] - E[x]^2, which loses every digit of the variance when the
mean is large against the spread (mean 1e3, std 1 leaves ~1e-1 of float32 precision).
"""

import torch

from generator.model import Buffer, Check, OpSpec, Param
from generator.specs import _row_schedule as row_schedule


def torch_reference(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    """The definition, for the verifier: computed in whatever dtype x has (float64 there)."""
    mean = x.mean(-1, keepdim=True)
    centered = x - mean
    y = centered * torch.rsqrt(centered.pow(2).mean(-1, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """Arguments for the selftest and the registry-driven tests (an odd row, nonzero mean;
    mean 1e3 is tested separately: the generic float32 backward loses digits there)."""
    x = (3 + torch.randn(5, 1031, generator=generator)).to(dtype)
    weight = torch.randn(1031, generator=generator).to(dtype)
    bias = torch.randn(1031, generator=generator).to(dtype)
    return x, weight, bias, 1e-5


def _affine_checks(name: str) -> tuple[Check, ...]:
    """dtype, shape and device of the optional per-feature tensor `name` (weight or bias)."""
    return (
        Check(
            f"{name}->scalar_type() == x.scalar_type()",
            f'"layer_norm: {name} must have the same dtype as x (", x.scalar_type(), "), got ", '
            f'{name}->scalar_type(), "; convert it with {name}.to(x.dtype)"',
            kind="type",
            only_if=f"{name}.has_value()",
        ),
        Check(
            f"{name}->dim() == 1 && {name}->size(0) == n",
            f'"layer_norm: {name} must have shape (", n, ",) to match the last dimension of x, '
            f'got ", {name}->sizes()',
            only_if=f"{name}.has_value()",
        ),
        Check(
            f"{name}->device() == x.device()",
            f'"layer_norm: {name} must be on the same device as x (", x.device(), "), got ", '
            f"{name}->device()",
            only_if=f"{name}.has_value()",
        ),
    )


SPEC = OpSpec(
    name="layer_norm",
    schema=(
        "layer_norm(Tensor x, Tensor? weight=None, Tensor? bias=None, float eps=1e-05) -> Tensor"
    ),
    doc="LayerNorm over the last dimension of x with optional weight and bias; fp32 accumulation.",
    sizes=(
        ("n", "x.size(-1)"),
        ("rows", "n == 0 ? 0 : x.numel() / n"),
    ),
    checks=(
        Check(
            "x.dim() >= 1",
            '"layer_norm: x must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            '"layer_norm: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        *_affine_checks("weight"),
        *_affine_checks("bias"),
        # eps = 0 is allowed, as in torch: a constant row then normalizes to NaN, as there.
        Check(
            "eps >= 0 && std::isfinite(eps)",
            '"layer_norm: eps must be a non-negative finite number, got ", eps',
        ),
        Check(
            "n <= INT32_MAX && rows <= UINT32_MAX",
            '"layer_norm: x must have at most 2^32 - 1 rows and 2^31 - 1 elements per row, "'
            '"got shape ", x.sizes()',
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "weight", fallback="x"),
        Buffer(2, "bias", fallback="x"),
        Buffer(3, "out", output=True),
    ),
    params=(
        Param("row_length", "uint", "n"),
        Param("rows", "uint", "rows"),
        Param("eps", "float", "eps"),
        Param("has_weight", "uint", "weight.has_value() ? 1 : 0"),
        Param("has_bias", "uint", "bias.has_value() ? 1 : 0"),
    ),
    params_index=4,
    tuning=row_schedule.TUNING,
    variants=row_schedule.variants(
        simd_rows=("one SIMD group per row, ROWS_PER_THREADGROUP rows per threadgroup", "true"),
        looped="one threadgroup per row, LOOPED_THREADS threads merging moments",
    ),
    output_like="x",
    # In float64, rounded once: a float32 mean of 1e3 alone carries an error of ~3e-5.
    cpu_reference=(
        "if (x.numel() == 0) return at::empty_like(x, at::MemoryFormat::Contiguous);\n"
        "auto xd = x.to(at::kDouble);\n"
        "auto centered = xd - xd.mean(-1, /*keepdim=*/true);\n"
        "auto y = centered * at::rsqrt(centered.pow(2).mean(-1, /*keepdim=*/true) + eps);\n"
        "if (weight.has_value()) y = y * weight->to(at::kDouble);\n"
        "if (bias.has_value()) y = y + bias->to(at::kDouble);\n"
        "return y.to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "tensor with at least one dimension; any layout (made contiguous first)."),
        ("weight", "optional 1-D tensor of ``x.shape[-1]`` elements, x's dtype and device."),
        ("bias", "optional 1-D tensor of ``x.shape[-1]`` elements, x's dtype and device."),
        ("eps", "non-negative finite number added to the variance."),
    ),
)
