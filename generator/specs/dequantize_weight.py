"""dequantize_weight: the (N, K) weight a quantized_linear packs, in scales' dtype.

The exact inverse of ``torch_metalgen.quantize_weight`` on the weights it can represent:
affine w = scale * q + bias, symmetric (``biases`` None) w = scale * (q - 2^(bits-1)),
computed in float32 and rounded once to scales' dtype (for float16/bfloat16 scales
scale * q is exact in float32, so the kernel and the CPU path give the same bits).

One kernel: a thread per packed uint32 word (8 int4 or 4 int8 codes), a 2-D grid of
(words per row, rows); the codes of a word share one group because group_size is a
multiple of 32.
"""

import torch

from generator.model import Buffer, Constant, OpSpec, Output, Param, Variant
from generator.specs._quantized_format import format_checks


def torch_reference(
    qweight: torch.Tensor,
    scales: torch.Tensor,
    biases: torch.Tensor | None,
    bits: int,
    group_size: int,
) -> torch.Tensor:
    """The definition, in scales' dtype (float64 for the verifier)."""
    rows = qweight.shape[0]
    words = qweight.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    shifts = torch.arange(0, 32, bits, device=qweight.device)
    codes = (words.unsqueeze(-1) >> shifts) & ((1 << bits) - 1)
    codes = codes.to(scales.dtype).reshape(rows, scales.shape[1], group_size)
    if biases is None:
        weight = (codes - 2 ** (bits - 1)) * scales.unsqueeze(-1)
    else:
        weight = codes * scales.unsqueeze(-1) + biases.unsqueeze(-1)
    return weight.reshape(rows, scales.shape[1] * group_size)


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """int8, 13 rows of K = 192 in three groups of 64, affine."""
    rows, in_features, group_size, bits = 13, 192, 64, 8
    qweight = torch.randint(
        0, 2**32, (rows, in_features * bits // 32), generator=generator, dtype=torch.int64
    ).to(torch.uint32)
    scales = 0.001 + 0.01 * torch.rand(rows, in_features // group_size, generator=generator)
    biases = -128 * scales + 0.05 * torch.randn(scales.shape, generator=generator)
    return qweight, scales.to(dtype), biases.to(dtype), bits, group_size


SPEC = OpSpec(
    name="dequantize_weight",
    schema=(
        "dequantize_weight(Tensor qweight, Tensor scales, Tensor? biases=None, int bits=4, "
        "int group_size=64) -> Tensor"
    ),
    doc=(
        "The (out_features, in_features) weight of a packed quantized weight (MLX layout): "
        "affine scale * q + bias, or symmetric scale * (q - 2^(bits-1)) without biases."
    ),
    sizes=(
        ("in_features", "qweight.size(1) * (32 / bits)"),
        ("rows", "qweight.size(0)"),
        ("words", "qweight.size(1)"),
    ),
    checks=format_checks("dequantize_weight", "in_features", "scales"),
    buffers=(
        Buffer(0, "qweight"),
        Buffer(1, "scales"),
        Buffer(2, "biases", fallback="scales"),
        Buffer(3, "out"),
    ),
    params=(
        Param("in_features", "uint", "in_features"),
        Param("rows", "uint", "rows"),
        Param("bits", "uint", "bits"),
        Param("group_size", "uint", "group_size"),
        Param("words_per_row", "uint", "words"),
        Param("groups_per_row", "uint", "scales.size(1)"),
        Param("has_biases", "uint", "biases.has_value() ? 1 : 0"),
    ),
    params_index=4,
    tuning=(Constant("THREADS", 256),),
    variants=(
        Variant(
            "words",
            "a thread per packed word, a 2-D grid of (words per row, rows)",
            when="true",
            grid=("words", "rows"),
            threadgroup=(
                "tile_x(words, std::min<int64_t>(THREADS, max_threads))",
                "tile_y(words, rows, std::min<int64_t>(THREADS, max_threads))",
            ),
            dispatch="threads",
        ),
    ),
    outputs=(
        Output(
            "out",
            like="scales",
            shape="std::vector<int64_t>{rows, in_features}",
            fake_shape="(qweight.shape[0], qweight.shape[1] * (32 // bits))",
        ),
    ),
    cpu_reference=(
        "return dequantize_float(qweight, scales, biases, bits, group_size)\n"
        "    .to(scales.scalar_type())\n"
        "    .contiguous();"
    ),
    cpp_includes=("quantized.h",),
    torch_reference=torch_reference,
    samples=samples,
    arg_docs=(
        ("qweight", "(out_features, in_features * bits / 32) uint32 packed codes (MLX layout)."),
        ("scales", "(out_features, in_features / group_size), float32/float16/bfloat16."),
        ("biases", "affine mode's per-group biases (scales' shape), or None: symmetric."),
        ("bits", "4 or 8."),
        ("group_size", "positive multiple of 32 dividing in_features (32, 64, 128, or K)."),
    ),
)
