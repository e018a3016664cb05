"""RMSNorm over the last dimension: y = x * rsqrt(mean(x^2) + eps) * (offset + weight).

The RMSNorm family's options, as Hugging Face's classes declare them (Liger-Kernel's names):
``offset`` is Gemma's ``(1 + weight)`` (Gemma stores weight - 1); ``casting_mode`` is how a
float16/bfloat16 result is rounded: "gemma" multiplies by the weight in float32 and rounds
once (GemmaRMSNorm, Olmo2RMSNorm, torch.nn.RMSNorm), "llama" rounds the normalized value to
the input dtype, then multiplies by the weight and rounds again (LlamaRMSNorm's
``weight * normalized.to(input_dtype)``, T5LayerNorm). In float32 the two are the same bits.

Three kernel variants, chosen by row length (``reference/apple-gpus.md``; the schedule is
``generator/specs/_row_schedule.py``, shared with layer_norm and softmax); their bodies are
in ``generator/templates/rms_norm_rows.metal.inc``, shared with add_rms_norm, which imports
this module's variants, tuning, params and checks:

- ``simd_rows``: rows up to SIMD_ROW_MAX; one SIMD group per row, the row in registers
  (SIMD_ROW_MAX / 32 per lane), several rows per threadgroup, no threadgroup memory or
  barriers.
- ``single_row``: one threadgroup per row, the row held in registers (N_READS per thread),
  one read of x; rows up to SINGLE_ROW_MAX = 1024 threads x N_READS.
- ``looped``: longer rows; 1024 threads stride over the row, x is read twice.
"""

import torch

from generator.model import Buffer, Check, OpSpec, Param, PatchTarget
from generator.specs import _row_schedule as row_schedule

CASTING_MODES = ("gemma", "llama")


def torch_reference(
    x: torch.Tensor,
    weight: torch.Tensor | None,
    eps: float = 1e-6,
    offset: float = 0.0,
    casting_mode: str = "gemma",
) -> torch.Tensor:
    """The definition, for the verifier: computed in whatever dtype x has (float64 there)."""
    normalized = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    if weight is None:
        return normalized
    if casting_mode == "llama":
        # Rounded to x's dtype before the weight: a no-op here, where x's dtype is the
        # compute dtype (the modes differ only in a kernel's half-precision rounding).
        normalized = normalized.to(x.dtype)
    return normalized * (offset + weight)


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """Arguments for the selftest and the registry-driven tests: an odd row length that every
    variant takes (<= SIMD_ROW_MAX), Gemma's offset and Llama's rounding."""
    x = torch.randn(5, 509, generator=generator).to(dtype)  # fits every variant (<= 512)
    weight = torch.randn(509, generator=generator).to(dtype)
    return x, weight, 1e-6, 1.0, "llama"


def row_checks(op: str, x: str = "x") -> tuple[Check, ...]:
    """Checks of x, weight, eps and offset (add_rms_norm shares them)."""
    return (
        Check(
            f"{x}.dim() >= 1",
            f'"{op}: {x} must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            f"is_supported_dtype({x}.scalar_type())",
            f'"{op}: {x} must be float32, float16 or bfloat16, got ", {x}.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            f"weight->scalar_type() == {x}.scalar_type()",
            f'"{op}: weight must have the same dtype as {x} (", {x}.scalar_type(), "), got ", '
            'weight->scalar_type(), "; convert it with weight.to(x.dtype)"',
            kind="type",
            only_if="weight.has_value()",
        ),
        Check(
            "weight->dim() == 1 && weight->size(0) == n",
            f'"{op}: weight must have shape (", n, ",) to match the last dimension of {x}, '
            'got ", weight->sizes()',
            only_if="weight.has_value()",
        ),
        Check(
            f"weight->device() == {x}.device()",
            f'"{op}: weight must be on the same device as {x} (", {x}.device(), "), got ", '
            "weight->device()",
            only_if="weight.has_value()",
        ),
        Check(
            "eps > 0 && std::isfinite(eps)",
            f'"{op}: eps must be a positive finite number, got ", eps',
        ),
        Check(
            "std::isfinite(offset)",
            f'"{op}: offset must be a finite number, got ", offset',
        ),
        Check(
            "offset == 0 || weight.has_value()",
            f'"{op}: offset (", offset, ") is added to the weight, so it needs a weight; pass "'
            '"a weight or offset=0"',
        ),
        Check(
            "n <= INT32_MAX && rows <= UINT32_MAX",
            f'"{op}: {x} must have at most 2^32 - 1 rows and 2^31 - 1 elements per row, "'
            f'"got shape ", {x}.sizes()',
        ),
    )


