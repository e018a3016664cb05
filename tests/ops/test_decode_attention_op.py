"""metalgen::decode_attention as a torch op: schema, the definition (GQA, scale, boolean and
additive masks, bottom-right causal, sliding window, soft-capping, fully masked rows) against
independent implementations (torch's scaled_dot_product_attention, transformers' eager
formula, mlx), fake/opcheck/compile/export, bad inputs. Runs on CPU (the reference impl)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

attention = torch.ops.metalgen.decode_attention
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def reference64(q, k, v, scale=None, mask=None, causal=False, window=0, softcap=0.0):
    """The spec's definition in float64 (a boolean mask stays boolean)."""
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.double()
    return REFERENCES["decode_attention"](
        q.double(), k.double(), v.double(), scale, mask, causal, window, softcap
    )


def qkv(batch=2, heads=4, kv_heads=2, queries=1, keys=37, head_dim=64, seed=0, dtype=None):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, queries, head_dim, generator=generator, dtype=torch.float64)
    k = torch.randn(batch, kv_heads, keys, head_dim, generator=generator, dtype=torch.float64)
    v = torch.randn(batch, kv_heads, keys, head_dim, generator=generator, dtype=torch.float64)
    return tuple(t.to(dtype) for t in (q, k, v)) if dtype else (q, k, v)


def bottom_right(queries, keys, window=0):
    """Boolean (queries, keys) mask: True where query i sees key j (KV-cache alignment)."""
    position = torch.arange(queries).unsqueeze(-1) + keys - queries
    key = torch.arange(keys)
    visible = key <= position
    if window:
        visible &= position - key < window
    return visible


def test_schema_is_registered():
    assert str(attention.default._schema) == (
        "metalgen::decode_attention(Tensor q, Tensor k, Tensor v, float? scale=None, "
        "Tensor? mask=None, bool causal=False, int window=0, float softcap=0.) -> Tensor"
    )


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["mha", "gqa", "mqa"])
def test_reference_is_scaled_dot_product_attention(kv_heads):
    q, k, v = qkv(heads=4, kv_heads=kv_heads, queries=3)
    mask = torch.rand(2, 1, 3, 37, generator=torch.Generator().manual_seed(1)) > 0.2
    for scale in (None, 0.3):
        expected = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=scale, enable_gqa=True
        )
        torch.testing.assert_close(
            REFERENCES["decode_attention"](q, k, v, scale, mask, False, 0, 0.0), expected
        )
        additive = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, float("-inf"))
        torch.testing.assert_close(
            REFERENCES["decode_attention"](q, k, v, scale, additive, False, 0, 0.0), expected
        )


@pytest.mark.parametrize("queries, keys, window", [(1, 9, 0), (3, 9, 0), (3, 9, 4), (8, 20, 5)])
def test_causal_is_bottom_right_and_the_window_counts_the_query_itself(queries, keys, window):
    q, k, v = qkv(queries=queries, keys=keys)
    visible = bottom_right(queries, keys, window)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=visible, enable_gqa=True)
    torch.testing.assert_close(reference64(q, k, v, causal=True, window=window), expected)
    # transformers' sliding_window: query i sees key j when i - j < window (itself included)
    if window:
        assert visible[-1].sum() == window


def test_softcap_is_gemma2s_formula_before_the_mask():
    q, k, v = qkv(queries=2, keys=11)
    mask = torch.zeros(1, 1, 2, 11, dtype=torch.float64)
    mask[..., 3] = float("-inf")
    scores = (q @ k.repeat_interleave(2, 1).transpose(-1, -2)) * 0.25
    capped = torch.tanh(scores / 5.0) * 5.0 + mask
    expected = torch.softmax(capped, -1) @ v.repeat_interleave(2, 1)
    torch.testing.assert_close(reference64(q, k, v, 0.25, mask, softcap=5.0), expected)


