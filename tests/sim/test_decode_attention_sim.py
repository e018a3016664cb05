"""Every decode_attention kernel through the MSL simulator against the float64 reference
(reference/verification.md): each dtype x head dim x variant, GQA ratios (MHA, GQA, MQA),
every mask kind (none, causal, boolean, additive -inf / finfo.min / bias, sliding window,
soft-capping), 1-8 queries, KV lengths that are multiples of no block size, held-out shapes,
inputs that make the softmax hard (large logits, one dominant key, all-equal keys, fully
masked rows), distributions, NaN, views read through their strides, smaller pipelines, both
schedule orders, poisoned outputs and partials, inputs unchanged, the bytes each launch
moves, mlx. Shapes are small: the simulator runs every GPU thread as a fiber. Larger sweeps
(7B heads, 4k-32k keys) run with METALGEN_SWEEP=1."""

from __future__ import annotations

import os

import pytest
import torch

from tests.sim.plan_runs import same_bits as _same_bits
from tests.sim.plan_runs import sim
from tests.tolerances import assert_close_to_reference, mismatch
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.verify.distributions import DISTRIBUTIONS

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
HEAD_DIMS = (64, 80, 96, 128, 256)
VARIANTS = ("single_pass", "split_kv")


def sweep(test):
    """A large sweep: marked `sweep`, run only with METALGEN_SWEEP=1 (minutes):
    METALGEN_SWEEP=1 python -m pytest -m sweep tests/sim/test_decode_attention_sim.py"""
    skip = pytest.mark.skipif(
        os.environ.get("METALGEN_SWEEP") != "1", reason="sweep: set METALGEN_SWEEP=1 (minutes)"
    )
    return pytest.mark.sweep(skip(test))


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-for-bit equal values, whatever the layouts (views, expanded tensors)."""
    return _same_bits(a.contiguous(), b.contiguous())


def make(batch, heads, kv_heads, queries, keys, head_dim, dtype=torch.float32, seed=0):
    """q as attention modules pass it (a transposed view of (batch, queries, heads, dim)),
    k and v as a dynamic cache holds them."""
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, queries, heads, head_dim, generator=generator).transpose(1, 2)
    k = torch.randn(batch, kv_heads, keys, head_dim, generator=generator)
    v = torch.randn(batch, kv_heads, keys, head_dim, generator=generator)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def padding_mask(batch, queries, keys, dtype=torch.bool, seed=1):
    """(batch, 1, queries, keys): the first keys of batch row 1 are padding."""
    mask = torch.ones(batch, 1, queries, keys, dtype=torch.bool)
    mask[-1, ..., : max(keys // 5, 1)] = False
    if dtype == torch.bool:
        return mask
    return torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, float("-inf"))


def reference64(q, k, v, scale=None, mask=None, causal=False, window=0, softcap=0.0):
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.double()
    return REFERENCES["decode_attention"](
        q.double(), k.double(), v.double(), scale, mask, causal, window, softcap
    )


def expected_kernels(variant: str, head_dim: int, dtype: torch.dtype) -> list[str]:
    name = str(dtype).removeprefix("torch.")
    if variant == "single_pass":
        return [f"decode_attention_single_pass_{head_dim}_{name}"]
    return [
        f"decode_attention_split_partials_{head_dim}_{name}",
        f"decode_attention_combine_splits_{name}",
    ]


def run(args, variant, order="forward", max_threads=1024):
    """The forced variant's launches in the simulator (outputs and partials poisoned and
    checked for unwritten elements); asserts the kernels launched and unchanged inputs."""
    q = args[0]
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    before = [t.clone() for t in tensors]
    plans, out = _ops._C.plan_decode_attention(*args, variant=variant, max_threads=max_threads)
    if out.numel():
        assert [p.kernel for p in plans] == expected_kernels(variant, q.shape[-1], q.dtype)
    sim.run_plan(plans, order=order, check_unwritten=True)
    for tensor, copy in zip(tensors, before, strict=True):
        assert same_bits(tensor, copy), "the kernel modified an input"
    return out


def check(args, variant, orders=False, max_threads=1024):
    out = run(args, variant, max_threads=max_threads)
    if orders:
        assert same_bits(out, run(args, variant, "reverse", max_threads)), "order-dependent"
    assert_close_to_reference(out, reference64(*args))
    return out


def args_of(q, k, v, scale=None, mask=None, causal=False, window=0, softcap=0.0):
    return (q, k, v, scale, mask, causal, window, softcap)


# A split launch needs >= 2 x SPLIT_MIN_KEYS (128) visible keys to have two splits.
def keys_for(variant: str, small: int) -> int:
    return small if variant == "single_pass" else small + 256


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("head_dim", HEAD_DIMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_dtype_head_dim_and_variant(dtype, head_dim, variant):
    q, k, v = make(2, 4, 2, 2, keys_for(variant, 45), head_dim, dtype, seed=head_dim)
    mask = padding_mask(2, 2, k.shape[2])
    check(args_of(q, k, v, None, mask, True), variant, orders=True)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "heads, kv_heads",
    [(4, 4), (4, 2), (8, 2), (8, 1), (6, 3)],
    ids=["mha", "gqa2", "gqa4", "mqa", "gqa2-odd"],
)
def test_gqa_ratios(heads, kv_heads, variant):
    q, k, v = make(2, heads, kv_heads, 3, keys_for(variant, 29), 64, torch.float16, seed=heads)
    check(args_of(q, k, v, 0.2, padding_mask(2, 3, k.shape[2]), True), variant)


MASK_KINDS = {
    "none": lambda shape: dict(),
    "causal": lambda shape: dict(causal=True),
    "boolean": lambda shape: dict(
        mask=torch.rand(shape, generator=torch.Generator().manual_seed(2)) > 0.3
    ),
    "boolean-broadcast": lambda shape: dict(mask=padding_mask(shape[0], 1, shape[-1])[:, :, :1]),
    "additive-inf": lambda shape: dict(
        mask=padding_mask(shape[0], shape[2], shape[-1], torch.float32)
    ),
    # transformers' eager masks: finfo.min where hidden, so no row is ever fully masked
    "additive-finfo-min": lambda shape: dict(
        mask=torch.zeros(shape[0], 1, shape[2], shape[-1]).masked_fill(
            ~padding_mask(shape[0], shape[2], shape[-1]), torch.finfo(torch.float32).min
        )
    ),
    "additive-bias": lambda shape: dict(
        mask=torch.randn(shape, generator=torch.Generator().manual_seed(3))
    ),
    "window": lambda shape: dict(causal=True, window=20),
    "window-not-causal": lambda shape: dict(window=7),
    "softcap": lambda shape: dict(softcap=2.0, scale=1.0),
    "softcap-mask-window": lambda shape: dict(
        softcap=5.0, window=30, causal=True, mask=padding_mask(shape[0], shape[2], shape[-1])
    ),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", sorted(MASK_KINDS))
def test_mask_kinds(kind, variant):
    q, k, v = make(2, 4, 2, 3, keys_for(variant, 41), 96, torch.float32, seed=7)
    options = MASK_KINDS[kind]((2, 4, 3, k.shape[2]))
    check(args_of(q, k, v, **options), variant)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_half_masks_and_soft_capping(variant, dtype):
    q, k, v = make(1, 4, 2, 2, keys_for(variant, 40), 128, dtype, seed=8)
    mask = padding_mask(1, 2, k.shape[2], dtype)
    mask[..., 5] = -3.0  # a finite bias too
    check(args_of(q, k, v, None, mask, True, 25, 30.0), variant)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("queries", [1, 2, 5, 8])
def test_one_to_eight_queries(queries, variant):
    # 8 query heads over 2 KV heads: up to 32 rows per KV head, several row blocks.
    q, k, v = make(1, 8, 2, queries, keys_for(variant, 21), 128, torch.float32, seed=queries)
    check(args_of(q, k, v, None, None, True), variant)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("keys", [1, 2, 31, 33, 127, 129, 257, 1031])
def test_kv_lengths_that_are_multiples_of_no_block(keys, variant):
    q, k, v = make(1, 2, 1, 1, keys, 64, torch.float32, seed=keys)
    check(args_of(q, k, v), variant)


HELD_OUT = [  # never used while writing the kernels: (batch, heads, kv_heads, queries, keys, dim)
    (3, 6, 3, 5, 77, 96),
    (1, 10, 5, 1, 613, 80),
    (2, 3, 1, 7, 9, 256),
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", HELD_OUT, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_held_out_shapes(dtype, shape, variant):
    q, k, v = make(*shape, dtype=dtype, seed=11)
    mask = padding_mask(shape[0], shape[3], shape[4])
    check(args_of(q, k, v, None, mask, True), variant)


def integers(shape, low, high, seed):
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed)).float()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_large_logits_need_the_running_max(variant, dtype):
    # Logits ~1000-1300, exact in every dtype (small integers, scale 1): exp(logit) is inf in
    # float32, so a softmax that does not subtract its running max returns NaN.
    keys = keys_for(variant, 50)
    q = integers((1, 2, 1, 64), -2, 3, 1)
    q[..., 0] = 100.0
    k = integers((1, 1, keys, 64), -2, 3, 2)
    k[..., 0] = integers((keys,), 10, 13, 3)
    v = integers((1, 1, keys, 64), -4, 5, 4)
    out = check(args_of(q.to(dtype), k.to(dtype), v.to(dtype), 1.0), variant)
    assert out.isfinite().all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_one_dominant_key_and_all_equal_keys(variant, dtype):
    keys = keys_for(variant, 70)
    q, k, v = make(1, 4, 2, 1, keys, 64, dtype, seed=12)
    dominant = k.clone()
    dominant[:, :, 37] = (q[:, ::2, 0] * 8).to(dtype)  # its logit is ~8 |q|^2 / 8 above the rest
    out = check(args_of(q, dominant, v, None), variant)
    torch.testing.assert_close(out[:, ::2, 0].float(), v[:, :, 37].float(), rtol=0.05, atol=0.05)
    equal = k[:, :, :1].expand(-1, -1, keys, -1)  # every key the same row: uniform weights
    out = check(args_of(q, equal, v), variant)
    mean = v.double().mean(2, keepdim=True).repeat_interleave(2, 1)
    assert_close_to_reference(out, mean)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fully_masked_rows_are_zeros(variant):
    keys = keys_for(variant, 60)
    q, k, v = make(2, 4, 2, 3, keys, 80, torch.float32, seed=13)
    mask = torch.ones(2, 4, 3, keys, dtype=torch.bool)
    mask[0, 1, 2] = False  # one (batch, head, query) row sees nothing
    mask[1, :, :, : keys // 2] = False  # half the keys hidden: whole splits see nothing
    out = check(args_of(q, k, v, None, mask), variant)
    assert torch.equal(out[0, 1, 2], torch.zeros(80)) and not out.isnan().any()
    additive = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    assert same_bits(run(args_of(q, k, v, None, additive), variant), out)
    # causal with more queries than keys: the first queries see no key
    q, k, v = make(1, 2, 1, 5, 3, 64, seed=14)
    tall = check(args_of(q, k, v, None, None, True), variant)
    assert torch.equal(tall[:, :, :2], torch.zeros(1, 2, 2, 64))
    # no keys at all
    q, k, v = make(1, 2, 1, 1, 0, 64, seed=15)
    assert torch.equal(run(args_of(q, k, v), variant), torch.zeros(1, 2, 1, 64))


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_distributions(variant, distribution):
    # q, k and v drawn from the distribution (v alone for the mean-100 one: an offset on k
    # only shifts every logit, and float32 logits of ~|q| * 100 * 8 lose digits in torch too).
    generator = torch.Generator().manual_seed(16)
    keys = keys_for(variant, 57)
    q, k, v = make(1, 4, 2, 2, keys, 64, seed=17)
    draw = DISTRIBUTIONS[distribution]
    v = draw(v.shape, generator).float()
    if distribution != "offset100":
        q, k = (0.5 * draw(q.shape, generator)).float(), (0.5 * draw(k.shape, generator)).float()
    out = run(args_of(q, k, v, None, None, True), variant)
    assert_close_to_reference(out, reference64(q, k, v, None, None, True))


@pytest.mark.parametrize("variant", VARIANTS)
def test_nan_and_inf_reach_their_rows_only(variant):
    keys = keys_for(variant, 40)
    q, k, v = make(1, 4, 2, 1, keys, 64, seed=18)
    q[0, 1, 0, 3] = float("nan")  # query head 1
    k[0, 1, 5, 0] = float("nan")  # every query head of KV head 1 sees key 5
    out = run(args_of(q, k, v), variant)
    expected = reference64(q, k, v)
    assert out[0, 1].isnan().all() and out[0, 2:].isnan().all()
    assert torch.equal(out.isnan(), expected.isnan())
    assert_close_to_reference(out[0, 0], expected[0, 0])
    mask = torch.zeros(1, 1, 1, keys)
    mask[..., 3] = float("inf")  # a +inf logit makes its row NaN, as in torch
    assert run(args_of(q, k, v, None, mask), variant)[0, 0].isnan().all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_views_are_read_through_their_strides(variant):
    keys = keys_for(variant, 30)
    q, k, v = make(2, 4, 2, 3, keys, 128, torch.float16, seed=19)
    # a static cache longer than the keys (a slice with a batch stride of the whole cache),
    # with a storage offset; values stored transposed (last-dimension stride != 1)
    cache = torch.randn(3, 2, keys + 17, 128).half()
    k_view = cache[1:]
    k_view[:, :, :keys] = k
    k_view = k_view[:, :, :keys]
    v_view = v.transpose(-1, -2).contiguous().transpose(-1, -2)
    mask = padding_mask(2, 1, keys)[:, :, :1].expand(2, 4, 3, keys)
    assert k_view.storage_offset() and v_view.stride(-1) != 1 and mask.stride(1) == 0
    out = check(args_of(q, k_view, v_view, None, mask, True), variant)
    assert same_bits(
        out, run(args_of(q.contiguous(), k, v, None, mask.contiguous(), True), variant)
    )


@pytest.mark.parametrize("max_threads", [32, 64, 160])
@pytest.mark.parametrize("variant", VARIANTS)
def test_smaller_pipeline_limits(variant, max_threads):
    # A pipeline may allow fewer threads per threadgroup: fewer SIMD groups merge the rows.
    q, k, v = make(1, 4, 1, 2, keys_for(variant, 50), 80, torch.float32, seed=20)
    plans, _ = _ops._C.plan_decode_attention(
        *args_of(q, k, v), variant=variant, max_threads=max_threads
    )
    assert all(p.threadgroup[0] <= max_threads for p in plans)
    check(args_of(q, k, v, None, None, True), variant, max_threads=max_threads)


def launch_traffic(args, variant):
    with sim.record_launches() as launches:
        run(args, variant)
    return launches


@pytest.mark.parametrize("variant", VARIANTS)
def test_k_and_v_are_read_once(variant):
    # 8 query heads over 2 KV heads at head dim 128: one threadgroup row block per KV head,
    # so every K and V byte is read once (not once per query head), the output written once.
    q, k, v = make(1, 8, 2, 1, 300, 128, torch.float16, seed=21)
    launches = launch_traffic(args_of(q, k, v), variant)
    first = launches[0].traffic
    assert first[1].read == first[1].distinct_read == k.numel() * 2
    assert first[2].read == first[2].distinct_read == v.numel() * 2
    assert launches[-1].traffic[4].written == q.numel() * 2
    if variant == "split_kv":
        splits = launches[0].traffic[7].written // (q.numel() // 128 * 8)
        assert splits >= 2  # partials: (max, sum) + 128 floats per (row, split)
        assert first[6].written == splits * q.numel() * 4


def test_keys_outside_the_window_or_the_mask_are_not_read():
    q, k, v = make(1, 4, 2, 1, 200, 64, torch.float32, seed=22)
    launches = launch_traffic(args_of(q, k, v, None, None, True, 50), "single_pass")
    assert launches[0].traffic[1].distinct_read == k[:, :, -50:].numel() * 4
    mask = torch.zeros(1, 1, 1, 200, dtype=torch.bool)
    mask[..., 10:20] = True
    launches = launch_traffic(args_of(q, k, v, None, mask), "single_pass")
    assert launches[0].traffic[2].distinct_read == v[:, :, 10:20].numel() * 4


def test_automatic_choice_and_where_the_split_lies():
    def plan(batch, heads, kv_heads, keys, head_dim=128, window=0):
        q = torch.empty(batch, heads, 1, head_dim)
        k = torch.empty(batch, kv_heads, keys, head_dim)
        plans, _ = _ops._C.plan_decode_attention(q, k, k, None, None, True, window, 0.0)
        return [p.kernel.rsplit("_", 1)[0] for p in plans], tuple(plans[0].grid)

    # 7B decode (32 query heads over 8 KV heads): 8 threadgroups in one pass, far fewer
    # than a GPU's cores: split from 2 x 128 keys on, up to 40 splits (320 threadgroups).
    assert plan(1, 32, 8, 255) == (["decode_attention_single_pass_128"], (1, 8, 1))
    assert plan(1, 32, 8, 256)[1] == (1, 8, 2)
    assert plan(1, 32, 8, 4096)[1] == (1, 8, 32)
    assert plan(1, 32, 8, 32768)[1] == (1, 8, 40)
    assert plan(1, 32, 8, 32768)[0] == [
        "decode_attention_split_partials_128",
        "decode_attention_combine_splits",
    ]
    # A sliding window bounds the keys split: 4096 visible keys of 32k.
    assert plan(1, 32, 8, 32768, window=4096)[1] == (1, 8, 32)
    # Enough (batch, KV head) threadgroups to fill the GPU: one pass at any length.
    assert plan(10, 32, 8, 32768)[0] == ["decode_attention_single_pass_128"]
    # Head dim 64 holds 8 rows per threadgroup, 256 two: MQA's 32 heads are 4 / 16 blocks.
    assert plan(1, 32, 1, 100, 64)[1] == (4, 1, 1)
    assert plan(1, 32, 1, 100, 256)[1] == (16, 1, 1)


def test_simulate_mode_routes_the_op_through_the_kernel():
    q, k, v = make(1, 4, 2, 1, 33, 64, seed=23)
    with sim.simulate() as mode:
        out = torch.ops.metalgen.decode_attention(q, k, v, None, None, False, 0, 0.0)
    assert mode.launches == ["decode_attention_single_pass_64_float32"]
    assert_close_to_reference(out, reference64(q, k, v))


@pytest.mark.parametrize("variant", VARIANTS)
def test_agrees_with_mlx(variant):
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    q, k, v = make(2, 8, 2, 3, keys_for(variant, 61), 128, seed=24)
    mask = padding_mask(2, 3, k.shape[2])
    ours = run(args_of(q, k, v, 0.09, mask), variant)
    theirs = mx.fast.scaled_dot_product_attention(
        *(mx.array(t.contiguous().numpy()) for t in (q, k, v)),
        scale=0.09,
        mask=mx.array(mask.numpy()),
    )
    torch.testing.assert_close(ours, torch.from_numpy(np.array(theirs)), rtol=2e-5, atol=2e-6)
    ours = run(args_of(q, k, v, 0.09, None, True), variant)
    theirs = mx.fast.scaled_dot_product_attention(
        *(mx.array(t.contiguous().numpy()) for t in (q, k, v)), scale=0.09, mask="causal"
    )
    torch.testing.assert_close(ours, torch.from_numpy(np.array(theirs)), rtol=2e-5, atol=2e-6)


SWEEP_SHAPES = [  # (batch, heads, kv_heads, queries, keys, head_dim)
    (1, 32, 8, 1, 4096, 128),
    (1, 32, 8, 1, 16384, 128),
    (1, 32, 8, 1, 32768, 128),
    (1, 32, 8, 4, 2048, 128),
    (2, 16, 16, 1, 3000, 64),
    (1, 8, 1, 8, 5000, 256),
]


@sweep
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SWEEP_SHAPES, ids=str)
def test_sweep_large_caches(shape, dtype):
    q, k, v = make(*shape, dtype=dtype, seed=25)
    args = args_of(q, k, v, None, padding_mask(shape[0], shape[3], shape[4]), True)
    plans, out = _ops._C.plan_decode_attention(*args)
    sim.run_plan(plans)
    problem = mismatch(out, reference64(*args))
    assert not problem, f"{[p.kernel for p in plans]}: {problem}"


@sweep
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("head_dim", HEAD_DIMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sweep_head_dims_at_two_thousand_keys(dtype, head_dim, variant):
    q, k, v = make(2, 12, 4, 3, 2000, head_dim, dtype, seed=head_dim)
    check(args_of(q, k, v, None, padding_mask(2, 3, 2000), True, 700, 20.0), variant)
