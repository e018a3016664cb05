"""quantized_linear: y = x @ W^T + bias with W stored weight-only quantized (int4 or int8).

The weight format (generator/specs/_quantized_format.py, docs/quantization.md) is MLX's:
``qweight`` (N, K * bits / 32) uint32 with 32 / bits codes per word, least significant
first; ``scales`` (N, K / group_size) and, affine mode, ``biases`` of the same shape, of x's
dtype. Affine: w = scale * q + bias (MLX ``mx.quantize``); symmetric (``biases`` None):
w = scale * (q - 2^(bits-1)). group_size = K gives one scale per output channel.

Two kernel variants, chosen by the number of tokens M (rows of x):

- ``gemv`` (M <= GEMV_MAX_TOKENS, decode): each SIMD group computes GEMV_ROWS output
  channels for up to GEMV_MAX_TOKENS tokens. A lane owns PACKS_PER_LANE consecutive words of
  each of its rows (16 int4 or 8 int8 values), so a SIMD group reads 32 x 8 contiguous bytes
  of a row per step: coalesced. The words are read and unpacked once for all tokens; each
  weight is dequantized in registers (never written) as fma(scale, q, bias) in float32
  and multiplies x (not MLX's scale * sum(x * q) + bias * sum(x), which loses digits to
  cancellation on inputs with a large mean); simd_sum reduces the lanes at the end.
- ``tiled`` (prefill): a threadgroup computes a TILE x TILE output tile with four SIMD
  groups of 2 x 2 ``simdgroup_float8x8`` accumulators; x and the dequantized weight tile
  (float32) are staged in threadgroup memory TILE_K values of K at a time (TILE_K = 32
  divides every group, so a tile row needs one scale).
"""

import torch

from generator.model import Buffer, Check, Constant, OpSpec, Output, Param, Variant
from generator.specs._quantized_format import format_checks


