"""metalgen::layer_norm as a torch op: schema, reference numerics (incl. mean 1e3 / std 1),
fake/compile/export, bad inputs. Runs on CPU (the reference impl)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
layer_norm = torch.ops.metalgen.layer_norm


def reference64(x, weight, bias, eps):
    def as64(t):
        return None if t is None else t.double()

    return REFERENCES["layer_norm"](x.double(), as64(weight), as64(bias), eps)


def test_schema_is_registered():
    schema = str(layer_norm.default._schema)
    assert schema == (
        "metalgen::layer_norm(Tensor x, Tensor? weight=None, Tensor? bias=None, "
        "float eps=1.0000000000000001e-05) -> Tensor"
    )


def test_reference_is_torch_layer_norm():
    # The spec's definition is torch.nn.functional.layer_norm's, in float64.
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(4, 37, generator=generator, dtype=torch.float64) * 3 + 2
    weight = torch.randn(37, generator=generator, dtype=torch.float64)
    bias = torch.randn(37, generator=generator, dtype=torch.float64)
    expected = torch.nn.functional.layer_norm(x, (37,), weight, bias, 1e-5)
    torch.testing.assert_close(REFERENCES["layer_norm"](x, weight, bias, 1e-5), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (3, 31), (2, 4, 33), (5, 4097)])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_reference_matches_float64(dtype, shape, affine):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator).to(dtype)
    n = shape[-1]
    weight = torch.randn(n, generator=generator).to(dtype) if affine in ("both", "weight") else None
    bias = torch.randn(n, generator=generator).to(dtype) if affine in ("both", "bias") else None
    out = layer_norm(x, weight, bias, 1e-5)
    assert out.dtype == dtype and out.shape == x.shape
    assert_close_to_reference(out, reference64(x, weight, bias, 1e-5))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mean_1e3_std_1_is_not_naive_variance(dtype):
    # E[x^2] - E[x]^2 in float32 is 1e6 - 1e6: its result would be mostly rounding noise.
    x = (1e3 + torch.randn(6, 1000, generator=torch.Generator().manual_seed(1))).to(dtype)
    out = layer_norm(x, None, None, 1e-5)
    assert_close_to_reference(out, reference64(x, None, None, 1e-5))


def test_noncontiguous_and_offset_views_give_correct_results():
    base = torch.randn(8, 70, generator=torch.Generator().manual_seed(2))
    weight, bias = torch.randn(64), torch.randn(64)
    for x in (torch.randn(64, 8).t(), base[2:6, 3:67]):
        assert not x.is_contiguous()
        assert_close_to_reference(
            layer_norm(x, weight, bias, 1e-5), reference64(x, weight, bias, 1e-5)
        )


@pytest.mark.parametrize("shape", [(0, 16), (4, 0), (0,), (2, 0, 8)])
def test_empty_tensors_give_empty_results(shape):
    x = torch.randn(shape)
    weight = torch.ones(shape[-1])
    out = layer_norm(x, weight, weight, 1e-5)
    assert out.shape == x.shape and out.numel() == 0


def test_zero_eps_is_allowed_and_constant_rows_give_nan_like_torch():
    x = torch.ones(2, 8)
    out = layer_norm(x, None, None, 0.0)
    expected = torch.nn.functional.layer_norm(x, (8,), eps=0.0)
    assert out.isnan().all() and expected.isnan().all()


BAD_INPUTS = [
    # (description, x, weight, bias, eps, exception, words the message must contain)
    ("0-dim x", torch.tensor(1.0), None, None, 1e-5, ValueError, ["x", "at least 1 dimension"]),
    ("int x", torch.ones(2, 4, dtype=torch.int32), None, None, 1e-5, TypeError, ["x", "float32"]),
    ("float64 x", torch.ones(2, 4, dtype=torch.float64), None, None, 1e-5, TypeError, ["x"]),
    (
        "weight dtype",
        torch.ones(2, 4),
        torch.ones(4, dtype=torch.float16),
        None,
        1e-5,
        TypeError,
        ["weight", "same dtype"],
    ),
    (
        "bias dtype",
        torch.ones(2, 4),
        None,
        torch.ones(4, dtype=torch.bfloat16),
        1e-5,
        TypeError,
        ["bias", "same dtype"],
    ),
    (
        "weight too short",
        torch.ones(2, 4),
        torch.ones(3),
        None,
        1e-5,
        ValueError,
        ["weight", "(4,)"],
    ),
    ("bias too long", torch.ones(2, 4), None, torch.ones(5), 1e-5, ValueError, ["bias", "(4,)"]),
    ("2-D weight", torch.ones(2, 4), torch.ones(1, 4), None, 1e-5, ValueError, ["weight"]),
    ("eps negative", torch.ones(2, 4), None, None, -1e-6, ValueError, ["eps", "non-negative"]),
    ("eps nan", torch.ones(2, 4), None, None, float("nan"), ValueError, ["eps"]),
    ("eps inf", torch.ones(2, 4), None, None, float("inf"), ValueError, ["eps"]),
    (
        "weight device",
        torch.ones(2, 4),
        torch.ones(4, device="meta"),
        None,
        1e-5,
        ValueError,
        ["weight", "device"],
    ),
    (
        "bias device",
        torch.ones(2, 4),
        None,
        torch.ones(4, device="meta"),
        1e-5,
        ValueError,
        ["bias", "device"],
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, x, weight, bias, eps, exception, words = case
    with pytest.raises(exception) as info:
        layer_norm(x, weight, bias, eps)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_opcheck_passes():
    x = torch.randn(3, 40)
    weight, bias = torch.randn(40), torch.randn(40)
    torch.library.opcheck(layer_norm.default, (x, weight, bias, 1e-5))
    torch.library.opcheck(layer_norm.default, (x, None, None, 1e-6))
    torch.library.opcheck(layer_norm.default, (x.to(torch.bfloat16), None, bias.bfloat16(), 1e-6))


class TinyLayerNormModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(32, 32)
        self.weight = torch.nn.Parameter(torch.randn(32))
        self.bias = torch.nn.Parameter(torch.randn(32))

    def forward(self, x):
        return layer_norm(self.linear(x), self.weight, self.bias, 1e-5) * 2


def test_torch_compile_fullgraph_dynamic_shapes():
    model = TinyLayerNormModel().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for rows in (3, 5, 9):
            x = torch.randn(rows, 32)
            torch.testing.assert_close(compiled(x), model(x))


def test_torch_export_keeps_the_op():
    model = TinyLayerNormModel().eval()
    exported = torch.export.export(model, (torch.randn(4, 32),))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.layer_norm.default" in targets, targets
    x = torch.randn(4, 32)
    torch.testing.assert_close(exported.module()(x), model(x))


def test_agrees_with_mlx_fast_layer_norm():
    # mlx's CPU build: an independent implementation of the same op.
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    generator = torch.Generator().manual_seed(4)
    x = 5 + 2 * torch.randn(7, 300, generator=generator)
    weight, bias = torch.randn(300, generator=generator), torch.randn(300, generator=generator)
    ours = layer_norm(x, weight, bias, 1e-5)
    arrays = [mx.array(t.numpy()) for t in (x, weight, bias)]
    theirs = torch.from_numpy(np.array(mx.fast.layer_norm(*arrays, 1e-5)))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_public_wrapper_has_defaults_and_types_its_arguments():
    x = torch.randn(3, 20)
    torch.testing.assert_close(torch_metalgen.layer_norm(x), layer_norm(x, None, None, 1e-5))
    with pytest.raises(TypeError, match="eps"):
        torch_metalgen.layer_norm(x, eps="1e-5")


@pytest.mark.parametrize("affine", [True, False])
def test_gradients_match_autograd_of_the_reference(affine):
    generator = torch.Generator().manual_seed(6)
    x = (4 + torch.randn(3, 17, generator=generator)).requires_grad_()
    weight = torch.randn(17, generator=generator).requires_grad_() if affine else None
    bias = torch.randn(17, generator=generator).requires_grad_() if affine else None
    out = layer_norm(x, weight, bias, 1e-5)
    grad = torch.randn(out.shape, generator=generator)
    out.backward(grad)
    leaves = [t for t in (x, weight, bias) if t is not None]
    copies = [t.detach().double().requires_grad_() for t in leaves]
    args = copies if affine else [copies[0], None, None]
    REFERENCES["layer_norm"](*args, 1e-5).backward(grad.double())
    for leaf, copy in zip(leaves, copies, strict=True):
        torch.testing.assert_close(leaf.grad.double(), copy.grad, rtol=1e-4, atol=1e-5)
