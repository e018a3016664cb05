"""The op-tier tests both gated activations share (silu_and_mul, gelu_and_mul): collected by
tests/ops/test_<op>_op.py, which provides the ``gated`` fixture (a GatedOp). Runs on CPU
(the C++ reference impl), checked against the float64 torch reference."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# [..., 2d] shapes: one row, odd d, d = 1, a 3-D batch, a long row; held out from tuning.
CONCAT_SHAPES = [(1, 2), (3, 62), (2, 5, 66), (7, 1030), (1, 2 * 4097), (4, 2)]


@dataclass(frozen=True)
class GatedOp:
    """One op and one setting of its extra arguments (gelu's approximate_tanh)."""

    name: str
    extra: tuple = ()
    schema: str = ""
    extra_kwargs: dict = field(default_factory=dict)

    @property
    def op(self):
        return getattr(torch.ops.metalgen, self.name)

    def __call__(self, x, up=None, casting_mode="gemma"):
        return getattr(torch_metalgen, self.name)(x, up, *self.extra, casting_mode)

    def reference64(self, x, up=None, casting_mode="gemma"):
        up64 = None if up is None else up.double()
        return REFERENCES[self.name](x.double(), up64, *self.extra, casting_mode)

    def args(self, x, up=None, casting_mode="gemma"):
        return (x, up, *self.extra, casting_mode)

    def activation(self, gate):
        """torch's activation (what Hugging Face's act_fn calls) in gate's dtype."""
        if self.name == "silu_and_mul":
            return torch.nn.functional.silu(gate)
        return torch.nn.functional.gelu(gate, approximate="tanh" if self.extra[0] else "none")


def _randn(shape, seed=0, dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def test_schema_is_registered(gated):
    assert str(gated.op.default._schema) == f"metalgen::{gated.schema}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", CONCAT_SHAPES, ids=str)
def test_concatenated_input_matches_float64(gated, shape, dtype):
    x = _randn(shape, 1, dtype)
    out = gated(x)
    assert out.shape == (*shape[:-1], shape[-1] // 2) and out.dtype == dtype
    assert_close_to_reference(out, gated.reference64(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (3, 31), (2, 4, 33), (5, 4097)], ids=str)
def test_separate_gate_and_up_match_float64(gated, shape, dtype):
    gate, up = _randn(shape, 2, dtype), _randn(shape, 3, dtype)
    out = gated(gate, up)
    assert out.shape == shape and out.dtype == dtype
    assert_close_to_reference(out, gated.reference64(gate, up))


def test_both_layouts_agree(gated):
    gate, up = _randn((3, 40), 4), _randn((3, 40), 5)
    # (ATen's gelu may take a vectorized path for one layout only: float32 ulps, not bits.)
    torch.testing.assert_close(gated(torch.cat([gate, up], -1)), gated(gate, up))


def test_views_give_correct_results(gated):
    base = _randn((6, 90), 6)
    transposed = _randn((80, 5), 7).t()  # [5, 80], stride (1, 5)
    for x in (
        base[1:5, 3:83],
        transposed,
        base[2:4],
    ):  # offsets, strides, a contiguous view
        assert_close_to_reference(gated(x), gated.reference64(x))
    gate, up = base[:, :40], base[:, 45:85]
    assert_close_to_reference(gated(gate, up), gated.reference64(gate, up))


@pytest.mark.parametrize("shape", [(0, 8), (4, 0), (2, 0, 6), (0,)], ids=str)
def test_empty_tensors_give_empty_results(gated, shape):
    x = torch.randn(shape)
    out = gated(x)
    assert out.shape == (*shape[:-1], shape[-1] // 2)
    assert gated(x, torch.randn(shape)).shape == shape


BAD_INPUTS = [
    # (description, x, up, exception, words the message must contain)
    ("0-dim x", torch.tensor(1.0), None, ValueError, ["x", "at least 1 dimension"]),
    ("odd 2d", torch.ones(2, 5), None, ValueError, ["x", "odd", "[..., 2d]"]),
    ("int x", torch.ones(2, 4, dtype=torch.int32), None, TypeError, ["x", "float32"]),
    ("float64 x", torch.ones(2, 4, dtype=torch.float64), None, TypeError, ["x"]),
    (
        "up dtype",
        torch.ones(2, 4),
        torch.ones(2, 4, dtype=torch.half),
        TypeError,
        ["up", "dtype"],
    ),
    ("up shape", torch.ones(2, 4), torch.ones(2, 3), ValueError, ["up", "shape"]),
    ("up broadcast", torch.ones(2, 4), torch.ones(4), ValueError, ["up", "shape"]),
    (
        "up device",
        torch.ones(2, 4),
        torch.ones(2, 4, device="meta"),
        ValueError,
        ["up", "device"],
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(gated, case):
    _, x, up, exception, words = case
    with pytest.raises(exception) as info:
        gated.op(*gated.args(x, up))
    for word in words:
        assert word in str(info.value), str(info.value)


def test_non_tensor_arguments_are_type_errors(gated):
    with pytest.raises(TypeError, match=f"{gated.name}: x must be a torch.Tensor, got list"):
        gated([1.0, 2.0])
    with pytest.raises(TypeError, match=f"{gated.name}: up must be a torch.Tensor or None"):
        gated(torch.ones(2, 4), 3.0)


def test_bad_casting_mode_names_the_argument_and_choices(gated):
    with pytest.raises(ValueError, match='casting_mode must be one of "gemma", "llama"; got "x"'):
        gated.op(*gated.args(torch.ones(2, 4), None, "x"))
    with pytest.raises(TypeError, match=f"{gated.name}: casting_mode must be a str, got int"):
        gated(torch.ones(2, 4), None, 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("casting_mode", ["gemma", "llama"])
def test_casting_modes_round_as_declared(gated, dtype, casting_mode):
    """llama: act(gate) is rounded to the dtype, then multiplied (Hugging Face's half-precision
    `act_fn(gate) * up`); gemma: one rounding. The CPU impl reproduces both bit for bit;
    in float32 they are the same bits."""
    gate, up = _randn((4, 300), 14, dtype) * 3, _randn((4, 300), 15, dtype) + 0.5
    out = gated(gate, up, casting_mode)
    assert_close_to_reference(out, gated.reference64(gate, up, casting_mode))
    activated = gated.activation(gate.float())
    if casting_mode == "llama":
        expected = activated.to(dtype) * up
    else:
        expected = (activated * up.float()).to(dtype)
    assert torch.equal(out, expected)
    other = "gemma" if casting_mode == "llama" else "llama"
    assert torch.equal(out, gated(gate, up, other)) == (dtype == torch.float32)


def test_opcheck_passes(gated):
    torch.library.opcheck(gated.op.default, gated.args(_randn((3, 40), 8)))
    torch.library.opcheck(gated.op.default, gated.args(_randn((3, 40), 8), None, "llama"))
    torch.library.opcheck(gated.op.default, gated.args(_randn((3, 20), 9), _randn((3, 20), 10)))


class GatedMLP(torch.nn.Module):
    """A Llama-style MLP: down(act(gate) * up) from a fused gate/up projection."""

    def __init__(self, gated: GatedOp):
        super().__init__()
        self.gated = gated
        self.gate_up = torch.nn.Linear(16, 2 * 24)
        self.down = torch.nn.Linear(24, 16)

    def forward(self, x):
        return self.down(self.gated(self.gate_up(x)))


def test_torch_compile_fullgraph_with_dynamic_shapes(gated):
    model = GatedMLP(gated).eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for rows in (3, 5, 9):
            x = torch.randn(rows, 16)
            torch.testing.assert_close(compiled(x), model(x))


def test_torch_export_keeps_the_op(gated):
    model = GatedMLP(gated).eval()
    exported = torch.export.export(model, (torch.randn(4, 16),))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert f"metalgen.{gated.name}.default" in targets, targets
    x = torch.randn(4, 16)
    torch.testing.assert_close(exported.module()(x), model(x))


@pytest.mark.parametrize("separate", [False, True])
def test_gradients_match_float64_autograd_of_the_reference(gated, separate):
    if separate:
        leaves = [
            _randn((3, 17), 11).requires_grad_(),
            _randn((3, 17), 12).requires_grad_(),
        ]
    else:
        leaves = [_randn((3, 34), 13).requires_grad_()]
    out = gated(*leaves)
    grad = torch.randn_like(out)
    out.backward(grad)
    leaves64 = [leaf.detach().double().requires_grad_() for leaf in leaves]
    gated.reference64(*leaves64).backward(grad.double())
    for leaf, leaf64 in zip(leaves, leaves64, strict=True):
        torch.testing.assert_close(leaf.grad.double(), leaf64.grad, rtol=1e-4, atol=1e-6)
