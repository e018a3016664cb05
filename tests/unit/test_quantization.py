"""torch_metalgen.quantization: quantize_weight (MLX's bits, exact round trips, errors),
QuantizedLinear, quantize(model) and its report, saving and loading quantized state dicts,
and loading an MLX-quantized state dict. CPU paths (the kernels are the sim tier's)."""

from __future__ import annotations

import io

import pytest
import torch

import torch_metalgen
from tests.quantized_cases import DTYPES, FORMAT_IDS, FORMATS, random_weight, representable
from torch_metalgen.quantization import (
    QuantizedLinear,
    convert_mlx_state_dict,
    load_mlx_state_dict,
    load_quantized_state_dict,
    pack_codes,
    quantize_weight,
    unpack_codes,
)


def _mx():
    return pytest.importorskip("mlx.core")


def _mx_dtype(mx, dtype):
    return {torch.float32: mx.float32, torch.float16: mx.float16, torch.bfloat16: mx.bfloat16}[
        dtype
    ]


def _to_torch(array, mx, dtype):
    np = pytest.importorskip("numpy")
    if array.dtype == mx.uint32:
        return torch.from_numpy(np.array(array))
    return torch.from_numpy(np.array(array.astype(mx.float32))).to(dtype)


def mlx_quantize(w: torch.Tensor, bits: int, group_size: int):
    """mx.quantize of w (same dtype) as torch tensors (qweight, scales, biases)."""
    mx = _mx()
    array = mx.array(w.float().numpy()).astype(_mx_dtype(mx, w.dtype))
    q, s, b = mx.quantize(array, group_size=group_size, bits=bits)
    return _to_torch(q, mx, None), _to_torch(s, mx, w.dtype), _to_torch(b, mx, w.dtype)


@pytest.mark.parametrize("group_size", [32, 64, 128])
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_affine_quantization_is_mlx_bit_for_bit(dtype, bits, group_size):
    w = random_weight(48, 256, seed=bits * group_size, dtype=dtype)
    ours = quantize_weight(w, bits, group_size, "affine")
    qweight, scales, biases = mlx_quantize(w, bits, group_size)
    assert ours.qweight.dtype == torch.uint32 and ours.scales.dtype == dtype
    assert torch.equal(ours.qweight, qweight)
    assert torch.equal(ours.scales, scales)
    assert torch.equal(ours.biases, biases)


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_is_exact_on_representable_weights(fmt, dtype):
    _, bits, mode, group_size = fmt
    w = representable(20, 256, bits, mode, group_size, dtype, seed=FORMATS.index(fmt))
    packed = quantize_weight(w, bits, group_size, mode)
    assert torch.equal(torch_metalgen.dequantize_weight(*packed), w)
    # And once more from the dequantized weight: the same codes, scales and biases.
    again = quantize_weight(torch_metalgen.dequantize_weight(*packed), bits, group_size, mode)
    assert torch.equal(again.qweight, packed.qweight) and torch.equal(again.scales, packed.scales)


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_quantization_error_is_within_a_step(fmt):
    # Symmetric: half a step (round to nearest). Affine: MLX's algorithm (measured up to
    # 0.998 of a step on these weights).
    _, bits, mode, group_size = fmt
    w = random_weight(32, 256, seed=3)
    packed = quantize_weight(w, bits, group_size, mode)
    back = torch_metalgen.dequantize_weight(*packed)
    step = packed.scales.abs().repeat_interleave(packed.group_size, dim=1)
    slack = 1e-6 * w.abs().max()
    if mode == "symmetric":
        assert ((back - w).abs() <= step / 2 + slack).all()
    else:  # MLX's edge adjustment puts the larger edge on the grid; the rest within a step
        assert ((back - w).abs() <= step + slack).all()


def test_pack_and_unpack_codes_are_inverse_and_least_significant_first():
    codes = torch.arange(16).reshape(1, 16)
    words = pack_codes(codes, 4)
    assert words.tolist() == [[0x76543210, 0xFEDCBA98]]
    assert torch.equal(unpack_codes(words, 4), codes)
    assert pack_codes(torch.tensor([[1, 2, 3, 255]]), 8).tolist() == [[0xFF030201]]