def test_fully_masked_rows_give_zeros_as_torch_sdpa_does():
    q, k, v = qkv(queries=3, keys=5, dtype=torch.float32)
    mask = torch.ones(2, 1, 3, 5, dtype=torch.bool)
    mask[0, :, 1] = False  # batch 0, query 1 sees nothing
    out = attention(q, k, v, None, mask)
    assert torch.equal(out[0, :, 1], torch.zeros(4, 64))
    assert not out.isnan().any()
    # torch's SDPA (2.5 and later) defines the row the same way.
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    torch.testing.assert_close(out, expected)
    # causal with more queries than keys: query 0 of 3 over 2 keys sees none.
    tall = attention(*qkv(queries=3, keys=2, dtype=torch.float32), None, None, True)
    assert torch.equal(tall[:, :, 0], torch.zeros_like(tall[:, :, 0]))
    # no keys at all
    empty_cache = attention(*qkv(keys=0, dtype=torch.float32))
    assert empty_cache.shape == (2, 4, 1, 64) and not empty_cache.any()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("head_dim", [64, 80, 96, 128, 256])
def test_reference_impl_matches_float64(dtype, head_dim):
    q, k, v = qkv(queries=2, keys=33, head_dim=head_dim, dtype=dtype)
    mask = (torch.rand(2, 4, 2, 33, generator=torch.Generator().manual_seed(2)) > 0.3).to(dtype)
    mask = torch.zeros_like(mask).masked_fill(mask == 0, float("-inf"))
    out = attention(q, k, v, None, mask, True, 0, 0.0)
    assert out.dtype == dtype and out.shape == q.shape
    assert_close_to_reference(out, reference64(q, k, v, None, mask, True))


def test_views_are_read_as_they_are():
    q, k, v = qkv(queries=3, keys=30, dtype=torch.float32)
    q_view = q.transpose(1, 2).contiguous().transpose(1, 2)  # (b, s, h, d) storage
    cache = torch.randn(2, 2, 50, 64)
    cache[:, :, :30] = k
    mask = torch.ones(1, 1, 1, 30, dtype=torch.bool).expand(2, 4, 3, 30)
    out = attention(q_view, cache[:, :, :30], v, None, mask, True)
    assert_close_to_reference(out, reference64(q, k, v, None, None, True))


def test_empty_inputs_give_empty_outputs():
    for shape in [(0, 4, 1, 64), (2, 0, 1, 64), (2, 4, 0, 64)]:
        q = torch.randn(shape)
        kv_heads = 2 if shape[1] else 1
        k = torch.randn(shape[0], kv_heads, 7, 64)
        assert attention(q, k, k.clone()).shape == shape


