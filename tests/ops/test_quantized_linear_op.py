"""metalgen::quantized_linear and metalgen::dequantize_weight as torch ops: schemas, the
definition (float64 product with the dequantized weight), the CPU path per format and
dtype, bad inputs naming the argument, opcheck, torch.compile, torch.export, and MLX's
mx.quantized_matmul / mx.dequantize on the same packed weights. Runs on CPU."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.quantized_cases import DTYPES, FORMAT_IDS, FORMATS, packed, random_codes
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

quantized_linear = torch.ops.metalgen.quantized_linear
dequantize_weight = torch.ops.metalgen.dequantize_weight


def reference64(x, qweight, scales, biases, bias, bits, group_size):
    double = [None if t is None else t.double() for t in (x, scales, biases, bias)]
    return REFERENCES["quantized_linear"](
        double[0], qweight, double[1], double[2], double[3], bits, group_size
    )


def test_schemas_are_registered():
    assert str(quantized_linear.default._schema) == (
        "metalgen::quantized_linear(Tensor x, Tensor qweight, Tensor scales, Tensor? biases=None, "
        "Tensor? bias=None, int bits=4, int group_size=64) -> Tensor"
    )
    assert str(dequantize_weight.default._schema) == (
        "metalgen::dequantize_weight(Tensor qweight, Tensor scales, Tensor? biases=None, "
        "int bits=4, int group_size=64) -> Tensor"
    )


def test_reference_is_a_linear_with_the_dequantized_weight():
    # Written out by hand: nibble j of word w of row n is w[n, 8 w + j]'s code.
    qweight = torch.tensor([[0x76543210, 0xFEDCBA98]], dtype=torch.int64).to(torch.uint32)
    scales = torch.tensor([[0.5, 2.0]], dtype=torch.float64)
    biases = torch.tensor([[-1.0, 3.0]], dtype=torch.float64)
    codes = torch.arange(16, dtype=torch.float64)
    weight = torch.cat([codes[:8] * 0.5 - 1.0, codes[8:] * 2.0 + 3.0]).reshape(1, 16)
    # group_size 8 is below the op's minimum of 32, so the reference is called directly.
    x = torch.randn(3, 16, dtype=torch.float64)
    out = REFERENCES["quantized_linear"](x, qweight, scales, biases, None, 4, 8)
    torch.testing.assert_close(out, x @ weight.T)
    assert torch.equal(REFERENCES["dequantize_weight"](qweight, scales, biases, 4, 8), weight)
    symmetric = REFERENCES["dequantize_weight"](qweight, scales, None, 4, 8)
    assert torch.equal(symmetric, torch.cat([(codes[:8] - 8) * 0.5, (codes[8:] - 8) * 2.0])[None])


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cpu_path_matches_the_float64_definition(fmt, dtype):
    _, bits, mode, group_size = fmt
    weight = packed(29, 256, bits, mode, group_size, dtype, seed=FORMATS.index(fmt))
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 256, generator=generator).to(dtype)
    bias = torch.randn(29, generator=generator).to(dtype)
    args = (x, weight.qweight, weight.scales, weight.biases, bias, bits, weight.group_size)
    out = quantized_linear(*args)
    assert out.shape == (2, 5, 29) and out.dtype == dtype
    assert_close_to_reference(out, reference64(*args))


@pytest.mark.parametrize(
    "shape", [(0, 64), (3, 0, 64), (4, 64)], ids=["no tokens", "empty batch", "four"]
)
def test_empty_inputs_give_empty_outputs(shape):
    # "four": four tokens, no output features.
    rows = 0 if shape == (4, 64) else 6
    weight = torch_metalgen.quantize_weight(torch.randn(rows, 64), 4, 32)
    out = quantized_linear(torch.randn(shape), *weight[:3], None, 4, 32)
    assert out.shape == (*shape[:-1], rows)


def test_zero_in_features_gives_the_bias():
    bias = torch.randn(5)
    qweight = torch.zeros(5, 0, dtype=torch.uint32)
    scales = torch.ones(5, 0)
    out = quantized_linear(torch.randn(3, 0), qweight, scales, None, bias, 4, 32)
    torch.testing.assert_close(out, bias.expand(3, 5))


def _good(dtype=torch.float32):
    weight = packed(6, 128, 4, "affine", 64, dtype)
    return dict(
        x=torch.randn(2, 128).to(dtype),
        qweight=weight.qweight,
        scales=weight.scales,
        biases=weight.biases,
        bias=torch.randn(6).to(dtype),
        bits=4,
        group_size=64,
    )


BAD_INPUTS = [
    # (description, changes to the good arguments, exception, words the message must contain)
    ("bits 3", dict(bits=3), ValueError, ["bits", "4 or 8", "3"]),
    ("bits 2", dict(bits=2), ValueError, ["bits", "4 or 8"]),
    ("group 48", dict(group_size=48), ValueError, ["group_size", "multiple of 32"]),
    ("group 0", dict(group_size=0), ValueError, ["group_size"]),
    ("K not divisible", dict(group_size=96), ValueError, ["in_features (128)", "group_size (96)"]),
    ("0-dim x", dict(x=torch.tensor(1.0)), ValueError, ["x", "at least 1 dimension"]),
    ("int x", dict(x=torch.ones(2, 128, dtype=torch.int64)), TypeError, ["x", "float32"]),
    ("float64 x", dict(x=torch.ones(2, 128, dtype=torch.float64)), TypeError, ["x"]),
    (
        "x wrong K",
        dict(x=torch.randn(2, 192), group_size=64),
        ValueError,
        ["wrong packing", "in_features is 192"],
    ),
    (
        "qweight uint8",
        dict(qweight=torch.zeros(6, 64, dtype=torch.uint8)),
        TypeError,
        ["qweight", "uint32"],
    ),
    (
        "qweight 1-D",
        dict(qweight=torch.zeros(96, dtype=torch.uint32)),
        ValueError,
        ["qweight", "2-D"],
    ),
    (
        "int8 words for int4",
        dict(bits=8),
        ValueError,
        ["wrong packing", "16 words per row"],
    ),
    ("scales rows", dict(scales=torch.ones(5, 2)), ValueError, ["mismatched scales", "(6, 2)"]),
    ("scales groups", dict(scales=torch.ones(6, 4)), ValueError, ["mismatched scales"]),
    ("scales 1-D", dict(scales=torch.ones(12)), ValueError, ["scales", "2-D"]),
    ("scales dtype", dict(scales=torch.ones(6, 2).half()), TypeError, ["scales", "dtype of x"]),
    ("scales int", dict(scales=torch.ones(6, 2, dtype=torch.int32)), TypeError, ["scales"]),
    ("biases shape", dict(biases=torch.zeros(6, 3)), ValueError, ["mismatched biases"]),
    ("biases dtype", dict(biases=torch.zeros(6, 2).half()), TypeError, ["biases", "dtype"]),
    ("bias shape", dict(bias=torch.zeros(7)), ValueError, ["bias", "(out_features,)"]),
    ("bias dtype", dict(bias=torch.zeros(6).half()), TypeError, ["bias", "dtype of x"]),
    (
        "qweight device",
        dict(qweight=torch.zeros(6, 16, dtype=torch.uint32, device="meta")),
        ValueError,
        ["device"],
    ),
    ("bias device", dict(bias=torch.zeros(6, device="meta")), ValueError, ["bias", "device"]),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, changes, exception, words = case
    arguments = {**_good(), **changes}
    with pytest.raises(exception) as info:
        quantized_linear(**arguments)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_dequantize_bad_inputs_name_the_argument():
    good = _good()
    with pytest.raises(ValueError, match="bits must be 4 or 8, got 5"):
        dequantize_weight(good["qweight"], good["scales"], None, 5, 64)
    with pytest.raises(ValueError, match="mismatched scales"):
        dequantize_weight(good["qweight"], torch.ones(6, 3), None, 4, 64)
    with pytest.raises(ValueError, match=r"in_features \(128\) must be divisible by group_size"):
        dequantize_weight(good["qweight"], good["scales"], None, 4, 96)
    with pytest.raises(TypeError, match="qweight must be uint32"):
        dequantize_weight(good["qweight"].view(torch.float32), good["scales"], None, 4, 64)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_opcheck_passes(dtype):
    good = _good(dtype)
    args = tuple(good.values())
    torch.library.opcheck(quantized_linear.default, args)
    symmetric = packed(6, 128, 8, "symmetric", None, dtype)
    torch.library.opcheck(
        quantized_linear.default, (good["x"], *symmetric[:3], None, 8, symmetric.group_size)
    )
    torch.library.opcheck(dequantize_weight.default, tuple(packed(5, 64, 4, "affine", 32, dtype)))


class TinyQuantizedMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch_metalgen.nn.QuantizedLinear.from_linear(torch.nn.Linear(64, 96), 4, 32)
        self.down = torch_metalgen.nn.QuantizedLinear.from_linear(
            torch.nn.Linear(96, 64, bias=False), 8, None, "symmetric"
        )

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.up(x)))


def test_torch_compile_fullgraph_dynamic_shapes():
    model = TinyQuantizedMLP().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for tokens in (1, 3, 17):
            x = torch.randn(2, tokens, 64)
            torch.testing.assert_close(compiled(x), model(x))


def test_torch_export_keeps_the_op():
    model = TinyQuantizedMLP().eval()
    x = torch.randn(2, 5, 64)
    exported = torch.export.export(model, (x,))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert targets.count("metalgen.quantized_linear.default") == 2, targets
    torch.testing.assert_close(exported.module()(x), model(x))


# ---- MLX: the same packed tensors through mx.quantized_matmul and mx.dequantize ----------


def _to_mlx(tensor, mx):
    if tensor.dtype == torch.uint32:
        return mx.array(tensor.numpy())
    dtype = {torch.float32: mx.float32, torch.float16: mx.float16, torch.bfloat16: mx.bfloat16}
    return mx.array(tensor.float().numpy()).astype(dtype[tensor.dtype])


def _from_mlx(array, mx, dtype):
    np = pytest.importorskip("numpy")
    return torch.from_numpy(np.array(array.astype(mx.float32))).to(dtype)


@pytest.mark.parametrize("group_size", [32, 64, 128])
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_agrees_with_mlx_quantized_matmul(dtype, bits, group_size):
    mx = pytest.importorskip("mlx.core")
    weight = packed(40, 256, bits, "affine", group_size, dtype, seed=bits + group_size)
    x = torch.randn(7, 256, generator=torch.Generator().manual_seed(2)).to(dtype)
    ours = quantized_linear(x, *weight[:3], None, bits, group_size)
    theirs = mx.quantized_matmul(
        _to_mlx(x, mx),
        _to_mlx(weight.qweight, mx),
        _to_mlx(weight.scales, mx),
        _to_mlx(weight.biases, mx),
        transpose=True,
        group_size=group_size,
        bits=bits,
    )
    # Both against the float64 definition. MLX on CPU accumulates in the storage dtype, so
    # its error is larger in float16/bfloat16; a packing mismatch would make it O(1).
    expected = reference64(x, *weight[:3], None, bits, group_size)
    assert_close_to_reference(ours, expected)
    theirs = _from_mlx(theirs, mx, torch.float64)
    error_theirs = float((theirs - expected).norm() / expected.norm())
    error_ours = float((ours.double() - expected).norm() / expected.norm())
    assert error_theirs < {torch.float32: 1e-5, torch.float16: 5e-3, torch.bfloat16: 5e-2}[dtype]
    assert error_ours <= error_theirs * 1.01 + 1e-7
    ours_weight = dequantize_weight(*weight[:3], bits, group_size)
    mlx_weight = _mlx_dequantize_float32(weight.qweight, weight.scales, weight.biases, bits, mx)
    if dtype == torch.float32:  # float32 scale * q rounds: a fused multiply-add may differ
        assert_close_to_reference(ours_weight, mlx_weight.double())
    else:
        assert torch.equal(mlx_weight.to(dtype), ours_weight)


def _mlx_dequantize_float32(qweight, scales, biases, bits, mx):
    """mx.dequantize of our packed tensors with float32 copies of the scales and biases (MLX
    on CPU computes in the scales' dtype: float16 would round scale * q before adding the
    bias; in float32 both compute scale * q + bias exactly as dequantize_weight does)."""
    group_size = qweight.shape[1] * 32 // bits // scales.shape[1]
    array = mx.dequantize(
        _to_mlx(qweight, mx),
        _to_mlx(scales.float(), mx),
        _to_mlx(biases.float(), mx),
        group_size=group_size,
        bits=bits,
    )
    return _from_mlx(array, mx, torch.float32)


def test_random_code_words_agree_with_mlx():
    # Every bit pattern of the words: the packing itself (nibble order) against MLX.
    mx = pytest.importorskip("mlx.core")
    generator = torch.Generator().manual_seed(4)
    qweight = random_codes(9, 64, 4, generator)
    scales = (0.5 + torch.rand(9, 2, generator=generator)).half()
    biases = torch.randn(9, 2, generator=generator).half()
    mlx_weight = _mlx_dequantize_float32(qweight, scales, biases, 4, mx)
    ours = dequantize_weight(qweight, scales, biases, 4, 32)
    assert torch.equal(mlx_weight.half(), ours)