BAD = [
    ("bits 3", dict(bits=3), ValueError, "bits must be 4 or 8"),
    ("bits True", dict(bits=True), ValueError, "bits must be 4 or 8"),
    ("group 48", dict(group_size=48), ValueError, "group_size must be a positive multiple of 32"),
    ("group float", dict(group_size=64.0), TypeError, "group_size must be an int or None"),
    ("K % group", dict(group_size=128, w=torch.randn(4, 192)), ValueError, "in_features (192)"),
    ("mode", dict(mode="asymmetric"), ValueError, "mode must be 'affine' or 'symmetric'"),
    ("1-D w", dict(w=torch.randn(64)), ValueError, "w must be 2-D"),
    ("int w", dict(w=torch.ones(4, 64, dtype=torch.int32)), TypeError, "w must be float32"),
    ("dtype", dict(dtype=torch.float64), TypeError, "dtype must be float32"),
    ("nan w", dict(w=torch.full((4, 64), float("nan"))), ValueError, "inf or NaN"),
    ("list w", dict(w=[[1.0]]), TypeError, "w must be a torch.Tensor"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_quantize_weight_bad_arguments_name_the_argument(case):
    _, changes, exception, words = case
    arguments = dict(w=torch.randn(4, 64), bits=4, group_size=32, mode="affine")
    arguments.update(changes)
    with pytest.raises(exception, match=words.replace("(", r"\(").replace(")", r"\)")):
        quantize_weight(**arguments)


def test_quantized_linear_module_computes_the_dequantized_linear():
    linear = torch.nn.Linear(128, 24)
    layer = torch_metalgen.nn.QuantizedLinear.from_linear(linear, bits=4, group_size=64)
    assert isinstance(layer, QuantizedLinear) and layer.mode == "affine"
    x = torch.randn(3, 128)
    expected = torch.nn.functional.linear(x, layer.dequantized_weight(), linear.bias)
    torch.testing.assert_close(layer(x), expected)
    assert "bits=4, group_size=64, mode=affine, bias=True" in repr(layer)
    per_channel = QuantizedLinear.from_linear(linear, bits=8, group_size=None, mode="symmetric")
    assert per_channel.group_size == 128 and per_channel.biases is None
    assert per_channel.scales.shape == (24, 1)
    assert sorted(per_channel.state_dict()) == ["bias", "qweight", "scales"]


def test_module_dtype_follows_the_model_and_inputs_of_another_dtype_still_work():
    layer = QuantizedLinear.from_linear(torch.nn.Linear(64, 8), 4, 32)
    x = torch.randn(2, 64)
    expected = layer(x)
    half = layer.half()
    assert half.scales.dtype == torch.float16 and half.qweight.dtype == torch.uint32
    torch.testing.assert_close(half(x.half()).float(), expected, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(half(x), expected, rtol=2e-3, atol=2e-3)  # converted per call


def test_from_linear_rejects_what_is_not_a_linear():
    with pytest.raises(TypeError, match="linear must be a torch.nn.Linear"):
        QuantizedLinear.from_linear(torch.nn.Conv1d(4, 4, 1))
    with pytest.raises(ValueError, match="in_features"):
        QuantizedLinear.from_linear(torch.nn.Linear(48, 4), group_size=32)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 64)
        self.up = torch.nn.Linear(64, 128)
        self.odd = torch.nn.Linear(96, 64)
        self.down = torch.nn.Linear(128, 96, bias=False)
        self.lm_head = torch.nn.Linear(96, 50, bias=False)

    def forward(self, ids):
        hidden = torch.nn.functional.gelu(self.up(self.embed(ids)))
        return self.lm_head(self.down(hidden))


def test_quantize_model_replaces_linears_reports_bytes_and_skips():
    torch.manual_seed(0)
    model = MLP()
    ids = torch.randint(0, 50, (2, 5))
    expected = model(ids)
    report = torch_metalgen.quantize(model, bits=4, group_size=64)
    assert report.replaced == ["up", "down"]
    assert report.skipped["lm_head"] == "matches skip"
    assert "in_features (96) must be divisible by group_size (64)" in report.skipped["odd"]
    assert isinstance(model.embed, torch.nn.Embedding) and isinstance(model.up, QuantizedLinear)
    assert report.bytes_after < report.bytes_before
    # float32 weights (4 bytes) -> 4-bit codes (1/2 byte) + a float32 scale and bias per
    # group: up has 128 rows of 1 group, down 96 rows of 2; biases of the layers unchanged.
    weights = 64 * 128 + 128 * 96
    groups = 128 * 1 + 96 * 2
    assert report.bytes_before - report.bytes_after == weights * 4 - weights // 2 - groups * 8
    assert "quantized 2 nn.Linear layers to int4 affine" in str(report)
    relative = (model(ids) - expected).norm() / expected.norm()
    assert relative < 0.2  # int4 of random weights: reported by the models tier, sanity here
    everything = MLP()
    report = torch_metalgen.quantize(everything, bits=8, group_size=None, skip=())
    assert report.replaced == ["up", "odd", "down", "lm_head"] and not report.skipped


def test_quantizing_a_tied_output_projection_is_noted():
    model = MLP()
    model.lm_head = torch.nn.Linear(64, 50, bias=False)
    model.lm_head.weight = model.embed.weight  # tied, as many LLMs tie lm_head
    report = torch_metalgen.quantize(model, bits=8, group_size=32, skip=("odd", "down"))
    assert report.notes == {"lm_head": "weight tied to embed.weight, which keeps it in float"}
    assert "note lm_head: weight tied to embed.weight" in str(report)
    assert isinstance(model.lm_head, QuantizedLinear)
    assert isinstance(model.embed.weight, torch.nn.Parameter)


def test_quantize_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bits must be 4 or 8, got 2"):
        torch_metalgen.quantize(MLP(), bits=2)
    with pytest.raises(TypeError, match="skip must be a collection"):
        torch_metalgen.quantize(MLP(), skip="lm_head")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        torch_metalgen.quantize("model")


@pytest.mark.parametrize("fmt", [FORMATS[1], FORMATS[5]], ids=[FORMAT_IDS[1], FORMAT_IDS[5]])
def test_saved_state_dict_loads_into_a_fresh_model(fmt):
    _, bits, mode, group_size = fmt
    torch.manual_seed(1)
    model = MLP()
    torch_metalgen.quantize(model, bits=bits, group_size=group_size, mode=mode, skip=("odd",))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state_dict = torch.load(buffer, weights_only=True)
    fresh = MLP()
    result = load_quantized_state_dict(fresh, state_dict)
    assert not result.missing_keys and not result.unexpected_keys
    assert type(fresh.lm_head) is type(model.lm_head)  # quantized unless 64 does not divide 96
    assert isinstance(fresh.odd, torch.nn.Linear) and isinstance(fresh.up, QuantizedLinear)
    assert (fresh.up.bits, fresh.up.group_size, fresh.up.mode) == (
        bits,
        group_size or 64,
        mode,
    )
    ids = torch.randint(0, 50, (2, 5))
    assert torch.equal(fresh(ids), model(ids))


def test_mlx_quantized_state_dict_loads_bit_for_bit():
    # An mlx-lm style checkpoint: every Linear and the embedding quantized by mx.quantize,
    # "weight" holding the packed uint32 words; written and read back as safetensors.
    mx = _mx()
    safetensors = pytest.importorskip("safetensors.torch")
    torch.manual_seed(2)
    model = MLP().half()
    checkpoint = {}
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            qweight, scales, biases = mlx_quantize(module.weight.detach(), 4, 32)
            checkpoint.update(
                {f"{name}.weight": qweight, f"{name}.scales": scales, f"{name}.biases": biases}
            )
            if getattr(module, "bias", None) is not None:
                checkpoint[f"{name}.bias"] = module.bias.detach().clone()
    buffer = safetensors.save(checkpoint)
    loaded = safetensors.load(buffer)
    fresh = MLP().half()
    result = load_mlx_state_dict(fresh, loaded)
    assert not result.missing_keys and not result.unexpected_keys
    for name in ("up", "odd", "down", "lm_head"):
        layer = fresh.get_submodule(name)
        assert isinstance(layer, QuantizedLinear) and (layer.bits, layer.group_size) == (4, 32)
        assert torch.equal(layer.qweight, checkpoint[f"{name}.weight"])
    embedding = mx.dequantize(
        mx.array(checkpoint["embed.weight"].numpy()),
        mx.array(checkpoint["embed.scales"].float().numpy()),
        mx.array(checkpoint["embed.biases"].float().numpy()),
        group_size=32,
        bits=4,
    )
    assert torch.equal(fresh.embed.weight, _to_torch(embedding, mx, torch.float16))
    # The same packed layer in MLX and here.
    x = torch.randn(3, 64).half()
    theirs = mx.quantized_matmul(
        mx.array(x.float().numpy()),
        mx.array(checkpoint["up.weight"].numpy()),
        mx.array(checkpoint["up.scales"].float().numpy()),
        mx.array(checkpoint["up.biases"].float().numpy()),
        transpose=True,
        group_size=32,
        bits=4,
    )
    expected = _to_torch(theirs, mx, torch.float32) + checkpoint["up.bias"].float()
    torch.testing.assert_close(fresh.up(x).float(), expected, rtol=2e-3, atol=2e-3)


def test_mlx_state_dict_for_another_architecture_is_refused():
    checkpoint = {
        "nope.weight": torch.zeros(4, 8, dtype=torch.uint32),
        "nope.scales": torch.ones(4, 2),
        "nope.biases": torch.zeros(4, 2),
    }
    with pytest.raises(ValueError, match="quantizes 'nope', which the model does not have"):
        convert_mlx_state_dict(checkpoint, MLP())
