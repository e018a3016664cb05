"""RMSNorm over the last dimension: y = x * rsqrt(mean(x^2) + eps) * weight.

Three kernel variants, chosen by row length (``reference/apple-gpus.md``):

- ``simd_rows``: short rows; one SIMD group per row, several rows per threadgroup, no
  threadgroup memory or barriers.
- ``single_row``: one threadgroup per row, the row held in registers (N_READS per thread),
  one read of x; rows up to SINGLE_ROW_MAX = 1024 threads x N_READS.
- ``looped``: longer rows; 1024 threads stride over the row, x is read twice.
"""

import torch

from generator.model import Buffer, Check, Constant, OpSpec, Param, PatchTarget, Variant


def torch_reference(x: torch.Tensor, weight: torch.Tensor | None, eps: float) -> torch.Tensor:
    """The definition, for the verifier: computed in whatever dtype x has (float64 there)."""
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * weight if weight is not None else y


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """Arguments for the selftest and the registry-driven tests (an odd row length)."""
    x = torch.randn(5, 1031, generator=generator).to(dtype)
    weight = torch.randn(1031, generator=generator).to(dtype)
    return x, weight, 1e-6


SPEC = OpSpec(
    name="rms_norm",
    schema="rms_norm(Tensor x, Tensor? weight=None, float eps=1e-06) -> Tensor",
    doc="RMSNorm over the last dimension of x, optionally scaled by weight; fp32 accumulation.",
    sizes=(
        ("n", "x.size(-1)"),
        ("rows", "n == 0 ? 0 : x.numel() / n"),
    ),
    checks=(
        Check(
            "x.dim() >= 1",
            '"rms_norm: x must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            '"rms_norm: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "weight->scalar_type() == x.scalar_type()",
            '"rms_norm: weight must have the same dtype as x (", x.scalar_type(), "), got ", '
            'weight->scalar_type(), "; convert it with weight.to(x.dtype)"',
            kind="type",
            only_if="weight.has_value()",
        ),
        Check(
            "weight->dim() == 1 && weight->size(0) == n",
            '"rms_norm: weight must have shape (", n, ",) to match the last dimension of x, got ", '
            "weight->sizes()",
            only_if="weight.has_value()",
        ),
        Check(
            "weight->device() == x.device()",
            '"rms_norm: weight must be on the same device as x (", x.device(), "), got ", '
            "weight->device()",
            only_if="weight.has_value()",
        ),
        Check(
            "eps > 0 && std::isfinite(eps)",
            '"rms_norm: eps must be a positive finite number, got ", eps',
        ),
        Check(
            "n <= INT32_MAX && rows <= UINT32_MAX",
            '"rms_norm: x must have at most 2^32 - 1 rows and 2^31 - 1 elements per row, "'
            '"got shape ", x.sizes()',
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "weight", fallback="x"),
        Buffer(2, "out", output=True),
    ),
    params=(
        Param("row_length", "uint", "n"),
        Param("rows", "uint", "rows"),
        Param("eps", "float", "eps"),
        Param("has_weight", "uint", "weight.has_value() ? 1 : 0"),
    ),
    params_index=3,
    tuning=(
        # Contiguous elements each thread reads per step (MLX's N_READS).
        Constant("N_READS", 4),
        # Longest row the single_row variant keeps in registers: 1024 threads x N_READS.
        Constant("SINGLE_ROW_MAX", 4096),
        # Rows up to this length get one SIMD group each (ggml gives short rows 32 threads).
        Constant("SIMD_ROW_MAX", 512),
        # SIMD groups (= rows) per threadgroup in the simd_rows variant.
        Constant("ROWS_PER_THREADGROUP", 8),
        # Threads of the looped variant, fewer when the pipeline allows fewer.
        Constant("LOOPED_THREADS", 1024),
    ),
    variants=(
        Variant(
            "simd_rows",
            "one SIMD group per row, ROWS_PER_THREADGROUP rows per threadgroup",
            when="n <= SIMD_ROW_MAX",
            requires="true",
            grid="ceil_div(rows, ROWS_PER_THREADGROUP)",
            threadgroup="SIMD_SIZE * ROWS_PER_THREADGROUP",
        ),
        Variant(
            "single_row",
            "one threadgroup per row, the row in registers",
            when="n <= SINGLE_ROW_MAX",
            requires="n <= SINGLE_ROW_MAX",
            grid="rows",
            threadgroup="round_up(ceil_div(n, N_READS), SIMD_SIZE)",
        ),
        Variant(
            "looped",
            "one threadgroup per row, LOOPED_THREADS threads striding over it",
            when="true",
            requires="true",
            grid="rows",
            threadgroup="std::min<int64_t>(LOOPED_THREADS, max_threads)",
        ),
    ),
    output_like="x",
    cpu_reference=(
        "auto xf = x.to(at::kFloat);\n"
        "auto y = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);\n"
        "if (weight.has_value()) y = y * weight->to(at::kFloat);\n"
        "return y.to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "tensor with at least one dimension; any layout (made contiguous first)."),
        ("weight", "optional 1-D tensor of ``x.shape[-1]`` elements, x's dtype and device."),
        ("eps", "positive finite number added to the mean square."),
    ),
    patch_targets=(
        PatchTarget("torch.nn.RMSNorm"),
        PatchTarget("transformers.models.llama.modeling_llama.LlamaRMSNorm"),
        PatchTarget("transformers.models.mistral.modeling_mistral.MistralRMSNorm"),
        PatchTarget("transformers.models.qwen2.modeling_qwen2.Qwen2RMSNorm"),
        PatchTarget("transformers.models.qwen3.modeling_qwen3.Qwen3RMSNorm"),
    ),
)
