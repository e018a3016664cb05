"""The packed weight format shared by the quantized ops' specs (quantized_linear,
dequantize_weight): argument checks and the samples' packed weights, written once.

Format (docs/quantization.md): a weight W of shape (N, K) (nn.Linear's out_features x
in_features) becomes ``qweight`` (N, K * bits / 32) uint32 (int32 accepted: same bits),
``scales`` (N, K / group_size) and, for the affine mode, ``biases`` of the same shape, both
of a floating dtype. Code j of a word holds bits [bits*j, bits*j + bits): MLX's layout.
Affine: w = scale * q + bias. Symmetric (no biases): w = scale * (q - 2^(bits-1)).
"""

from __future__ import annotations

from generator.model import Check

# C++ size expressions over (qweight, scales, bits, group_size).
PER_WORD = "(32 / bits)"


def format_checks(op: str, in_features: str, first_float: str) -> tuple[Check, ...]:
    """Checks of qweight, scales, biases, bits and group_size for an op whose in_features
    (K, a C++ expression valid after the early checks) is ``in_features`` and whose floating
    dtype is ``first_float``'s (x for quantized_linear, scales for dequantize_weight)."""
    return (
        Check(
            "bits == 4 || bits == 8",
            f'"{op}: bits must be 4 or 8, got ", bits',
            before_sizes=True,
        ),
        Check(
            "group_size > 0 && group_size % 32 == 0",
            f'"{op}: group_size must be a positive multiple of 32 (32, 64 or 128 as MLX '
            'writes them, or in_features for one group per output channel), got ", group_size',
            before_sizes=True,
        ),
        Check(
            "qweight.dim() == 2",
            f'"{op}: qweight must be 2-D (out_features, in_features * bits / 32), got shape ", '
            "qweight.sizes()",
            before_sizes=True,
        ),
        Check(
            "qweight.scalar_type() == at::kUInt32 || qweight.scalar_type() == at::kInt",
            f'"{op}: qweight must be uint32 (or int32 holding the same bits): ", 32 / bits, '
            '" codes of ", bits, " bits per word, least significant first; got ", '
            "qweight.scalar_type()",
            kind="type",
            before_sizes=True,
        ),
        Check(
            "scales.dim() == 2",
            f'"{op}: scales must be 2-D (out_features, in_features / group_size), got shape ", '
            "scales.sizes()",
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(scales.scalar_type())",
            f'"{op}: scales must be float32, float16 or bfloat16, got ", scales.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            f"{in_features} % group_size == 0",
            f'"{op}: in_features (", {in_features}, ") must be divisible by group_size (", '
            'group_size, ")"',
        ),
        Check(
            f"qweight.size(1) * {PER_WORD} == {in_features}",
            f'"{op}: wrong packing: qweight has ", qweight.size(1), " words per row = ", '
            f'qweight.size(1) * {PER_WORD}, " codes of ", bits, " bits, but in_features is ", '
            f'{in_features}, "; expected qweight of shape (out_features, ", {in_features} * '
            'bits / 32, ")"',
        ),
        Check(
            f"scales.size(0) == qweight.size(0) && scales.size(1) * group_size == {in_features}",
            f'"{op}: mismatched scales: expected shape (", qweight.size(0), ", ", '
            f'{in_features} / group_size, ") = (out_features, in_features / group_size) for '
            'group_size ", group_size, ", got ", scales.sizes()',
        ),
        Check(
            f"scales.scalar_type() == {first_float}.scalar_type()",
            f'"{op}: scales must have the dtype of {first_float} (", '
            f'{first_float}.scalar_type(), "), got ", scales.scalar_type()',
            kind="type",
        ),
        Check(
            "biases->sizes() == scales.sizes()",
            f'"{op}: mismatched biases: expected the shape of scales ", scales.sizes(), '
            '", got ", biases->sizes()',
            only_if="biases.has_value()",
        ),
        Check(
            "biases->scalar_type() == scales.scalar_type()",
            f'"{op}: biases must have the dtype of scales (", scales.scalar_type(), "), got ", '
            "biases->scalar_type()",
            kind="type",
            only_if="biases.has_value()",
        ),
        Check(
            "qweight.device() == scales.device() && "
            "(!biases.has_value() || biases->device() == scales.device())",
            f'"{op}: qweight, scales and biases must be on one device, got ", '
            'qweight.device(), ", ", scales.device()',
        ),
        Check(
            "qweight.size(0) <= INT32_MAX && qweight.size(1) <= INT32_MAX",
            f'"{op}: qweight must have at most 2^31 - 1 rows and words per row, got shape ", '
            "qweight.sizes()",
        ),
    )
