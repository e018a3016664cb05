"""Every rotary_embedding kernel x dtype x layout through the MSL simulator against the
float64 reference (reference/verification.md): Hugging Face's strided q/k views, GQA, odd
head counts, head_dim 64/80/96/128/256, partial rotary, decode (seq 1), held-out shapes,
distributions, poisoned outputs, both schedule orders, HF's rounding bit for bit, the
positions mode's float32-angle bound, memory traffic against compulsory bytes, mlx."""

from __future__ import annotations

import pytest
import torch

from tests.ops.rotary_cases import case, products_rounding_bound, reference64
from tests.sim.plan_runs import run_both_orders, run_kernel, sim, variants
from tests.tolerances import TOLERANCES, assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen.verify.distributions import DISTRIBUTIONS

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
(VARIANT,) = variants("rotary_embedding")  # one kernel; cos/sin from tables or positions
MODES = ["tables", "positions"]
LAYOUTS = {"rotate_half": False, "interleaved": True}

SHAPES = [
    # (batch, q_heads, k_heads, seq, head_dim, rotary_dim)
    (1, 32, 8, 1, 128, None),  # decode, GQA
    (2, 5, 1, 7, 64, None),  # odd heads; 4 heads per thread do not divide 6
    (1, 3, 3, 4, 80, None),
    (1, 4, 2, 3, 96, 32),  # partial rotary
    (1, 2, 1, 2, 256, None),
]
HELD_OUT = [(3, 7, 7, 5, 112, 48), (1, 9, 3, 2, 40, None)]


def arguments(mode, q, k, cos, sin, interleaved, round_products=False, offset=0):
    if mode == "tables":
        return (q, k, cos, sin, None, 10000.0, -1, interleaved, round_products)
    positions = torch.arange(offset, offset + q.shape[2])
    return (q, k, None, None, positions, 10000.0, cos.shape[-1], interleaved, round_products)


def expected64(args):
    q, k, cos, sin, positions, base, rotary_dim, interleaved, _ = args
    return reference64(q, k, cos, sin, positions, base, rotary_dim, interleaved)


def check(args):
    outputs = run_both_orders("rotary_embedding", args, VARIANT)
    for out, x, expected in zip(outputs, args[:2], expected64(args), strict=True):
        assert out.shape == x.shape and out.is_contiguous()
        assert_close_to_reference(out, expected)
    return outputs


def tables_for(interleaved, q, k, cos, sin):
    """case()'s tables are rotate_half; an interleaved run gets the same angles paired."""
    if not interleaved:
        return cos, sin
    half = cos.shape[-1] // 2
    return cos[..., :half].repeat_interleave(2, -1), sin[..., :half].repeat_interleave(2, -1)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES + HELD_OUT, ids=str)
def test_shapes(shape, mode, dtype, layout):
    batch, q_heads, k_heads, seq, head_dim, rotary_dim = shape
    interleaved = LAYOUTS[layout]
    q, k, cos, sin = case(*shape, dtype=dtype, seed=sum(s or 0 for s in shape), offset=25)
    cos, sin = tables_for(interleaved, q, k, cos, sin)
    assert q.stride()[1:] == (head_dim, q_heads * head_dim, 1)  # HF's view, not copied
    check(arguments(mode, q, k, cos, sin, interleaved, offset=25))


