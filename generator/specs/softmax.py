"""Softmax or log-softmax over the last dimension of x * scale + mask, optionally causal.

One op with a ``log`` flag rather than two ops: softmax and log-softmax share every pass
(the logits, the online max and normalizer in float32) and differ only in the value each
output element gets, so one kernel, one plan and one set of tests serve both.

- ``scale`` multiplies x first (1 / sqrt(head_dim) for attention scores; 1.0 for logits).
- ``mask`` is additive, of x's dtype, broadcastable to x with at most four dimensions, as
  attention masks are: (keys,), (queries, keys), (batch, 1, 1, keys), (batch, heads,
  queries, keys)... A broadcast mask is read through zero strides, never expanded.
- ``causal`` hides key k from query q when k > q + keys - queries (queries = x.size(-2),
  1 for 1-D x): the bottom-right alignment a KV cache needs (the last query sees every key),
  which is the usual lower triangle when queries == keys.
- A row whose logits are all -inf (fully masked, or causal with queries > keys) is
  written as zeros (softmax) and -inf (log-softmax), never NaN: such a row contributes
  nothing to an attention output. torch.softmax would give NaN there.

Three kernel variants, chosen by row length like rms_norm: ``simd_rows`` (one SIMD group
per row, online max/sum), ``single_row`` (the row in registers, up to SINGLE_ROW_MAX) and
``looped`` (1024 threads with an online max/sum each, for vocabulary rows up to 152,064
and beyond).
"""

import torch

from generator.model import Buffer, Check, OpSpec, Param
from generator.specs import _row_schedule as row_schedule


def torch_reference(
    x: torch.Tensor, scale: float, mask: torch.Tensor | None, causal: bool, log: bool
) -> torch.Tensor:
    """The definition, for the verifier: computed in whatever dtype x has (float64 there)."""
    logits = x * scale
    if mask is not None:
        logits = logits + mask
    if causal:
        queries = x.shape[-2] if x.dim() >= 2 else 1
        keys = x.shape[-1]
        query = torch.arange(queries, device=x.device).unsqueeze(-1)
        key = torch.arange(keys, device=x.device)
        hidden = (key > query + (keys - queries)).reshape(x.shape[-2:])
        logits = logits.masked_fill(hidden, float("-inf"))
    fully_masked = (logits == float("-inf")).all(-1, keepdim=True)
    if log:
        return torch.log_softmax(logits, -1).masked_fill(fully_masked, float("-inf"))
    return torch.softmax(logits, -1).masked_fill(fully_masked, 0.0)


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """Arguments for the selftest and the registry-driven tests: attention scores with a
    broadcast padding mask, causal, an odd key count."""
    x = (4 * torch.randn(2, 3, 5, 1031, generator=generator)).to(dtype)
    mask = torch.zeros(2, 1, 1, 1031).masked_fill(
        torch.rand(2, 1, 1, 1031, generator=generator) < 0.1, float("-inf")
    )
    return x, 0.125, mask.to(dtype), True, False


# Sizes of x's leading dimensions as (batch, heads, queries, keys), 1 where x has fewer.
_QUERIES = "x.dim() >= 2 ? x.size(-2) : 1"
_HEADS = "x.dim() >= 3 ? x.size(-3) : 1"
_BATCHES = "x.dim() >= 4 ? x.size(-4) : 1"


def _mask_stride(dimension: int) -> str:
    """The contiguous mask's stride along x's dimension `dimension` (< 0), 0 if broadcast."""
    return (
        f"mask.has_value() && mask->dim() >= {-dimension} && mask->size({dimension}) > 1 "
        f"? mask->stride({dimension}) : 0"
    )


