"""quantized_linear and dequantize_weight on a real Apple GPU (skipped without one; never
faked): every format x dtype at decode (gemv) and prefill (tiled) token counts against the
float64 definition, dequantize bit for bit against the CPU path, uint32 tensors on MPS,
a sliced qweight (setBuffer offset), and a quantized tiny Llama's logits against CPU."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.quantized_cases import DTYPES, FORMAT_IDS, FORMATS, packed
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.tolerances import LOGITS_TOLERANCE

pytestmark = pytest.mark.mps


@pytest.fixture(autouse=True)
def _needs_mps_kernels():
    if not torch_metalgen._ops.mps_kernels_available():
        pytest.skip("this build has no MPS kernels (built off macOS)")


def _reference64(x, qweight, scales, biases, bits, group_size):
    return REFERENCES["quantized_linear"](
        x.double(),
        qweight,
        scales.double(),
        None if biases is None else biases.double(),
        None,
        bits,
        group_size,
    )


def _mps(tensor):
    return None if tensor is None else tensor.to("mps")


@pytest.mark.parametrize("tokens", [1, 5, 40], ids=["decode", "gemv-5", "prefill"])
@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_matches_float64_definition(dtype, fmt, tokens):
    _, bits, mode, group_size = fmt
    weight = packed(67, 512, bits, mode, group_size, dtype, seed=tokens)
    x = torch.randn(tokens, 512).to(dtype)
    out = torch_metalgen.quantized_linear(
        _mps(x), *(_mps(t) for t in weight[:3]), None, bits, weight.group_size
    )
    assert out.device.type == "mps" and out.dtype == dtype
    expected = _reference64(x, *weight[:3], bits, weight.group_size)
    assert_close_to_reference(out.cpu(), expected)


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_dequantize_is_the_cpu_path_bit_for_bit(dtype, fmt):
    _, bits, mode, group_size = fmt
    weight = packed(33, 256, bits, mode, group_size, dtype)
    on_gpu = torch_metalgen.dequantize_weight(
        *(_mps(t) for t in weight[:3]), bits, weight.group_size
    )
    assert torch.equal(on_gpu.cpu(), torch_metalgen.dequantize_weight(*weight))


def test_sliced_qweight_binds_its_offset():
    weight = packed(40, 128, 4, "affine", 64, torch.float16)
    x = torch.randn(2, 128).half()
    rows = slice(5, 40)
    out = torch_metalgen.quantized_linear(
        _mps(x),
        _mps(weight.qweight)[rows],
        _mps(weight.scales)[rows],
        _mps(weight.biases)[rows],
        None,
        4,
        64,
    )
    expected = _reference64(
        x, weight.qweight[rows], weight.scales[rows], weight.biases[rows], 4, 64
    )
    assert_close_to_reference(out.cpu(), expected)


def test_quantized_tiny_llama_on_mps_matches_cpu():
    tiny = pytest.importorskip("torch_metalgen.tiny_models")
    model = tiny.build("llama", torch.float16)
    torch_metalgen.quantize(model, bits=4, group_size=32)
    ids = tiny.input_ids(batch=1, length=7)
    with torch.no_grad():
        expected = model(input_ids=ids).logits.double()
        actual = model.to("mps")(input_ids=ids.to("mps")).logits.cpu().double()
    relative = (actual - expected).abs().max() / expected.abs().max()
    assert relative <= LOGITS_TOLERANCE[torch.float16]