BAD_INPUTS = [
    # (description, arguments by name, exception, words the message must contain)
    ("3-D q", dict(q=torch.ones(4, 1, 64)), ValueError, ["q must have shape"]),
    ("3-D k", dict(k=torch.ones(2, 9, 64)), ValueError, ["k must have shape", "KV cache"]),
    ("int q", dict(q=torch.ones(1, 4, 1, 64, dtype=torch.int32)), TypeError, ["q", "float32"]),
    ("k dtype", dict(k=torch.ones(1, 2, 9, 64).half()), TypeError, ["k must have q's dtype"]),
    ("head dim", dict(q=torch.ones(1, 4, 1, 72)), ValueError, ["head_dim", "64, 80, 96, 128, 256"]),
    ("k head dim", dict(k=torch.ones(1, 2, 9, 128)), ValueError, ["k must have q's batch"]),
    ("k batch", dict(k=torch.ones(3, 2, 9, 64)), ValueError, ["k must have q's batch"]),
    ("v shape", dict(v=torch.ones(1, 2, 8, 64)), ValueError, ["v must have the shape of k"]),
    (
        "heads",
        dict(k=torch.ones(1, 3, 9, 64), v=torch.ones(1, 3, 9, 64)),
        ValueError,
        ["heads of q (4)", "multiple", "kv_heads of k (3)"],
    ),
    ("queries", dict(q=torch.ones(1, 4, 9, 64)), ValueError, ["at most 8 queries", "prefill"]),
    ("scale nan", dict(scale=float("nan")), ValueError, ["scale", "finite"]),
    ("window", dict(window=-1), ValueError, ["window must be >= 0"]),
    ("softcap", dict(softcap=-2.0), ValueError, ["softcap"]),
    ("softcap inf", dict(softcap=float("inf")), ValueError, ["softcap"]),
    ("mask dtype", dict(mask=torch.zeros(9).half()), TypeError, ["mask", "boolean", "additive"]),
    ("mask keys", dict(mask=torch.zeros(1, 1, 1, 10)), ValueError, ["mask", "broadcastable"]),
    ("mask heads", dict(mask=torch.zeros(1, 3, 1, 9)), ValueError, ["mask", "(1, 4, 1, 9)"]),
    ("mask 5-D", dict(mask=torch.zeros(1, 1, 1, 1, 9)), ValueError, ["mask", "at most 4"]),
    ("mask device", dict(mask=torch.zeros(9, device="meta")), ValueError, ["mask", "device"]),
    ("k device", dict(k=torch.zeros(1, 2, 9, 64, device="meta")), ValueError, ["k", "device"]),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_argument(case):
    _, changes, exception, words = case
    arguments = dict(
        q=torch.ones(1, 4, 1, 64), k=torch.ones(1, 2, 9, 64), v=torch.ones(1, 2, 9, 64),
        scale=None, mask=None, causal=False, window=0, softcap=0.0,
    )  # fmt: skip
    arguments.update(changes)
    with pytest.raises(exception) as info:
        attention(*arguments.values())
    for word in words:
        assert word in str(info.value), str(info.value)


def test_opcheck_passes():
    q, k, v = qkv(queries=3, keys=20, dtype=torch.float32)
    q = q.transpose(1, 2).contiguous().transpose(1, 2)
    mask = torch.rand(2, 1, 3, 20, generator=torch.Generator().manual_seed(4)) > 0.2
    torch.library.opcheck(attention.default, (q, k, v, None, mask, True, 0, 0.0))
    torch.library.opcheck(
        attention.default, (q.half(), k.half(), v.half(), 0.2, None, False, 8, 30.0)
    )


class TinyDecoder(torch.nn.Module):
    """One decode step of a GQA attention over a growing cache."""

    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(64, 4 * 64)

    def forward(self, x, k_cache, v_cache):
        q = self.q(x).view(x.shape[0], 1, 4, 64).transpose(1, 2)
        out = torch_metalgen.decode_attention(q, k_cache, v_cache, 1 / math.sqrt(64))
        return out.transpose(1, 2).reshape(x.shape[0], 1, -1)


def test_torch_compile_fullgraph_dynamic_shapes():
    model = TinyDecoder().eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    with torch.no_grad():
        for keys in (5, 9, 17):
            x, k, v = (
                torch.randn(2, 1, 64),
                torch.randn(2, 2, keys, 64),
                torch.randn(2, 2, keys, 64),
            )
            torch.testing.assert_close(compiled(x, k, v), model(x, k, v))


def test_torch_export_keeps_the_op():
    model = TinyDecoder().eval()
    args = (torch.randn(2, 1, 64), torch.randn(2, 2, 9, 64), torch.randn(2, 2, 9, 64))
    exported = torch.export.export(model, args)
    targets = [str(node.target) for node in exported.graph.nodes]
    assert "metalgen.decode_attention.default" in targets, targets
    torch.testing.assert_close(exported.module()(*args), model(*args))


def test_public_wrapper_takes_scale_none_and_types_its_arguments():
    q, k, v = qkv(dtype=torch.float32)
    torch.testing.assert_close(
        torch_metalgen.decode_attention(q, k, v),
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
    )
    with pytest.raises(TypeError, match="scale must be a float or None"):
        torch_metalgen.decode_attention(q, k, v, "0.1")
    with pytest.raises(TypeError, match="window"):
        torch_metalgen.decode_attention(q, k, v, window=2.5)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "boolean", "additive"])
def test_reference_agrees_with_mlx(mask_kind):
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    q, k, v = qkv(heads=8, kv_heads=2, queries=4, keys=45, head_dim=96, dtype=torch.float32)
    boolean = torch.rand(2, 1, 4, 45, generator=torch.Generator().manual_seed(5)) > 0.25
    additive = torch.zeros(boolean.shape).masked_fill(~boolean, float("-inf"))
    ours_mask, causal, theirs_mask = {
        "none": (None, False, None),
        "causal": (None, True, "causal"),  # mlx's causal is bottom-right aligned too
        "boolean": (boolean, False, mx.array(boolean.numpy())),
        "additive": (additive, False, mx.array(additive.numpy())),
    }[mask_kind]
    ours = attention(q, k, v, 0.1, ours_mask, causal)
    theirs = mx.fast.scaled_dot_product_attention(
        *(mx.array(t.numpy()) for t in (q, k, v)), scale=0.1, mask=theirs_mask
    )
    torch.testing.assert_close(ours, torch.from_numpy(np.array(theirs)), rtol=2e-5, atol=2e-6)