def _layouts(dtype):
    """q, k, cos, sin in the memory layouts a caller may pass (all read without a copy)."""
    generator = torch.Generator().manual_seed(16)
    batch, seq, q_heads, k_heads, head_dim = 2, 5, 6, 2, 32
    _, _, cos, sin = case(batch, 1, 1, seq, head_dim, None, dtype, offset=9)
    dense_q = torch.randn(batch, q_heads, seq, head_dim, generator=generator).to(dtype)
    dense_k = torch.randn(batch, k_heads, seq, head_dim, generator=generator).to(dtype)
    # one fused qkv projection: q and k are views at different storage offsets
    qkv = torch.randn(batch, seq, (q_heads + 2 * k_heads) * head_dim, generator=generator)
    qkv = qkv.to(dtype).view(batch, seq, q_heads + 2 * k_heads, head_dim).transpose(1, 2)
    # head_dim not innermost (a caller's (batch, heads, head_dim, seq) buffer, transposed)
    swapped = torch.randn(batch, q_heads, head_dim, seq, generator=generator).to(dtype)
    return {
        "contiguous": (dense_q, dense_k, cos, sin),
        "mixed": (dense_q, qkv[:, q_heads : q_heads + k_heads], cos, sin),
        "fused_qkv": (qkv[:, :q_heads], qkv[:, q_heads : q_heads + k_heads], cos, sin),
        "head_dim_strided": (swapped.transpose(2, 3), dense_k, cos, sin),
        "broadcast_tables": (
            dense_q,
            dense_k,
            cos[:1].expand(batch, -1, -1),
            sin[:1].expand(batch, -1, -1),
        ),
        "tables_without_batch": (dense_q, dense_k, cos[0], sin[0]),
        "strided_tables": (
            dense_q,
            dense_k,
            *(torch.stack((t, t), -1)[..., 0] for t in (cos, sin)),
        ),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", sorted(_layouts(torch.float32)))
def test_memory_layouts(layout, dtype):
    q, k, cos, sin = _layouts(dtype)[layout]
    for interleaved in (False, True):
        check(arguments("tables", q, k, cos, sin, interleaved))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_distributions(distribution, dtype):
    values = DISTRIBUTIONS[distribution]
    q, k, cos, sin = case(1, 4, 2, 9, 64, 48, dtype, seed=3, offset=100, values=values)
    check(arguments("tables", q, k, cos, sin, False))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_products_gives_hugging_faces_bits(layout, dtype):
    # The storage-dtype reference is HF's eager apply_rotary_pos_emb bit for bit (checked
    # against HF itself in tests/ops); the kernel must give the same bits.
    from torch_metalgen._generated.references import REFERENCES

    interleaved = LAYOUTS[layout]
    q, k, cos, sin = case(2, 6, 2, 5, 96, 64, dtype, seed=9, offset=2000)
    cos, sin = tables_for(interleaved, q, k, cos, sin)
    args = arguments("tables", q, k, cos, sin, interleaved, round_products=True)
    outputs = run_both_orders("rotary_embedding", args, VARIANT)
    hf = REFERENCES["rotary_embedding"](*args)
    for out, expected in zip(outputs, hf, strict=True):
        assert torch.equal(out, expected)
    bound = products_rounding_bound(q, cos, sin, interleaved)
    exact = expected64(args)[0][..., :64]
    assert ((outputs[0][..., :64].double() - exact).abs() <= bound).all()


def test_round_products_in_positions_mode_rounds_each_product():
    q, k, _, _ = case(1, 4, 2, 6, 64, None, torch.bfloat16, seed=10)
    args = arguments("positions", q, k, *case(1, 1, 1, 6, 64)[2:], False, round_products=True)
    outputs = run_kernel("rotary_embedding", args, VARIANT)
    # The exact tables of these positions; float32 angles add (|x_i| + |x_p|) * 6 * 2^-24.
    inv_freq = 10000.0 ** -(torch.arange(0, 64, 2, dtype=torch.float64) / 64)
    angles = torch.arange(6, dtype=torch.float64)[None, :, None] * inv_freq
    cos, sin = torch.cat((angles,) * 2, -1).cos(), torch.cat((angles,) * 2, -1).sin()
    for out, x, exact in zip(outputs, (q, k), expected64(args), strict=True):
        bound = products_rounding_bound(x, cos, sin) + 2 * x.double().abs().amax() * 6 * 2.0**-24
        assert ((out.double() - exact).abs() <= bound).all()


@pytest.mark.parametrize("base", [10000.0, 500000.0])
@pytest.mark.parametrize("max_position", [4096, 131072])
def test_positions_mode_is_within_the_float32_angle_bound(max_position, base):
    # Angles in float32 (as HF's inv_freq and position * inv_freq): theta = position at pair
    # 0 carries up to ~|theta| * 2^-24 radians of rounding, so each output may differ from
    # float64 by (|x_i| + |x_partner|) * position * 2^-24 on top of the table's tolerance.
    # Measured: 0.6-0.8 of that (docs/rotary.md); HF's own float32 cos/sin are as far off.
    generator = torch.Generator().manual_seed(11)
    seq, head_dim = 48, 128
    positions = torch.linspace(0, max_position, seq).round().long()
    q = torch.randn(1, 2, seq, head_dim, generator=generator)
    k = torch.randn(1, 1, seq, head_dim, generator=generator)
    args = (q, k, None, None, positions, base, -1, False, False)
    outputs = run_kernel("rotary_embedding", args, VARIANT)
    tolerance = TOLERANCES[torch.float32]
    for out, x, ref in zip(outputs, (q, k), expected64(args), strict=True):
        x = x.double()
        partner = torch.cat((x[..., head_dim // 2 :], x[..., : head_dim // 2]), -1)
        angle_error = (x.abs() + partner.abs()) * positions.double()[:, None] * 2.0**-24
        allowed = tolerance.atol + tolerance.rtol * ref.abs() + angle_error
        assert ((out.double() - ref).abs() <= allowed).all()
        # and the bound is not vacuous: the error does grow with the position
        assert (out.double() - ref).abs().max() > 0.1 * angle_error.max()


def test_non_finite_inputs_stay_in_their_pair():
    q, k, cos, sin = case(1, 2, 1, 3, 16, None, torch.float32, seed=12)
    q = q.clone()
    q[0, 0, 1, 2] = float("nan")  # pair (2, 10) of position 1, head 0
    q[0, 1, 2, 5] = float("inf")
    args = arguments("tables", q, k, cos, sin, False)
    q_out, k_out = run_kernel("rotary_embedding", args, VARIANT)
    expected, _ = expected64(args)
    assert torch.equal(q_out.isnan(), expected.isnan()) and torch.equal(
        q_out.isinf(), expected.isinf()
    )
    assert q_out.isnan().sum() == 2  # elements 2 and 10: the rest of the row is finite
    finite = ~(expected.isnan() | expected.isinf())
    assert_close_to_reference(q_out[finite], expected[finite])
    assert k_out.isfinite().all()


def test_views_cost_no_copy_traffic_is_the_compulsory_bytes():
    # Llama-7B decode: q/k are views of the projections; the kernel reads every element of
    # q, k and the tables once (distinct bytes) and writes the outputs once. A contiguous
    # copy in prepare would have moved 2 x (q + k) bytes more (a read and a write).
    q, k, cos, sin = case(1, 32, 32, 1, 128, None, torch.float16, seed=13, offset=4095)
    plans, outputs = _ops._C.plan_rotary_embedding(q, k, cos, sin, None, 10000.0, -1, False, False)
    assert [plan.kernel for plan in plans] == ["rotary_embedding_pairs_float16"]
    bound = {int(index): tensor for index, tensor, _ in plans[0].buffers}
    assert bound[0].data_ptr() == q.data_ptr() and bound[1].data_ptr() == k.data_ptr()
    with sim.record_launches() as launches:
        sim.run_plan(plans, check_unwritten=True)
    (launch,) = launches
    size = {i: t.numel() * t.element_size() for i, t in bound.items()}
    for index in (0, 1, 2, 3):  # q, k, cos, sin
        assert launch.traffic[index].distinct_read == size[index]
    assert launch.traffic[0].read == size[0] and launch.traffic[1].read == size[1]
    for index in (5, 6):  # q_out, k_out
        assert (
            launch.traffic[index].written == launch.traffic[index].distinct_written == size[index]
        )
    # At decode each thread rotates 4 heads (64 heads -> 16 groups): cos/sin are re-read
    # once per group (cache hits on a GPU); their compulsory bytes are 1/32 of q's here.
    assert launch.traffic[2].read == 16 * size[2]
    for out, expected in zip(outputs, reference64(q, k, cos, sin), strict=True):
        assert_close_to_reference(out, expected)


def test_large_grids_give_each_thread_more_heads():
    # 64 pairs x 200 positions = 12,800 threads per head group: each thread takes 8 of the
    # 10 heads (the grid keeps >= 16k threads), so cos/sin are read twice, not 3 times; the
    # second group holds the 2 heads left over.
    q, k, cos, sin = case(1, 8, 2, 200, 128, None, torch.bfloat16, seed=17)
    plans, outputs = _ops._C.plan_rotary_embedding(q, k, cos, sin, None, 1e4, -1, True, False)
    assert tuple(plans[0].grid) == (64, 200, 2)
    with sim.record_launches() as launches:
        sim.run_plan(plans, check_unwritten=True)
    assert launches[0].traffic[2].read == 2 * cos.numel() * cos.element_size()
    for out, expected in zip(outputs, reference64(q, k, cos, sin, interleaved=True), strict=True):
        assert_close_to_reference(out, expected)


@pytest.mark.parametrize("mode", MODES)
def test_empty_inputs_launch_nothing(mode):
    q, k, cos, sin = case(1, 2, 1, 3, 16)
    args = arguments(mode, q[:, :, :0], k[:, :, :0], cos[:, :0], sin[:, :0], False)
    plans, (q_out, k_out) = _ops._C.plan_rotary_embedding(*args)
    assert plans == [] and q_out.shape == (1, 2, 0, 16) and k_out.shape == (1, 1, 0, 16)
    # k without heads still rotates q
    args = arguments(mode, q, k[:, :0], cos, sin, False)
    q_out, k_out = run_kernel("rotary_embedding", args, VARIANT)
    assert k_out.shape == (1, 0, 3, 16)
    assert_close_to_reference(q_out, expected64(args)[0])


@pytest.mark.parametrize("rotary_dim", [64, 48])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_agrees_with_mlx_rope(layout, rotary_dim):
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    interleaved = LAYOUTS[layout]
    q, k, _, _ = case(2, 3, 1, 9, 64, None, torch.float32, seed=14)
    offset = 57
    positions = torch.arange(offset, offset + 9)
    args = (q, k, None, None, positions, 10000.0, rotary_dim, interleaved, False)
    outputs = run_kernel("rotary_embedding", args, VARIANT)
    for x, ours in zip((q, k), outputs, strict=True):
        theirs = mx.fast.rope(
            mx.array(x.contiguous().numpy()),
            rotary_dim,
            traditional=interleaved,
            base=10000.0,
            scale=1.0,
            offset=offset,
        )
        # both compute float32 angles (theta up to 65 rad): a few float32 ulps of it apart
        torch.testing.assert_close(ours, torch.from_numpy(np.array(theirs)), rtol=1e-5, atol=2e-5)


def test_simulate_mode_routes_the_op_through_the_kernel():
    q, k, cos, sin = case(1, 4, 2, 5, 32, None, torch.bfloat16, seed=15)
    with sim.simulate(order="random"), sim.record_launches() as launches:
        outputs = torch.ops.metalgen.rotary_embedding(q, k, cos, sin)
    assert [launch.kernel for launch in launches] == ["rotary_embedding_pairs_bfloat16"]
    for out, expected in zip(outputs, reference64(q, k, cos, sin), strict=True):
        assert_close_to_reference(out, expected)


def test_one_kernel_serves_both_modes_and_a_wrong_variant_is_named():
    q, k, cos, sin = case(1, 2, 1, 3, 16)
    by_tables, _ = _ops._C.plan_rotary_embedding(q, k, cos, sin, None, 1e4, -1, False, False)
    positions = torch.arange(3)
    by_positions, _ = _ops._C.plan_rotary_embedding(
        q, k, None, None, positions, 1e4, -1, False, False
    )
    assert by_tables[0].kernel == by_positions[0].kernel == "rotary_embedding_pairs_float32"
    with pytest.raises(ValueError, match="unknown variant 'tables'; expected one of pairs"):
        _ops._C.plan_rotary_embedding(q, k, cos, sin, None, 1e4, -1, False, False, variant="tables")
