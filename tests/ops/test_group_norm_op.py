"""metalgen::group_norm as a torch op: schema, the definition (torch.nn.GroupNorm, then an
optional SiLU), fake/compile/export, bad inputs. Runs on CPU (the reference impl)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
group_norm = torch.ops.metalgen.group_norm


def reference64(x, groups, weight, bias, eps, silu):
    def as64(t):
        return None if t is None else t.double()

    return REFERENCES["group_norm"](x.double(), groups, as64(weight), as64(bias), eps, silu)


def test_schema_is_registered():
    assert str(group_norm.default._schema) == (
        "metalgen::group_norm(Tensor x, int num_groups, Tensor? weight=None, Tensor? bias=None, "
        "float eps=1.0000000000000001e-05, bool silu=False) -> Tensor"
    )


@pytest.mark.parametrize("silu", [False, True])
@pytest.mark.parametrize("shape", [(2, 6), (2, 6, 5), (2, 6, 3, 4), (1, 6, 2, 3, 2)])
def test_reference_is_torch_group_norm_then_silu(shape, silu):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator, dtype=torch.float64) * 2 + 1
    weight = torch.randn(6, generator=generator, dtype=torch.float64)
    bias = torch.randn(6, generator=generator, dtype=torch.float64)
    expected = torch.nn.functional.group_norm(x, 3, weight, bias, 1e-5)
    if silu:
        expected = torch.nn.functional.silu(expected)
    torch.testing.assert_close(REFERENCES["group_norm"](x, 3, weight, bias, 1e-5, silu), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape, groups", [((1, 1, 1), 1), ((2, 6, 7, 5), 3), ((3, 32, 9, 9), 32)])
@pytest.mark.parametrize("silu", [False, True])
def test_reference_matches_float64(dtype, shape, groups, silu):
    generator = torch.Generator().manual_seed(1)
    x = (1e3 + torch.randn(shape, generator=generator)).to(dtype)
    weight = torch.randn(shape[1], generator=generator).to(dtype)
    bias = torch.randn(shape[1], generator=generator).to(dtype)
    out = group_norm(x, groups, weight, bias, 1e-5, silu)
    assert out.dtype == dtype and out.shape == x.shape
    assert_close_to_reference(out, reference64(x, groups, weight, bias, 1e-5, silu))


def test_noncontiguous_channels_last_input():
    x = torch.randn(2, 8, 5, 6).to(memory_format=torch.channels_last)
    assert not x.is_contiguous()
    out = group_norm(x, 4, None, None, 1e-5, True)
    assert_close_to_reference(out, reference64(x, 4, None, None, 1e-5, True))


@pytest.mark.parametrize("shape", [(0, 4, 3), (2, 4, 0), (2, 0, 5), (0, 4)])
def test_empty_tensors_give_empty_results(shape):
    x = torch.randn(shape)
    out = group_norm(x, 2 if shape[1] else 1, None, None, 1e-5, False)
    assert out.shape == x.shape and out.numel() == 0


BAD_INPUTS = [
    # (description, x, groups, weight, bias, eps, exception, words the message must contain)
    ("1-D x", torch.ones(4), 2, None, None, 1e-5, ValueError, ["x", "(N, C, *spatial)"]),
    (
        "int x",
        torch.ones(2, 4, dtype=torch.int32),
        2,
        None,
        None,
        1e-5,
        TypeError,
        ["x", "float32"],
    ),
    ("zero groups", torch.ones(2, 4), 0, None, None, 1e-5, ValueError, ["num_groups", "positive"]),
    ("negative groups", torch.ones(2, 4), -2, None, None, 1e-5, ValueError, ["num_groups"]),
    (
        "groups not dividing",
        torch.ones(2, 6, 3),
        4,
        None,
        None,
        1e-5,
        ValueError,
        ["num_groups", "divide"],
    ),
    (
        "weight dtype",
        torch.ones(2, 4, 3),
        2,
        torch.ones(4, dtype=torch.float16),
        None,
        1e-5,
        TypeError,
        ["weight", "same dtype"],
    ),
    (
        "weight shape",
        torch.ones(2, 4, 3),
        2,
        torch.ones(3),
        None,
        1e-5,
        ValueError,
        ["weight", "(4,)"],
    ),
    (
        "bias shape",
        torch.ones(2, 4, 3),
        2,
        None,
        torch.ones(4, 1),
        1e-5,
        ValueError,
        ["bias", "(4,)"],
    ),
    (
        "bias device",
        torch.ones(2, 4, 3),
        2,
        None,
        torch.ones(4, device="meta"),
        1e-5,
        ValueError,
        ["bias", "device"],
    ),
    ("eps negative", torch.ones(2, 4, 3), 2, None, None, -1.0, ValueError, ["eps"]),
    ("eps nan", torch.ones(2, 4, 3), 2, None, None, float("nan"), ValueError, ["eps"]),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, x, groups, weight, bias, eps, exception, words = case
    with pytest.raises(exception) as info:
        group_norm(x, groups, weight, bias, eps, False)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_opcheck_passes():
    x = torch.randn(2, 8, 3, 5)
    weight, bias = torch.randn(8), torch.randn(8)
    torch.library.opcheck(group_norm.default, (x, 4, weight, bias, 1e-5, True))
    torch.library.opcheck(group_norm.default, (x, 2, None, None, 1e-6, False))
    torch.library.opcheck(
        group_norm.default, (x.bfloat16(), 8, weight.bfloat16(), None, 1e-6, True)
    )


class TinyResBlockStart(torch.nn.Module):
    """conv -> GroupNorm + SiLU, as a UNet ResBlock starts."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.weight = torch.nn.Parameter(torch.randn(8))
        self.bias = torch.nn.Parameter(torch.randn(8))

    def forward(self, x):
        return group_norm(self.conv(x), 4, self.weight, self.bias, 1e-6, True)


