"""metalgen::softmax as a torch op: schema, the definition (scale, broadcast masks, causal,
log, fully masked rows), fake/compile/export, bad inputs. Runs on CPU (the reference impl)."""

from __future__ import annotations

import math

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
softmax = torch.ops.metalgen.softmax


def reference64(x, scale, mask, causal, log):
    mask64 = None if mask is None else mask.double()
    return REFERENCES["softmax"](x.double(), scale, mask64, causal, log)


def assert_close_with_infinities(actual, reference):
    """assert_close_to_reference on the finite elements, after requiring the same -inf
    (hidden keys under log=True) in the same places: the norms of -inf would be NaN."""
    infinite = reference.isinf()
    assert torch.equal(actual.isinf(), infinite), "-inf in different places"
    assert torch.equal(actual[infinite].double(), reference[infinite])
    assert_close_to_reference(actual[~infinite], reference[~infinite])


def test_schema_is_registered():
    assert str(softmax.default._schema) == (
        "metalgen::softmax(Tensor x, float scale=1., Tensor? mask=None, bool causal=False, "
        "bool log=False) -> Tensor"
    )


@pytest.mark.parametrize("log", [False, True])
def test_reference_is_torch_softmax_of_scaled_masked_logits(log):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=generator, dtype=torch.float64)
    mask = torch.randn(1, 3, 1, 7, generator=generator, dtype=torch.float64)
    expected = (torch.log_softmax if log else torch.softmax)(x * 0.3 + mask, -1)
    torch.testing.assert_close(REFERENCES["softmax"](x, 0.3, mask, False, log), expected)


def test_causal_is_bottom_right_aligned():
    # 2 queries over 4 keys (a KV cache of 2 plus 2 new tokens): query 0 sees keys 0-2.
    x = torch.zeros(2, 4)
    out = softmax(x, 1.0, None, True, False)
    expected = torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0], [0.25, 0.25, 0.25, 0.25]])
    torch.testing.assert_close(out, expected)
    # Square: the usual lower triangle, as scaled_dot_product_attention(is_causal=True).
    square = torch.randn(5, 5)
    lower = torch.ones(5, 5, dtype=torch.bool).tril()
    torch.testing.assert_close(
        softmax(square, 1.0, None, True, False),
        torch.softmax(square.masked_fill(~lower, float("-inf")), -1),
    )


@pytest.mark.parametrize("log, fill", [(False, 0.0), (True, float("-inf"))])
def test_fully_masked_rows_are_zero_or_minus_inf_not_nan(log, fill):
    x = torch.randn(3, 6)
    mask = torch.zeros(3, 6)
    mask[1] = float("-inf")  # row 1 sees nothing
    out = softmax(x, 1.0, mask, False, log)
    assert torch.equal(out[1], torch.full((6,), fill))
    assert not out.isnan().any()
    # causal with more queries than keys: the first queries see no key
    tall = softmax(torch.randn(5, 3), 1.0, None, True, log)
    assert torch.equal(tall[:2], torch.full((2, 3), fill))
    assert not tall.isnan().any()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (3, 31), (2, 4, 33), (5, 4097), (152064,)])
@pytest.mark.parametrize("log", [False, True])
def test_reference_matches_float64(dtype, shape, log):
    x = (3 * torch.randn(shape, generator=torch.Generator().manual_seed(1))).to(dtype)
    out = softmax(x, 0.7, None, False, log)
    assert out.dtype == dtype and out.shape == x.shape
    assert_close_to_reference(out, reference64(x, 0.7, None, False, log))


MASK_SHAPES = [(7,), (5, 7), (1, 1, 1, 7), (2, 1, 1, 7), (1, 3, 5, 7), (2, 3, 5, 7), (3, 1, 7)]


@pytest.mark.parametrize("mask_shape", MASK_SHAPES, ids=str)
def test_broadcast_masks(mask_shape):
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 5, 7, generator=generator)
    mask = torch.randn(mask_shape, generator=generator)
    mask[mask > 1.0] = float("-inf")
    for causal in (False, True):
        out = softmax(x, 0.5, mask, causal, False)
        assert_close_to_reference(out, reference64(x, 0.5, mask, causal, False))


def test_noncontiguous_views():
    x = torch.randn(4, 9, 20)[:, 1:8, 2:17]
    mask = torch.randn(15, 7).t()
    assert not x.is_contiguous() and not mask.is_contiguous()
    for log in (False, True):
        assert_close_with_infinities(
            softmax(x, 1.0, mask, True, log), reference64(x, 1.0, mask, True, log)
        )


@pytest.mark.parametrize("shape", [(0, 16), (4, 0), (0,), (2, 0, 8)])
def test_empty_tensors_give_empty_results(shape):
    x = torch.randn(shape)
    out = softmax(x, 1.0, torch.zeros(shape[-1:]), True, False)
    assert out.shape == x.shape and out.numel() == 0


