"""metalgen::rotary_embedding as a torch op: the definition against Hugging Face's own
apply_rotary_pos_emb (Llama rotate_half, Phi-3 partial, GPT-J interleaved) and mlx, the
CPU impl against float64, HF's rounding bit for bit, views, empty inputs, bad inputs,
opcheck, compile, export, gradients. Runs on CPU (the reference impl)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.ops.rotary_cases import case, products_rounding_bound, reference64, tables
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
rope = torch.ops.metalgen.rotary_embedding
transformers = pytest.importorskip("transformers")


def test_schema_is_registered():
    assert str(rope.default._schema) == (
        "metalgen::rotary_embedding(Tensor q, Tensor k, Tensor? cos=None, Tensor? sin=None, "
        "Tensor? positions=None, float base=10000., int rotary_dim=-1, bool interleaved=False, "
        "bool round_products=False) -> (Tensor, Tensor)"
    )


# The definition is Hugging Face's: its functions, in float64, are the second reference.


def test_definition_is_llama_apply_rotary_pos_emb():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    q, k, cos, sin = case(q_heads=6, k_heads=2, seq=9, head_dim=128, dtype=torch.float64)
    expected = apply_rotary_pos_emb(q, k, cos, sin)
    for actual, hf in zip(reference64(q, k, cos, sin), expected, strict=True):
        torch.testing.assert_close(actual, hf, rtol=0, atol=0)


def test_definition_is_phi3_partial_rotary():
    from transformers.models.phi3.modeling_phi3 import apply_rotary_pos_emb

    q, k, cos, sin = case(head_dim=96, rotary_dim=48, dtype=torch.float64)
    expected = apply_rotary_pos_emb(q, k, cos, sin)
    for actual, hf in zip(reference64(q, k, cos, sin), expected, strict=True):
        torch.testing.assert_close(actual, hf, rtol=0, atol=0)


def test_definition_is_gptj_interleaved():
    from transformers.models.gptj.modeling_gptj import apply_rotary_pos_emb

    # GPT-J: x is (batch, seq, heads, dim), sin/cos (batch, seq, dim / 2), repeat-interleaved.
    q, k, cos, sin = case(head_dim=64, rotary_dim=32, dtype=torch.float64, interleaved=True)
    half_cos, half_sin = cos[..., ::2], sin[..., ::2]
    for x, actual in zip((q, k), reference64(q, k, cos, sin, interleaved=True), strict=True):
        x_rot = x[..., :32].transpose(1, 2)
        hf = apply_rotary_pos_emb(x_rot, half_sin, half_cos).transpose(1, 2)
        torch.testing.assert_close(actual, torch.cat((hf, x[..., 32:]), -1), rtol=0, atol=0)


def test_positions_definition_matches_tables_of_the_same_angles():
    q, k, _, _ = case(head_dim=80, dtype=torch.float64)
    positions = torch.tensor([[3, 4, 5, 6, 7], [0, 10, 20, 30, 40]])
    inv_freq = 500.0 ** -(torch.arange(0, 40, 2, dtype=torch.float64) / 40)
    angles = positions[..., None].double() * inv_freq
    for interleaved in (False, True):
        full = angles.repeat_interleave(2, -1) if interleaved else torch.cat((angles,) * 2, -1)
        by_tables = reference64(q, k, full.cos(), full.sin(), interleaved=interleaved)
        by_positions = reference64(q, k, None, None, positions, 500.0, 40, interleaved=interleaved)
        for a, b in zip(by_tables, by_positions, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-15, atol=1e-15)


# The CPU impl (the op off-device) against the float64 reference.

SHAPES = [
    # (batch, q_heads, k_heads, seq, head_dim, rotary_dim)
    (1, 32, 8, 1, 128, None),  # decode, GQA
    (2, 5, 1, 7, 64, None),  # odd heads
    (1, 3, 3, 33, 80, None),
    (2, 4, 2, 9, 96, 32),  # partial (Phi-style)
    (1, 2, 1, 5, 256, 64),
    (3, 1, 1, 4, 128, 0),  # nothing rotated
]


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cpu_impl_matches_float64(shape, dtype, interleaved):
    batch, q_heads, k_heads, seq, head_dim, rotary_dim = shape
    q, k, cos, sin = case(batch, q_heads, k_heads, seq, head_dim, rotary_dim, dtype, offset=17)
    outputs = rope(q, k, cos, sin, None, 10000.0, -1, interleaved, False)
    for out, x, expected in zip(
        outputs, (q, k), reference64(q, k, cos, sin, interleaved=interleaved), strict=True
    ):
        assert out.shape == x.shape and out.dtype == dtype and out.is_contiguous()
        assert_close_to_reference(out, expected)
    positions = torch.arange(17, 17 + seq)
    dim = head_dim if rotary_dim is None else rotary_dim
    outputs = rope(q, k, None, None, positions, 10000.0, dim, interleaved, False)
    expected = reference64(q, k, None, None, positions, 10000.0, dim, interleaved)
    for out, ref in zip(outputs, expected, strict=True):
        assert_close_to_reference(out, ref)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_round_products_is_hugging_face_bit_for_bit(family, dtype):
    module = getattr(transformers.models, family)
    apply_rotary_pos_emb = getattr(module, f"modeling_{family}").apply_rotary_pos_emb
    rotary_dim = 64 if family == "llama" else 32
    q, k, cos, sin = case(1, 8, 2, 6, 64, rotary_dim, dtype, offset=300)
    expected = apply_rotary_pos_emb(q, k, cos, sin)
    actual = rope(q, k, cos, sin, None, 10000.0, -1, False, True)
    for a, e in zip(actual, expected, strict=True):
        assert torch.equal(a, e)
    # The storage-dtype reference is the same arithmetic.
    for a, e in zip(
        REFERENCES["rotary_embedding"](q, k, cos, sin, None, 1.0, -1, False, True),
        expected,
        strict=True,
    ):
        assert torch.equal(a, e)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_round_products_stays_within_its_rounding_bound(dtype):
    # HF's arithmetic rounds three times; where the products cancel, that is far from the
    # result in relative terms, but never beyond half an ulp of each product and the sum.
    q, k, cos, sin = case(2, 4, 2, 16, 128, None, dtype, offset=1000)
    q_out, _ = rope(q, k, cos, sin, None, 10000.0, -1, False, True)
    exact, _ = reference64(q, k, cos, sin)
    bound = products_rounding_bound(q, cos, sin)
    assert ((q_out.double() - exact).abs() <= bound).all()
    # Rounded once, the default is within half an ulp of the output (and the table).
    once, _ = rope(q, k, cos, sin, None, 10000.0, -1, False, False)
    assert_close_to_reference(once, exact)
    assert (once.double() - exact).abs().sum() <= (q_out.double() - exact).abs().sum()


def test_views_read_through_their_strides_and_outputs_are_contiguous():
    q, k, cos, sin = case(2, 4, 2, 5, 64)
    assert not q.is_contiguous() and not k.is_contiguous()
    strided = rope(q, k, cos, sin)
    dense = rope(q.contiguous(), k.contiguous(), cos, sin)
    for a, b in zip(strided, dense, strict=True):
        assert a.is_contiguous() and torch.equal(a, b)
    # a batch-broadcast table (expand) and a transposed last dimension
    q2 = torch.randn(3, 2, 5, 16).transpose(-1, -2).contiguous().transpose(-1, -2)
    k2 = torch.randn(3, 1, 5, 16)
    c, s = tables(1, 5, 16, torch.float32)
    for a, expected in zip(
        rope(q2, k2, c.expand(3, 5, 16), s.expand(3, 5, 16)),
        reference64(q2, k2, c, s),
        strict=True,
    ):
        assert_close_to_reference(a, expected)


@pytest.mark.parametrize(
    "q_shape, k_shape",
    [
        ((0, 4, 5, 64), (0, 2, 5, 64)),
        ((1, 4, 0, 64), (1, 2, 0, 64)),
        ((1, 0, 5, 64), (1, 2, 5, 64)),
        ((1, 2, 3, 0), (1, 1, 3, 0)),
    ],
    ids=str,
)
def test_empty_tensors(q_shape, k_shape):
    q, k = torch.randn(q_shape), torch.randn(k_shape)
    rot = 0 if q_shape[-1] == 0 else 64
    cos = torch.randn(q_shape[0], q_shape[2], rot)
    q_out, k_out = rope(q, k, cos, cos.clone())
    assert q_out.shape == q.shape and k_out.shape == k.shape
    assert_close_to_reference(k_out, reference64(q, k, cos, cos)[1])


def _good():
    return case(1, 4, 2, 5, 64)


def _bad_inputs():
    q, k, cos, sin = _good()
    p = torch.arange(5)
    return [
        # (description, arguments, exception, words the message must contain)
        ("3-D q", (q[0], k, cos, sin), ValueError, ["q must be 4-D"]),
        ("3-D k", (q, k[0], cos, sin), ValueError, ["k must be 4-D"]),
        ("int q", (q.long(), k, cos, sin), TypeError, ["q must be float32"]),
        ("float64 q", (q.double(), k.double(), cos.double(), sin.double()), TypeError, ["q"]),
        ("k dtype", (q, k.half(), cos, sin), TypeError, ["k must have the same dtype"]),
        ("cos dtype", (q, k, cos.half(), sin), TypeError, ["cos must have the same dtype"]),
        ("sin dtype", (q, k, cos, sin.bfloat16()), TypeError, ["sin must have the same dtype"]),
        (
            "head_dim mismatch",
            (q, k[..., :32], cos, sin),
            ValueError,
            ["k must have q's", "head_dim"],
        ),
        ("seq mismatch", (q, k[:, :, :4], cos, sin), ValueError, ["k must have q's"]),
        ("cos without sin", (q, k, cos, None), ValueError, ["cos and sin come together"]),
        ("sin without cos", (q, k, None, sin), ValueError, ["cos and sin come together"]),
        ("neither", (q, k, None, None), ValueError, ["got neither"]),
        ("both", (q, k, cos, sin, p), ValueError, ["not both"]),
        ("cos 4-D", (q, k, cos[None], sin[None]), ValueError, ["cos must be (batch, seq"]),
        ("cos wrong seq", (q, k, cos[:, :4], sin[:, :4]), ValueError, ["cos must be (1 or 1, 5"]),
        (
            "cos wrong batch",
            (q, k, cos.expand(3, 5, 64), sin.expand(3, 5, 64)),
            ValueError,
            ["cos must be"],
        ),
        ("sin shape", (q, k, cos, sin[..., :32]), ValueError, ["sin must have the shape of cos"]),
        ("odd rotary dim", (q, k, cos[..., :5], sin[..., :5]), ValueError, ["even", "got 5"]),
        (
            "rotary dim > head_dim",
            (q, k, torch.cat((cos, cos), -1), torch.cat((sin, sin), -1)),
            ValueError,
            ["at most head_dim = 64"],
        ),
        (
            "rotary_dim disagrees",
            (q, k, cos, sin, None, 10000.0, 32),
            ValueError,
            ["rotary_dim must be -1 or cos's"],
        ),
        (
            "odd rotary_dim",
            (q, k, None, None, p, 10000.0, 7),
            ValueError,
            ["rotary_dim must be -1", "got 7"],
        ),
        ("rotary_dim too big", (q, k, None, None, p, 10000.0, 66), ValueError, ["rotary_dim"]),
        (
            "odd head_dim",
            (q[..., :63], k[..., :63], None, None, p),
            ValueError,
            ["head_dim = 63 is odd"],
        ),
        ("int32 positions", (q, k, None, None, p.int()), TypeError, ["positions must be int64"]),
        ("float positions", (q, k, None, None, p.float()), TypeError, ["positions must be int64"]),
        (
            "positions length",
            (q, k, None, None, torch.arange(4)),
            ValueError,
            ["positions must be (seq,)"],
        ),
        (
            "positions batch",
            (q, k, None, None, torch.arange(5).expand(2, 5)),
            ValueError,
            ["positions"],
        ),
        ("base zero", (q, k, None, None, p, 0.0), ValueError, ["base must be a positive finite"]),
        ("base nan", (q, k, None, None, p, float("nan")), ValueError, ["base"]),
        (
            "k device",
            (q, k.to("meta"), cos, sin),
            ValueError,
            ["k must be on the same device as q"],
        ),
        (
            "cos device",
            (q, k, cos.to("meta"), sin),
            ValueError,
            ["cos must be on the same device as q"],
        ),
    ]


BAD_INPUTS = _bad_inputs()


@pytest.mark.parametrize("case_", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case_):
    _, arguments, exception, words = case_
    with pytest.raises(exception) as info:
        rope(*arguments)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_opcheck_passes():
    q, k, cos, sin = case(2, 3, 1, 4, 32, 16)
    positions = torch.arange(4).expand(2, 4).contiguous()
    for arguments in (
        (q, k, cos, sin, None, 10000.0, -1, False, False),
        (q, k, cos, sin, None, 10000.0, 16, True, True),
        (q, k, None, None, positions, 500000.0, 32, False, False),
        (q.bfloat16(), k.bfloat16(), cos.bfloat16(), sin.bfloat16(), None, 1.0, -1, False, True),
    ):
        torch.library.opcheck(rope.default, arguments)


class TinyAttentionRotary(torch.nn.Module):
    """What an HF attention does before the scores: project, view, transpose, rotate."""

    def __init__(self, hidden=64, heads=4, kv_heads=2):
        super().__init__()
        self.head_dim = hidden // heads
        self.q_proj = torch.nn.Linear(hidden, hidden)
        self.k_proj = torch.nn.Linear(hidden, kv_heads * self.head_dim)

    def forward(self, x, cos, sin):
        shape = (*x.shape[:-1], -1, self.head_dim)
        q = self.q_proj(x).view(shape).transpose(1, 2)
        k = self.k_proj(x).view(shape).transpose(1, 2)
        q, k = rope(q, k, cos, sin)
        return q @ k.repeat_interleave(2, 1).transpose(-1, -2)


def test_torch_compile_fullgraph_dynamic_shapes():
    model = TinyAttentionRotary().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for seq in (3, 5, 9):
            cos, sin = tables(2, seq, 16, torch.float32)
            x = torch.randn(2, seq, 64)
            torch.testing.assert_close(compiled(x, cos, sin), model(x, cos, sin))


def test_torch_export_keeps_the_op():
    model = TinyAttentionRotary().eval()
    cos, sin = tables(2, 6, 16, torch.float32)
    x = torch.randn(2, 6, 64)
    exported = torch.export.export(model, (x, cos, sin))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.rotary_embedding.default" in targets, targets
    torch.testing.assert_close(exported.module()(x, cos, sin), model(x, cos, sin))


@pytest.mark.parametrize("rotary_dim", [64, 32])
@pytest.mark.parametrize("interleaved", [False, True])
def test_agrees_with_mlx_rope(interleaved, rotary_dim):
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    q, k, _, _ = case(2, 3, 1, 11, 64)
    offset = 40
    positions = torch.arange(offset, offset + 11)
    outputs = rope(q, k, None, None, positions, 10000.0, rotary_dim, interleaved, False)
    for x, ours in zip((q, k), outputs, strict=True):
        theirs = mx.fast.rope(
            mx.array(x.contiguous().numpy()),
            rotary_dim,
            traditional=interleaved,
            base=10000.0,
            scale=1.0,
            offset=offset,
        )
        # mlx's float32 angles (theta up to 50 rad here) against ours rounded from float64:
        # a few float32 ulps of theta apart.
        torch.testing.assert_close(ours, torch.from_numpy(np.array(theirs)), rtol=1e-5, atol=2e-5)


def test_public_wrapper_has_defaults_and_types_its_arguments():
    q, k, cos, sin = case()
    for a, b in zip(
        torch_metalgen.rotary_embedding(q, k, cos, sin), rope(q, k, cos, sin), strict=True
    ):
        assert torch.equal(a, b)
    with pytest.raises(TypeError, match="interleaved"):
        torch_metalgen.rotary_embedding(q, k, cos, sin, interleaved="yes")


def test_gradients_match_autograd_of_the_reference():
    q, k, cos, sin = (t.detach().clone().requires_grad_() for t in case(1, 2, 1, 3, 16, 8))
    q_out, k_out = rope(q, k, cos, sin, None, 10000.0, -1, True, False)
    generator = torch.Generator().manual_seed(4)
    grads = [torch.randn(o.shape, generator=generator) for o in (q_out, k_out)]
    torch.autograd.backward((q_out, k_out), grads)
    copies = [t.detach().double().requires_grad_() for t in (q, k, cos, sin)]
    expected = REFERENCES["rotary_embedding"](*copies, None, 10000.0, -1, True, False)
    torch.autograd.backward(expected, [g.double() for g in grads])
    for leaf, copy in zip((q, k, cos, sin), copies, strict=True):
        torch.testing.assert_close(leaf.grad.double(), copy.grad, rtol=1e-5, atol=1e-6)
