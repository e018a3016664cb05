"""metalgen::rms_norm as a torch op: schema, reference numerics, fake/compile/export, and
every bad input named in the foundation issue. Runs on CPU (the reference impl)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def reference64(x, weight, eps, offset=0.0, casting_mode="gemma"):
    weight64 = None if weight is None else weight.double()
    return REFERENCES["rms_norm"](x.double(), weight64, eps, offset, casting_mode)


def test_schema_is_registered():
    schema = torch.ops.metalgen.rms_norm.default._schema
    assert [(str(a.type), a.name) for a in schema.arguments] == [
        ("Tensor", "x"),
        ("Optional[Tensor]", "weight"),
        ("float", "eps"),
        ("float", "offset"),
        ("str", "casting_mode"),
    ]
    assert [a.default_value for a in schema.arguments] == [None, None, 1e-6, 0.0, "gemma"]
    assert [str(r.type) for r in schema.returns] == ["Tensor"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 31), (2, 4, 33), (5, 4097)])
@pytest.mark.parametrize("with_weight", [True, False])
def test_reference_matches_float64(dtype, shape, with_weight):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator).to(dtype)
    weight = torch.randn(shape[-1], generator=generator).to(dtype) if with_weight else None
    out = torch_metalgen.rms_norm(x, weight, eps=1e-5)
    assert out.dtype == dtype and out.shape == x.shape
    assert_close_to_reference(out, reference64(x, weight, 1e-5))


def _hf_rounding(x, weight, eps, offset, casting_mode):
    """How Hugging Face's classes round in x's dtype: Llama rounds the normalized value, then
    multiplies by the weight (in x's dtype); Gemma multiplies in float32 and rounds once."""
    x32 = x.float()
    normalized = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    if casting_mode == "llama":
        return (offset + weight.float()).to(x.dtype) * normalized.to(x.dtype)
    return (normalized * (offset + weight.float())).to(x.dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("offset", [0.0, 1.0])
@pytest.mark.parametrize("casting_mode", ["gemma", "llama"])
def test_offset_and_casting_modes(dtype, offset, casting_mode):
    generator = torch.Generator().manual_seed(3)
    x = (torch.randn(6, 257, generator=generator) * 2 + 1).to(dtype)
    weight = (torch.randn(257, generator=generator) * 0.3 - offset + 1).to(dtype)
    out = torch_metalgen.rms_norm(x, weight, 1e-6, offset, casting_mode)
    assert_close_to_reference(out, reference64(x, weight, 1e-6, offset, casting_mode))
    # The CPU impl rounds as the declared mode says, bit for bit (with offset 0 the weight
    # is exact in x's dtype, so the Llama form is HF's `weight * normalized.to(dtype)`).
    if offset == 0.0:
        assert torch.equal(out, _hf_rounding(x, weight, 1e-6, offset, casting_mode))
    other = "gemma" if casting_mode == "llama" else "llama"
    differs = not torch.equal(out, torch_metalgen.rms_norm(x, weight, 1e-6, offset, other))
    assert differs == (dtype != torch.float32)  # the modes are the same bits in float32


def test_offset_is_added_to_the_weight():
    x = torch.randn(4, 33, generator=torch.Generator().manual_seed(4))
    weight = torch.randn(33, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(
        torch_metalgen.rms_norm(x, weight, 1e-6, offset=1.0),
        torch_metalgen.rms_norm(x, weight + 1, 1e-6),
        rtol=0,
        atol=1e-6,
    )


def test_large_offset_input_is_not_naive_variance():
    # mean 100, std 1: the RMS is ~100; a kernel that subtracts a mean would be off.
    x = 100 + torch.randn(4, 257, generator=torch.Generator().manual_seed(1))
    assert_close_to_reference(torch_metalgen.rms_norm(x, None, 1e-6), reference64(x, None, 1e-6))


def test_noncontiguous_and_offset_views_give_correct_results():
    base = torch.randn(8, 70, generator=torch.Generator().manual_seed(2))
    weight = torch.randn(64)
    transposed = torch.randn(64, 8).t()  # stride (1, 8)
    offset_view = base[2:6, 3:67]  # storage offset 143, row stride 70
    for x in (transposed, offset_view):
        assert not x.is_contiguous()
        assert_close_to_reference(torch_metalgen.rms_norm(x, weight), reference64(x, weight, 1e-6))


@pytest.mark.parametrize("shape", [(0, 16), (4, 0), (0,), (2, 0, 8)])
def test_empty_tensors_give_empty_results(shape):
    x = torch.randn(shape)
    weight = torch.ones(shape[-1]) if shape[-1] else None
    out = torch_metalgen.rms_norm(x, weight)
    assert out.shape == x.shape and out.numel() == 0


BAD_INPUTS = [
    # (description, x, weight, eps or (eps, offset[, casting_mode]), exception, words the
    # message must contain)
    ("0-dim x", torch.tensor(1.0), None, 1e-6, ValueError, ["x", "at least 1 dimension"]),
    ("int x", torch.ones(2, 4, dtype=torch.int32), None, 1e-6, TypeError, ["x", "float32"]),
    ("float64 x", torch.ones(2, 4, dtype=torch.float64), None, 1e-6, TypeError, ["x"]),
    (
        "dtype mismatch",
        torch.ones(2, 4),
        torch.ones(4, dtype=torch.float16),
        1e-6,
        TypeError,
        ["weight", "same dtype"],
    ),
    (
        "weight too short",
        torch.ones(2, 4),
        torch.ones(3),
        1e-6,
        ValueError,
        ["weight", "shape (4,)"],
    ),
    ("2-D weight", torch.ones(2, 4), torch.ones(1, 4), 1e-6, ValueError, ["weight"]),
    ("eps zero", torch.ones(2, 4), None, 0.0, ValueError, ["eps", "positive"]),
    ("eps negative", torch.ones(2, 4), None, -1e-6, ValueError, ["eps"]),
    ("eps nan", torch.ones(2, 4), None, float("nan"), ValueError, ["eps"]),
    ("eps inf", torch.ones(2, 4), None, float("inf"), ValueError, ["eps"]),
    (
        "unknown casting mode",
        torch.ones(2, 4),
        None,
        (1e-6, 0.0, "bf16"),
        ValueError,
        ["casting_mode", '"gemma", "llama"', '"bf16"'],
    ),
    (
        "offset without weight",
        torch.ones(2, 4),
        None,
        (1e-6, 1.0),
        ValueError,
        ["offset", "needs a weight"],
    ),
    ("offset nan", torch.ones(2, 4), torch.ones(4), (1e-6, float("nan")), ValueError, ["offset"]),
    (
        "wrong device",
        torch.ones(2, 4),
        torch.ones(4, device="meta"),
        1e-6,
        ValueError,
        ["weight", "device"],
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, x, weight, options, exception, words = case
    options = options if isinstance(options, tuple) else (options,)
    with pytest.raises(exception) as info:
        torch.ops.metalgen.rms_norm(x, weight, *options)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_eps_of_wrong_python_type_is_a_type_error():
    with pytest.raises(TypeError, match="eps"):
        torch_metalgen.rms_norm(torch.ones(2, 4), None, eps="1e-6")
    with pytest.raises(TypeError, match="casting_mode must be a str, got int"):
        torch_metalgen.rms_norm(torch.ones(2, 4), None, casting_mode=1)


def test_bad_casting_mode_is_rejected_while_tracing():
    # The fake impl checks it too: torch.compile / export fail at trace time, not later.
    def norm(x):
        return torch.ops.metalgen.rms_norm(x, None, 1e-6, 0.0, "half")

    with pytest.raises(Exception, match='casting_mode must be one of "gemma", "llama"'):
        torch.compile(norm, fullgraph=True, backend="aot_eager")(torch.ones(2, 4))


def test_opcheck_passes():
    x = torch.randn(3, 40)
    weight = torch.randn(40)
    torch.library.opcheck(torch.ops.metalgen.rms_norm.default, (x, weight, 1e-6))
    torch.library.opcheck(torch.ops.metalgen.rms_norm.default, (x, None, 1e-5))
    torch.library.opcheck(torch.ops.metalgen.rms_norm.default, (x, weight, 1e-5, 1.0, "llama"))


class TinyNormModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(32, 32)
        self.norm = torch_metalgen.nn.RMSNorm(32, eps=1e-5)

    def forward(self, x):
        return self.norm(self.linear(x)) * 2


def test_torch_compile_fullgraph():
    model = TinyNormModel().eval()
    x = torch.randn(4, 32)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_torch_compile_dynamic_shapes():
    model = TinyNormModel().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for rows in (3, 5, 9):
            x = torch.randn(rows, 32)
            torch.testing.assert_close(compiled(x), model(x))


def test_torch_export_keeps_the_op():
    model = TinyNormModel().eval()
    exported = torch.export.export(model, (torch.randn(4, 32),))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.rms_norm.default" in targets, targets
    x = torch.randn(4, 32)
    torch.testing.assert_close(exported.module()(x), model(x))


class GemmaStyleNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(0.1 * torch.randn(32))

    def forward(self, x):
        return torch.ops.metalgen.rms_norm(x, self.weight, 1e-6, 1.0, "llama")


def test_torch_export_keeps_the_options():
    model = GemmaStyleNorm().eval()
    exported = torch.export.export(model, (torch.randn(4, 32).bfloat16(),))
    (node,) = [n for n in exported.graph.nodes if str(n.target) == "metalgen.rms_norm.default"]
    assert node.args[3:] == (1.0, "llama")
    x = torch.randn(4, 32)
    torch.testing.assert_close(exported.module()(x), model(x))


def test_nn_module_uses_hf_attribute_names():
    norm = torch_metalgen.nn.RMSNorm(8, eps=1e-5)
    assert norm.variance_epsilon == 1e-5 and norm.weight.shape == (8,)
    assert "8, eps=1e-05" in repr(norm)
    assert torch_metalgen.nn.RMSNorm(8, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match="hidden_size"):
        torch_metalgen.nn.RMSNorm(0)
    with pytest.raises(ValueError, match="casting_mode must be one of"):
        torch_metalgen.nn.RMSNorm(8, casting_mode="mistral")
    with pytest.raises(ValueError, match="offset needs a weight"):
        torch_metalgen.nn.RMSNorm(8, elementwise_affine=False, offset=1.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "hf_class, options",
    [
        ("llama.modeling_llama.LlamaRMSNorm", {"casting_mode": "llama"}),
        ("gemma.modeling_gemma.GemmaRMSNorm", {"offset": 1.0}),
    ],
)
def test_nn_module_reproduces_hugging_face_classes(hf_class, options, dtype):
    # The module's options are the declared semantics of HF's classes (patching/families.py):
    # with the same weights, the same bits in half precision (this CPU path: the C++ reference
    # impl, which rounds as the kernels do).
    import importlib

    module_name, class_name = hf_class.rsplit(".", 1)
    hf_cls = getattr(importlib.import_module(f"transformers.models.{module_name}"), class_name)
    hf = hf_cls(64, eps=1e-6).to(dtype)
    ours = torch_metalgen.nn.RMSNorm(64, eps=1e-6, dtype=dtype, **options)
    assert repr(ours).startswith("RMSNorm(64, eps=1e-06, ")
    with torch.no_grad():
        hf.weight.copy_(torch.randn(64) * 0.3 + (0.0 if "offset" in options else 1.0))
        ours.weight.copy_(hf.weight)
        x = (torch.randn(5, 64) * 3 + 1).to(dtype)
        assert torch.equal(ours(x), hf(x))
    fresh = torch_metalgen.nn.RMSNorm(64, **options)  # identity scale either way
    torch.testing.assert_close(fresh(x.float()), torch.nn.functional.rms_norm(x.float(), (64,)))


@pytest.mark.parametrize("with_weight", [True, False])
def test_gradients_match_autograd_of_the_reference(with_weight):
    x = torch.randn(3, 17).requires_grad_()
    weight = torch.randn(17).requires_grad_() if with_weight else None
    offset = 1.0 if with_weight else 0.0
    out = torch.ops.metalgen.rms_norm(x, weight, 1e-5, offset, "llama")
    grad = torch.randn_like(out)
    out.backward(grad)
    x_ref = x.detach().double().requires_grad_()
    w_ref = weight.detach().double().requires_grad_() if with_weight else None
    REFERENCES["rms_norm"](x_ref, w_ref, 1e-5, offset, "llama").backward(grad.double())
    torch.testing.assert_close(x.grad.double(), x_ref.grad, rtol=1e-4, atol=1e-5)
    if with_weight:
        torch.testing.assert_close(weight.grad.double(), w_ref.grad, rtol=1e-4, atol=1e-5)