BAD_INPUTS = [
    # (description, x, scale, mask, exception, words the message must contain)
    ("0-dim x", torch.tensor(1.0), 1.0, None, ValueError, ["x", "at least 1 dimension"]),
    ("int x", torch.ones(2, 4, dtype=torch.int64), 1.0, None, TypeError, ["x", "float32"]),
    ("float64 x", torch.ones(2, 4, dtype=torch.float64), 1.0, None, TypeError, ["x"]),
    ("scale nan", torch.ones(2, 4), float("nan"), None, ValueError, ["scale", "finite"]),
    ("scale inf", torch.ones(2, 4), float("inf"), None, ValueError, ["scale"]),
    (
        "bool mask",
        torch.ones(2, 4),
        1.0,
        torch.ones(2, 4, dtype=torch.bool),
        TypeError,
        ["mask", "same dtype", "additive"],
    ),
    ("mask dtype", torch.ones(2, 4), 1.0, torch.ones(4).half(), TypeError, ["mask", "dtype"]),
    ("mask wrong keys", torch.ones(2, 4), 1.0, torch.ones(2, 5), ValueError, ["mask", "broadcast"]),
    ("mask more dims", torch.ones(2, 4), 1.0, torch.ones(1, 2, 4), ValueError, ["mask"]),
    (
        "mask 5-D",
        torch.ones(1, 1, 1, 2, 4),
        1.0,
        torch.ones(1, 1, 1, 2, 4),
        ValueError,
        ["mask", "4"],
    ),
    (
        "mask device",
        torch.ones(2, 4),
        1.0,
        torch.ones(4, device="meta"),
        ValueError,
        ["mask", "device"],
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, x, scale, mask, exception, words = case
    with pytest.raises(exception) as info:
        softmax(x, scale, mask, False, False)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_opcheck_passes():
    x = torch.randn(2, 3, 5, 6)
    mask = torch.randn(1, 1, 5, 6)
    torch.library.opcheck(softmax.default, (x, 0.5, mask, True, False))
    torch.library.opcheck(softmax.default, (x, 1.0, None, False, True))
    torch.library.opcheck(softmax.default, (x.half(), 1.0, mask.half(), False, False))


class TinyAttentionProbabilities(torch.nn.Module):
    def __init__(self, head_dim=16):
        super().__init__()
        self.q = torch.nn.Linear(head_dim, head_dim)
        self.scale = 1 / math.sqrt(head_dim)

    def forward(self, x, mask):
        q = self.q(x)
        scores = q @ x.transpose(-1, -2)
        return softmax(scores, self.scale, mask, True, False)


def test_torch_compile_fullgraph_dynamic_shapes():
    model = TinyAttentionProbabilities().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for seq in (3, 5, 9):
            x, mask = torch.randn(2, seq, 16), torch.randn(seq, seq)
            torch.testing.assert_close(compiled(x, mask), model(x, mask))


def test_torch_export_keeps_the_op():
    model = TinyAttentionProbabilities().eval()
    x, mask = torch.randn(2, 6, 16), torch.randn(6, 6)
    exported = torch.export.export(model, (x, mask))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.softmax.default" in targets, targets
    torch.testing.assert_close(exported.module()(x, mask), model(x, mask))


@pytest.mark.parametrize("log", [False, True])
def test_agrees_with_mlx_softmax(log):
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    x = 4 * torch.randn(5, 333, generator=torch.Generator().manual_seed(3))
    ours = softmax(x, 1.0, None, False, log)
    array = mx.array(x.numpy())
    theirs = (
        array - mx.logsumexp(array, axis=-1, keepdims=True) if log else mx.softmax(array, axis=-1)
    )
    torch.testing.assert_close(ours, torch.from_numpy(np.array(theirs)), rtol=1e-5, atol=1e-6)


def test_public_wrapper_has_defaults_and_types_its_arguments():
    x = torch.randn(3, 20)
    torch.testing.assert_close(torch_metalgen.softmax(x), torch.softmax(x, -1))
    with pytest.raises(TypeError, match="causal"):
        torch_metalgen.softmax(x, causal="yes")


@pytest.mark.parametrize("log", [False, True])
def test_gradients_match_autograd_of_the_reference(log):
    generator = torch.Generator().manual_seed(8)
    x = torch.randn(2, 5, 7, generator=generator).requires_grad_()
    mask = torch.randn(5, 7, generator=generator).requires_grad_()
    out = softmax(x, 0.5, mask, False, log)
    grad = torch.randn(out.shape, generator=generator)
    out.backward(grad)
    copies = [t.detach().double().requires_grad_() for t in (x, mask)]
    REFERENCES["softmax"](copies[0], 0.5, copies[1], False, log).backward(grad.double())
    for leaf, copy in zip((x, mask), copies, strict=True):
        torch.testing.assert_close(leaf.grad.double(), copy.grad, rtol=1e-4, atol=1e-5)