ROW_SIZES = (
    ("n", "x.size(-1)"),
    ("rows", "n == 0 ? 0 : x.numel() / n"),
)

# The params struct of both ops (the shared kernel bodies read these fields).
ROW_PARAMS = (
    Param("row_length", "uint", "n"),
    Param("rows", "uint", "rows"),
    Param("eps", "float", "eps"),
    Param("has_weight", "uint", "weight.has_value() ? 1 : 0"),
    Param("offset", "float", "offset"),
    Param("llama_casting", "uint", 'casting_mode == "llama" ? 1 : 0'),
)

ROW_TUNING = row_schedule.TUNING
ROW_VARIANTS = row_schedule.variants(
    simd_rows=(
        "one SIMD group per row, ROWS_PER_THREADGROUP rows per threadgroup, row in registers",
        "n <= SIMD_ROW_MAX",
    ),
    looped="one threadgroup per row, LOOPED_THREADS threads striding over it",
)

# The normalization of h (float32, n elements per row) as the kernels round it, in ATen ops
# (the reference impl of both ops).
ROW_CPU_NORM = (
    "auto y = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);\n"
    "if (weight.has_value()) {\n"
    '  if (casting_mode == "llama") y = y.to(x.scalar_type()).to(at::kFloat);\n'
    "  y = y * (weight->to(at::kFloat) + offset);\n"
    "}\n"
)

ROW_ARG_DOCS = (
    ("weight", "optional 1-D tensor of ``x.shape[-1]`` elements, x's dtype and device."),
    ("eps", "positive finite number added to the mean square."),
    ("offset", "added to the weight: Gemma's ``(1 + weight)`` is offset=1.0; needs a weight."),
    (
        "casting_mode",
        '"gemma": multiply by the weight in float32, round once; "llama": round the '
        "normalized value to x's dtype, multiply, round again (Hugging Face's LlamaRMSNorm).",
    ),
)


SPEC = OpSpec(
    name="rms_norm",
    schema=(
        "rms_norm(Tensor x, Tensor? weight=None, float eps=1e-06, float offset=0.0, "
        'str casting_mode="gemma") -> Tensor'
    ),
    doc="RMSNorm over the last dimension of x, scaled by (offset + weight); fp32 accumulation.",
    sizes=ROW_SIZES,
    checks=row_checks("rms_norm"),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "weight", fallback="x"),
        Buffer(2, "out", output=True),
    ),
    params=ROW_PARAMS,
    params_index=3,
    choices=(("casting_mode", CASTING_MODES),),
    tuning=ROW_TUNING,
    variants=ROW_VARIANTS,
    output_like="x",
    cpu_reference=(
        "const auto h = x.to(at::kFloat);\n" + ROW_CPU_NORM + "return y.to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "tensor with at least one dimension; any layout (made contiguous first)."),
        *ROW_ARG_DOCS,
    ),
    patch_targets=(
        PatchTarget("torch.nn.RMSNorm"),
        PatchTarget("transformers.models.llama.modeling_llama.LlamaRMSNorm"),
        PatchTarget("transformers.models.mistral.modeling_mistral.MistralRMSNorm"),
        PatchTarget("transformers.models.qwen2.modeling_qwen2.Qwen2RMSNorm"),
        PatchTarget("transformers.models.qwen3.modeling_qwen3.Qwen3RMSNorm"),
        PatchTarget("transformers.models.gemma.modeling_gemma.GemmaRMSNorm"),
        PatchTarget("transformers.models.olmo2.modeling_olmo2.Olmo2RMSNorm"),
        PatchTarget("transformers.models.t5.modeling_t5.T5LayerNorm"),
    ),
)
