"""metalgen::add_rms_norm as a torch op: (rms_norm(x + residual), x + residual). Schema,
reference numerics, the sum rounded exactly as eager rounds it, views, empty inputs, bad
inputs, opcheck, torch.compile, torch.export and gradients through both outputs. Runs on CPU
(the reference impl)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def reference64(x, residual, weight, eps=1e-6, offset=0.0, casting_mode="gemma"):
    weight64 = None if weight is None else weight.double()
    return REFERENCES["add_rms_norm"](
        x.double(), residual.double(), weight64, eps, offset, casting_mode
    )


def inputs(shape, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator).to(dtype)
    residual = (3 * torch.randn(shape, generator=generator) + 1).to(dtype)  # nonzero mean
    weight = (1 + 0.5 * torch.randn(shape[-1], generator=generator)).to(dtype)
    return x, residual, weight


def check(outputs, expected):
    assert len(outputs) == 2
    for actual, reference in zip(outputs, expected, strict=True):
        assert_close_to_reference(actual, reference)


def test_schema_is_registered():
    schema = torch.ops.metalgen.add_rms_norm.default._schema
    assert [(str(a.type), a.name, a.default_value) for a in schema.arguments] == [
        ("Tensor", "x", None),
        ("Tensor", "residual", None),
        ("Optional[Tensor]", "weight", None),
        ("float", "eps", 1e-6),
        ("float", "offset", 0.0),
        ("str", "casting_mode", "gemma"),
    ]
    assert [str(r.type) for r in schema.returns] == ["Tensor", "Tensor"]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (3, 31), (2, 4, 33), (5, 4097)], ids=str)
@pytest.mark.parametrize("with_weight", [True, False])
def test_reference_matches_float64(dtype, shape, with_weight):
    x, residual, weight = inputs(shape, dtype)
    weight = weight if with_weight else None
    out, residual_out = torch_metalgen.add_rms_norm(x, residual, weight, 1e-5)
    assert out.dtype == residual_out.dtype == dtype
    assert out.shape == residual_out.shape == x.shape
    check((out, residual_out), reference64(x, residual, weight, 1e-5))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("offset, casting_mode", [(0.0, "llama"), (1.0, "gemma"), (1.0, "llama")])
def test_is_the_unfused_eager_computation_bit_for_bit(dtype, offset, casting_mode):
    # What a Hugging Face decoder layer does: h = residual + hidden (rounded to the dtype),
    # then the norm of h; the fused op returns the same two tensors.
    x, residual, weight = inputs((4, 3, 257), dtype, seed=1)
    out, residual_out = torch_metalgen.add_rms_norm(x, residual, weight, 1e-6, offset, casting_mode)
    assert torch.equal(residual_out, residual + x)
    unfused = torch_metalgen.rms_norm(x + residual, weight, 1e-6, offset, casting_mode)
    assert torch.equal(out, unfused)
    check((out, residual_out), reference64(x, residual, weight, 1e-6, offset, casting_mode))


def test_noncontiguous_and_offset_views():
    base = torch.randn(8, 70, generator=torch.Generator().manual_seed(2))
    residual = torch.randn(64, 4).t()  # stride (1, 64)
    weight = torch.randn(64)
    x = base[2:6, 3:67]  # storage offset, row stride 70
    outputs = torch_metalgen.add_rms_norm(x, residual, weight)
    assert all(t.is_contiguous() for t in outputs)
    check(outputs, reference64(x, residual, weight))


@pytest.mark.parametrize("shape", [(0, 16), (4, 0), (0,), (2, 0, 8)], ids=str)
def test_empty_tensors_give_empty_results(shape):
    x = torch.randn(shape)
    weight = torch.ones(shape[-1]) if shape[-1] else None
    out, residual_out = torch_metalgen.add_rms_norm(x, torch.randn(shape), weight)
    assert out.shape == residual_out.shape == x.shape and out.numel() == 0


BAD_INPUTS = [
    # (description, x, residual, weight, options, exception, words the message must contain)
    ("0-dim x", torch.tensor(1.0), torch.tensor(1.0), None, (), ValueError, ["x", "dimension"]),
    (
        "int x",
        torch.ones(2, 4, dtype=torch.int32),
        torch.ones(2, 4, dtype=torch.int32),
        None,
        (),
        TypeError,
        ["x", "float32"],
    ),
    (
        "residual dtype",
        torch.ones(2, 4),
        torch.ones(2, 4, dtype=torch.half),
        None,
        (),
        TypeError,
        ["residual", "same dtype"],
    ),
    ("residual shape", torch.ones(2, 4), torch.ones(4), None, (), ValueError, ["residual"]),
    (
        "residual device",
        torch.ones(2, 4),
        torch.ones(2, 4, device="meta"),
        None,
        (),
        ValueError,
        ["residual", "device"],
    ),
    (
        "weight shape",
        torch.ones(2, 4),
        torch.ones(2, 4),
        torch.ones(3),
        (),
        ValueError,
        ["weight", "shape (4,)"],
    ),
    ("eps zero", torch.ones(2, 4), torch.ones(2, 4), None, (0.0,), ValueError, ["eps"]),
    (
        "offset without weight",
        torch.ones(2, 4),
        torch.ones(2, 4),
        None,
        (1e-6, 1.0),
        ValueError,
        ["offset", "needs a weight"],
    ),
    (
        "casting mode",
        torch.ones(2, 4),
        torch.ones(2, 4),
        None,
        (1e-6, 0.0, "Llama"),
        ValueError,
        ["casting_mode", '"gemma", "llama"', '"Llama"'],
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, x, residual, weight, options, exception, words = case
    with pytest.raises(exception) as info:
        torch.ops.metalgen.add_rms_norm(x, residual, weight, *options)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_non_tensor_arguments_are_type_errors():
    with pytest.raises(TypeError, match="add_rms_norm: residual must be a torch.Tensor, got float"):
        torch_metalgen.add_rms_norm(torch.ones(2, 4), 1.0)
    with pytest.raises(TypeError, match="add_rms_norm: casting_mode must be a str"):
        torch_metalgen.add_rms_norm(torch.ones(2, 4), torch.ones(2, 4), casting_mode=None)


def test_opcheck_passes():
    x, residual, weight = inputs((3, 40), torch.float32)
    op = torch.ops.metalgen.add_rms_norm.default
    torch.library.opcheck(op, (x, residual, weight, 1e-6))
    torch.library.opcheck(op, (x, residual, None, 1e-5))
    torch.library.opcheck(op, (x, residual, weight, 1e-6, 1.0, "llama"))


class DecoderTail(torch.nn.Module):
    """A decoder layer's end: the residual add fused into the next layer's norm."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(32, 32)
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(32))

    def forward(self, x, residual):
        normed, residual = torch_metalgen.add_rms_norm(self.proj(x), residual, self.weight)
        return self.proj(normed) + residual