SPEC = OpSpec(
    name="softmax",
    schema=(
        "softmax(Tensor x, float scale=1.0, Tensor? mask=None, bool causal=False, "
        "bool log=False) -> Tensor"
    ),
    doc=(
        "Softmax (log=True: log-softmax) over the last dimension of x * scale + mask, "
        "optionally causal; fully masked rows give 0 (log: -inf); fp32 max and normalizer."
    ),
    sizes=(
        ("n", "x.size(-1)"),
        ("rows", "n == 0 ? 0 : x.numel() / n"),
        ("queries", _QUERIES),
    ),
    checks=(
        Check(
            "x.dim() >= 1",
            '"softmax: x must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            '"softmax: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "std::isfinite(scale)",
            '"softmax: scale must be a finite number, got ", scale',
        ),
        Check(
            "mask->scalar_type() == x.scalar_type()",
            '"softmax: mask must have the same dtype as x (", x.scalar_type(), "), got ", '
            'mask->scalar_type(), "; an additive mask holds 0 where visible and -inf where '
            "hidden: convert a boolean mask with torch.zeros_like(x).masked_fill(~mask, "
            "float('-inf'))\"",
            kind="type",
            only_if="mask.has_value()",
        ),
        Check(
            "mask->dim() <= 4 && mask->dim() <= x.dim() && "
            "at::is_expandable_to(mask->sizes(), x.sizes())",
            '"softmax: mask must be broadcastable to x (", x.sizes(), ") with at most 4 '
            'dimensions, got shape ", mask->sizes()',
            only_if="mask.has_value()",
        ),
        Check(
            "mask->device() == x.device()",
            '"softmax: mask must be on the same device as x (", x.device(), "), got ", '
            "mask->device()",
            only_if="mask.has_value()",
        ),
        Check(
            "mask->numel() <= UINT32_MAX",
            '"softmax: mask must have at most 2^32 - 1 elements, got shape ", mask->sizes()',
            only_if="mask.has_value()",
        ),
        Check(
            "n <= INT32_MAX && rows <= UINT32_MAX && queries <= INT32_MAX",
            '"softmax: x must have at most 2^32 - 1 rows and 2^31 - 1 elements per row, "'
            '"got shape ", x.sizes()',
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "mask", fallback="x"),
        Buffer(2, "out", output=True),
    ),
    params=(
        Param("row_length", "uint", "n"),
        Param("rows", "uint", "rows"),
        Param("scale", "float", "scale"),
        Param("has_mask", "uint", "mask.has_value() ? 1 : 0"),
        Param("causal", "uint", "causal ? 1 : 0"),
        Param("log_output", "uint", "log ? 1 : 0"),
        Param("queries", "uint", "queries"),
        Param("heads", "uint", _HEADS),
        Param("batches", "uint", _BATCHES),
        Param("mask_stride_batch", "uint", _mask_stride(-4)),
        Param("mask_stride_head", "uint", _mask_stride(-3)),
        Param("mask_stride_query", "uint", _mask_stride(-2)),
        Param("mask_stride_key", "uint", _mask_stride(-1)),
        Param("causal_offset", "int", "n - queries"),
    ),
    params_index=3,
    tuning=row_schedule.TUNING,
    variants=row_schedule.variants(
        simd_rows=("one SIMD group per row, ROWS_PER_THREADGROUP rows per threadgroup", "true"),
        looped="one threadgroup per row, LOOPED_THREADS threads with an online max and sum",
    ),
    output_like="x",
    # In float64, rounded once: a float32 sum over a 152,064-logit row drifts by ~1e-6.
    cpu_reference=(
        "if (x.numel() == 0) return at::empty_like(x, at::MemoryFormat::Contiguous);\n"
        "auto logits = x.to(at::kDouble) * scale;\n"
        "if (mask.has_value()) logits = logits + mask->to(at::kDouble);\n"
        "if (causal) {\n"
        "  const int64_t keys = x.size(-1);\n"
        "  const int64_t queries = x.dim() >= 2 ? x.size(-2) : 1;\n"
        "  auto query = at::arange(queries, x.options().dtype(at::kLong)).unsqueeze(-1);\n"
        "  auto key = at::arange(keys, x.options().dtype(at::kLong));\n"
        "  auto hidden = (key > query + (keys - queries))\n"
        "                    .reshape(x.sizes().slice(std::max<int64_t>(x.dim() - 2, 0)));\n"
        "  logits = logits.masked_fill(hidden, -INFINITY);\n"
        "}\n"
        "auto fully_masked = (logits == -INFINITY).all(-1, /*keepdim=*/true);\n"
        "auto out = log ? at::log_softmax(logits, -1).masked_fill(fully_masked, -INFINITY)\n"
        "               : at::softmax(logits, -1).masked_fill(fully_masked, 0.0);\n"
        "return out.to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "tensor with at least one dimension (scores or logits); any layout."),
        ("scale", "finite number multiplying x before the mask is added."),
        ("mask", "optional additive mask of x's dtype, broadcastable to x, at most 4-D."),
        ("causal", "hide key k from query q when k > q + keys - queries."),
        ("log", "return log-softmax instead of softmax."),
    ),
)