def torch_reference(
    x: torch.Tensor,
    qweight: torch.Tensor,
    scales: torch.Tensor,
    biases: torch.Tensor | None,
    bias: torch.Tensor | None,
    bits: int,
    group_size: int,
) -> torch.Tensor:
    """The definition, in scales' dtype (float64 for the verifier): unpack the codes, apply
    scale and bias per group, then x @ W^T + bias."""
    rows = qweight.shape[0]
    words = qweight.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    shifts = torch.arange(0, 32, bits, device=qweight.device)
    codes = (words.unsqueeze(-1) >> shifts) & ((1 << bits) - 1)
    codes = codes.to(scales.dtype).reshape(rows, scales.shape[1], group_size)
    if biases is None:
        weight = (codes - 2 ** (bits - 1)) * scales.unsqueeze(-1)
    else:
        weight = codes * scales.unsqueeze(-1) + biases.unsqueeze(-1)
    out = x.to(scales.dtype) @ weight.reshape(rows, scales.shape[1] * group_size).T
    return out if bias is None else out + bias


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """6 tokens (the gemv variant by default; tiled when forced), K = 96 in three groups
    of 32, N = 37 output channels (odd), int4 affine with a bias."""
    rows, in_features, group_size, bits = 37, 96, 32, 4
    qweight = torch.randint(
        0, 2**32, (rows, in_features * bits // 32), generator=generator, dtype=torch.int64
    ).to(torch.uint32)
    scales = 0.01 + 0.05 * torch.rand(rows, in_features // group_size, generator=generator)
    biases = -8 * scales + 0.05 * torch.randn(scales.shape, generator=generator)
    x = torch.randn(2, 3, in_features, generator=generator)
    bias = torch.randn(rows, generator=generator)
    return (
        x.to(dtype),
        qweight,
        scales.to(dtype),
        biases.to(dtype),
        bias.to(dtype),
        bits,
        group_size,
    )


SPEC = OpSpec(
    name="quantized_linear",
    schema=(
        "quantized_linear(Tensor x, Tensor qweight, Tensor scales, Tensor? biases=None, "
        "Tensor? bias=None, int bits=4, int group_size=64) -> Tensor"
    ),
    doc=(
        "x @ W^T + bias with W weight-only quantized (int4/int8, MLX's packing): affine "
        "w = scale * q + bias, or symmetric w = scale * (q - 2^(bits-1)) without biases."
    ),
    sizes=(
        ("in_features", "x.size(-1)"),
        ("out_features", "qweight.size(0)"),
        ("tokens", "leading_rows(x)"),
    ),
    checks=(
        Check(
            "x.dim() >= 1",
            '"quantized_linear: x must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            '"quantized_linear: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        *format_checks("quantized_linear", "in_features", "x"),
        Check(
            "qweight.device() == x.device()",
            '"quantized_linear: qweight must be on the device of x (", x.device(), "), got ", '
            "qweight.device()",
        ),
        Check(
            "bias->dim() == 1 && bias->size(0) == out_features",
            '"quantized_linear: bias must have shape (out_features,) = (", out_features, '
            '"), got ", bias->sizes()',
            only_if="bias.has_value()",
        ),
        Check(
            "bias->scalar_type() == x.scalar_type()",
            '"quantized_linear: bias must have the dtype of x (", x.scalar_type(), "), got ", '
            "bias->scalar_type()",
            kind="type",
            only_if="bias.has_value()",
        ),
        Check(
            "bias->device() == x.device()",
            '"quantized_linear: bias must be on the device of x (", x.device(), "), got ", '
            "bias->device()",
            only_if="bias.has_value()",
        ),
        Check(
            "in_features <= INT32_MAX && tokens <= UINT32_MAX",
            '"quantized_linear: x must have at most 2^32 - 1 rows of at most 2^31 - 1 "'
            '"in_features, got shape ", x.sizes()',
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "qweight"),
        Buffer(2, "scales"),
        Buffer(3, "biases", fallback="scales"),
        Buffer(4, "bias", fallback="scales"),
        Buffer(5, "out"),
    ),
    params=(
        Param("in_features", "uint", "in_features"),
        Param("out_features", "uint", "out_features"),
        Param("tokens", "uint", "tokens"),
        Param("bits", "uint", "bits"),
        Param("group_size", "uint", "group_size"),
        Param("words_per_row", "uint", "qweight.size(1)"),
        Param("groups_per_row", "uint", "scales.size(1)"),
        Param("has_biases", "uint", "biases.has_value() ? 1 : 0"),
        Param("has_bias", "uint", "bias.has_value() ? 1 : 0"),
    ),
    params_index=6,
    tuning=(
        # Tokens one gemv threadgroup computes (its weights are read once for all of them);
        # more tokens go to the tiled variant.
        Constant("GEMV_MAX_TOKENS", 8),
        # Output channels per SIMD group, SIMD groups per threadgroup (gemv).
        Constant("GEMV_ROWS", 4),
        Constant("GEMV_SIMDGROUPS", 2),
        # Consecutive uint32 words of a row each lane reads per step (8 bytes).
        Constant("PACKS_PER_LANE", 2),
        # Output tile (TILE x TILE), K step and SIMD groups of the tiled variant.
        Constant("TILE", 32),
        Constant("TILE_K", 32),
        Constant("TILED_SIMDGROUPS", 4),
    ),
    variants=(
        Variant(
            "gemv",
            "decode: SIMD groups of GEMV_ROWS output channels, simd_sum over K",
            when="tokens <= GEMV_MAX_TOKENS",
            grid=(
                "ceil_div(out_features, GEMV_ROWS * GEMV_SIMDGROUPS)",
                "ceil_div(tokens, GEMV_MAX_TOKENS)",
            ),
            threadgroup="SIMD_SIZE * GEMV_SIMDGROUPS",
        ),
        Variant(
            "tiled",
            "prefill: TILE x TILE output tiles, simdgroup_float8x8 products",
            when="true",
            grid=("ceil_div(out_features, TILE)", "ceil_div(tokens, TILE)"),
            threadgroup="SIMD_SIZE * TILED_SIMDGROUPS",
        ),
    ),
    outputs=(
        Output(
            "out",
            like="x",
            shape="with_last_dim(x.sizes(), out_features)",
            fake_shape="(*x.shape[:-1], qweight.shape[0])",
        ),
    ),
    cpu_reference=(
        "const auto weight = dequantize_float(qweight, scales, biases, bits, group_size);\n"
        "auto out = at::matmul(x.to(at::kFloat), weight.t());\n"
        "if (bias.has_value()) out = out + bias->to(at::kFloat);\n"
        "return out.to(x.scalar_type()).contiguous();"
    ),
    cpp_includes=("quantized.h",),
    torch_reference=torch_reference,
    samples=samples,
    arg_docs=(
        ("x", "(..., in_features) activations, float32/float16/bfloat16."),
        ("qweight", "(out_features, in_features * bits / 32) uint32 packed codes (MLX layout)."),
        ("scales", "(out_features, in_features / group_size), x's dtype."),
        ("biases", "affine mode's per-group biases (scales' shape), or None: symmetric."),
        ("bias", "optional (out_features,) bias added to the output, x's dtype."),
        ("bits", "4 or 8."),
        ("group_size", "positive multiple of 32 dividing in_features (32, 64, 128, or K)."),
    ),
)