def test_torch_compile_fullgraph_with_dynamic_shapes():
    model = DecoderTail().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for rows in (3, 5, 9):
            x, residual = torch.randn(rows, 32), torch.randn(rows, 32)
            torch.testing.assert_close(compiled(x, residual), model(x, residual))


def test_torch_export_keeps_the_op():
    model = DecoderTail().eval()
    example = (torch.randn(4, 32), torch.randn(4, 32))
    exported = torch.export.export(model, example)
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.add_rms_norm.default" in targets, targets
    torch.testing.assert_close(exported.module()(*example), model(*example))


@pytest.mark.parametrize("used", ["both", "normed", "sum"])
def test_gradients_through_either_output_match_float64_autograd(used):
    x, residual, weight = (t.requires_grad_() for t in inputs((3, 17), torch.float32, 4))
    out, residual_out = torch.ops.metalgen.add_rms_norm(x, residual, weight, 1e-5, 1.0, "llama")
    grads = [torch.randn_like(out), torch.randn_like(residual_out)]
    pairs = {"both": [0, 1], "normed": [0], "sum": [1]}[used]
    torch.autograd.backward([(out, residual_out)[i] for i in pairs], [grads[i] for i in pairs])
    leaves64 = [t.detach().double().requires_grad_() for t in (x, residual, weight)]
    expected = REFERENCES["add_rms_norm"](*leaves64, 1e-5, 1.0, "llama")
    torch.autograd.backward([expected[i] for i in pairs], [grads[i].double() for i in pairs])
    for leaf, leaf64 in zip((x, residual, weight), leaves64, strict=True):
        if leaf64.grad is None:  # the sum alone does not depend on the weight
            assert leaf.grad is None or not leaf.grad.any()
            continue
        torch.testing.assert_close(leaf.grad.double(), leaf64.grad, rtol=1e-4, atol=1e-5)