def test_torch_compile_fullgraph_dynamic_shapes():
    model = TinyResBlockStart().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for size in (3, 5, 8):
            x = torch.randn(2, 4, size, size)
            torch.testing.assert_close(compiled(x), model(x))


def test_torch_export_keeps_the_op():
    model = TinyResBlockStart().eval()
    x = torch.randn(1, 4, 6, 6)
    exported = torch.export.export(model, (x,))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.group_norm.default" in targets, targets
    torch.testing.assert_close(exported.module()(x), model(x))


def test_agrees_with_mlx_group_norm():
    mx = pytest.importorskip("mlx.core")
    nn = pytest.importorskip("mlx.nn")
    np = pytest.importorskip("numpy")
    generator = torch.Generator().manual_seed(2)
    x = 2 + torch.randn(2, 8, 5, 6, generator=generator)
    weight, bias = torch.randn(8, generator=generator), torch.randn(8, generator=generator)
    ours = group_norm(x, 4, weight, bias, 1e-5, False)
    # mlx is channels-last and needs pytorch_compatible=True for torch's channel grouping.
    layer = nn.GroupNorm(4, 8, eps=1e-5, affine=True, pytorch_compatible=True)
    layer.weight, layer.bias = mx.array(weight.numpy()), mx.array(bias.numpy())
    theirs = np.array(layer(mx.array(x.permute(0, 2, 3, 1).numpy())))
    torch.testing.assert_close(
        ours, torch.from_numpy(theirs).permute(0, 3, 1, 2), rtol=1e-5, atol=1e-5
    )


def test_public_wrapper_has_defaults_and_types_its_arguments():
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(
        torch_metalgen.group_norm(x, 2), group_norm(x, 2, None, None, 1e-5, False)
    )
    with pytest.raises(TypeError, match="num_groups"):
        torch_metalgen.group_norm(x, 2.0)


def test_gradients_match_autograd_of_the_reference():
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(2, 6, 5, generator=generator).requires_grad_()
    weight = torch.randn(6, generator=generator).requires_grad_()
    bias = torch.randn(6, generator=generator).requires_grad_()
    out = group_norm(x, 3, weight, bias, 1e-5, True)
    grad = torch.randn(out.shape, generator=generator)
    out.backward(grad)
    copies = [t.detach().double().requires_grad_() for t in (x, weight, bias)]
    REFERENCES["group_norm"](copies[0], 3, copies[1], copies[2], 1e-5, True).backward(grad.double())
    for leaf, copy in zip((x, weight, bias), copies, strict=True):
        torch.testing.assert_close(leaf.grad.double(), copy.grad, rtol=1e-4, atol=1e-5)
