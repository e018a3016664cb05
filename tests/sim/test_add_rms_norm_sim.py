"""Every add_rms_norm kernel x dtype x variant through the MSL simulator, by the rules of
reference/verification.md: float64 reference, odd and held-out shapes, several input
distributions, both outputs poisoned (an unwritten element is an error), inputs unchanged,
two schedule orders bit for bit; plus what the fusion promises: the same bits as the
unfused computation (eager's rounded sum, then the rms_norm kernel), one pass over memory
(counted per buffer by the simulator), and agreement with mlx's rms_norm."""

from __future__ import annotations

import zlib

import pytest
import torch

from tests.sim.plan_runs import run_both_orders, run_kernel, same_bits, sim, variants
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.verify.distributions import DISTRIBUTIONS

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
VARIANTS = variants("add_rms_norm")

SHAPES = {
    "simd_rows": [(1, 1), (3, 31), (17, 32), (9, 33), (2, 512), (11, 100)],
    "single_row": [(1, 1), (2, 33), (3, 1000), (2, 4096), (2, 513)],
    "looped": [(1, 1), (2, 33), (2, 4097), (1, 10007)],
}
# Never used while writing the kernels.
HELD_OUT = {"simd_rows": (13, 379), "single_row": (3, 2999), "looped": (2, 6143)}


def reference64(x, residual, weight, eps, offset=0.0, casting_mode="gemma"):
    weight64 = None if weight is None else weight.double()
    return REFERENCES["add_rms_norm"](
        x.double(), residual.double(), weight64, eps, offset, casting_mode
    )


def check(args, variant):
    out, residual_out = run_both_orders("add_rms_norm", args, variant)
    expected_out, expected_sum = reference64(*args)
    assert_close_to_reference(out, expected_out)
    assert_close_to_reference(residual_out, expected_sum)
    # The sum is eager's, bit for bit: float32 add, one rounding to the dtype.
    x, residual = args[:2]
    assert same_bits(residual_out, x + residual)
    return out, residual_out


def inputs(shape, dtype, generator):
    x = torch.randn(shape, generator=generator).to(dtype)
    residual = (2 * torch.randn(shape, generator=generator) + 1).to(dtype)
    weight = (1 + 0.5 * torch.randn(shape[-1], generator=generator)).to(dtype)
    return x, residual, weight


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant, shape", [(v, s) for v in VARIANTS for s in SHAPES[v]], ids=str)
def test_variant_shapes(variant, shape, dtype):
    generator = torch.Generator().manual_seed(zlib.crc32(repr((variant, shape)).encode()))
    check((*inputs(shape, dtype, generator), 1e-5), variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("offset, casting_mode", [(0.0, "gemma"), (0.0, "llama"), (1.0, "gemma")])
@pytest.mark.parametrize("variant", VARIANTS)
def test_held_out_shapes_and_options_match_the_unfused_kernels(
    variant, offset, casting_mode, dtype
):
    generator = torch.Generator().manual_seed(12)
    x, residual, weight = inputs(HELD_OUT[variant], dtype, generator)
    weight = (weight.float() - offset).to(dtype)
    x[0, 7] = 300.0  # an outlier channel
    args = (x, residual, weight, 1e-6, offset, casting_mode)
    out, residual_out = check(args, variant)
    # Fused = unfused: the rms_norm kernel of the same variant on eager's sum gives the same bits.
    unfused = run_kernel("rms_norm", (x + residual, weight, 1e-6, offset, casting_mode), variant)
    assert same_bits(out, unfused)


@pytest.mark.parametrize("with_weight", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_without_weight(variant, with_weight):
    generator = torch.Generator().manual_seed(5)
    x, residual, weight = inputs((3, 77), torch.float32, generator)
    check((x, residual, weight if with_weight else None, 1e-5), variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_distributions(variant, distribution, dtype):
    generator = torch.Generator().manual_seed(7)
    shape = {"simd_rows": (5, 77), "single_row": (3, 1031), "looped": (2, 5003)}[variant]
    x = DISTRIBUTIONS[distribution](shape, generator).to(dtype)
    residual = DISTRIBUTIONS[distribution](shape, generator).to(dtype)
    check((x, residual, None, 1e-6), variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_inf_and_nan_make_their_row_nan_like_the_reference(variant):
    x, residual = torch.randn(3, 40), torch.randn(3, 40)
    x[0, 5] = float("nan")
    residual[1, 7] = float("inf")
    out, residual_out = run_kernel("add_rms_norm", (x, residual, None, 1e-6), variant)
    expected_out, expected_sum = reference64(x, residual, None, 1e-6)
    assert torch.equal(out.isnan(), expected_out.isnan())
    assert torch.equal(residual_out.isnan(), expected_sum.isnan())
    assert torch.equal(residual_out.isinf(), expected_sum.isinf())
    torch.testing.assert_close(out[2].double(), expected_out[2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "shape, dtype",
    [((64, 256), torch.float32), ((3, 1000), torch.float16), ((5, 10001), torch.bfloat16)],
    ids=str,
)
def test_one_pass_over_memory(shape, dtype):
    """x, residual read once; out and residual_out written once (the looped variant, for rows
    too long for registers, reads residual_out back once, instead of x and residual)."""
    x, residual, weight = inputs(shape, dtype, torch.Generator().manual_seed(3))
    plans, _ = _ops._C.plan_add_rms_norm(x, residual, weight)
    (plan,) = plans
    with sim.record_launches() as launches:
        sim.run_plan(plans)
    (result,) = launches
    size = x.numel() * x.element_size()
    looped = plan.kernel.startswith("add_rms_norm_looped")
    traffic = {int(index): result.traffic[int(index)] for index, _, _ in plan.buffers}
    for index in (0, 1):  # x, residual
        assert (traffic[index].read, traffic[index].written) == (size, 0)
    # weight: every row reads it (from cache on a GPU); compulsory bytes count it once
    assert traffic[2].distinct_read == weight.numel() * weight.element_size()
    assert (traffic[3].read, traffic[3].written, traffic[3].distinct_written) == (0, size, size)
    assert (traffic[4].written, traffic[4].distinct_written) == (size, size)
    assert traffic[4].read == (size if looped else 0)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_agrees_with_mlx(variant, dtype):
    """mlx has no fused op: its rms_norm of eager's sum. mlx rounds as Llama does (the
    normalized value to the dtype, then the weight), so that is the mode compared in half
    precision; in float32 the modes are the same."""
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    generator = torch.Generator().manual_seed(9)
    shape = {"simd_rows": (6, 200), "single_row": (2, 2000), "looped": (1, 7000)}[variant]
    x, residual, weight = inputs(shape, dtype, generator)
    args = (x, residual, weight, 1e-6, 0.0, "llama")
    out, residual_out = run_kernel("add_rms_norm", args, variant)

    def to_mlx(t):
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: move the bits
            return mx.array(t.view(torch.int16).numpy()).view(mx.bfloat16)
        return mx.array(t.numpy())

    def from_mlx(array):
        if array.dtype == mx.bfloat16:
            return torch.from_numpy(np.array(array.view(mx.int16))).view(torch.bfloat16)
        return torch.from_numpy(np.array(array))

    mlx_sum = to_mlx(x) + to_mlx(residual)
    theirs = from_mlx(mx.fast.rms_norm(mlx_sum, to_mlx(weight), 1e-6))
    assert same_bits(residual_out, from_mlx(mlx_sum))
    if dtype == torch.float32:
        # mlx's float32 inverse RMS differs from a float64 one by a few ulps, as ours does.
        torch.testing.assert_close(out, theirs, rtol=1e-5, atol=1e-5)
    else:  # the same rounding: equal but for a few elements, none over 2 ulps
        differ = out != theirs
        assert differ.float().mean() < 1e-2
        ulp = torch.finfo(dtype).eps * out.double().abs().clamp_min(1)
        assert ((out.double() - theirs.double()).abs() <= 2 * ulp).all()


@pytest.mark.asan
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_kernel_is_clean_under_asan(variant, dtype):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    x, residual, weight = inputs((3, 37), dtype, torch.Generator().manual_seed(1))
    plans, (out, residual_out) = _ops._C.plan_add_rms_norm(
        x, residual, weight, 1e-6, 1.0, "llama", variant=variant
    )
    sim.run_plan(plans, asan=True)
    assert torch.isfinite(out).all() and torch.isfinite(residual_out).all()


def test_simulate_mode_routes_the_op_through_the_kernel():
    import torch_metalgen

    x = torch.randn(6, 70)[:, 3:67]  # a view with an offset: the op makes it contiguous
    residual, weight = torch.randn(6, 64), torch.randn(64)
    with sim.simulate(order="random") as simulator:
        outputs = torch_metalgen.add_rms_norm(x, residual, weight, eps=1e-5)
        empty = torch_metalgen.add_rms_norm(torch.randn(0, 64), torch.randn(0, 64), weight)
    assert simulator.launches == ["add_rms_norm_simd_rows_float32"]
    assert empty[0].shape == empty[1].shape == (0, 64)
    for actual, expected in zip(outputs, reference64(x, residual, weight, 1e-5), strict=True):
        assert_close_to_reference(actual, expected)


def test_auto_choice_uses_each_variant():
    chosen = {
        n: _ops._C.plan_add_rms_norm(torch.randn(2, n), torch.randn(2, n))[0][0].kernel
        for n in (64, 2048, 8192)
    }
    assert chosen == {
        64: "add_rms_norm_simd_rows_float32",
        2048: "add_rms_norm_single_row_float32",
        8192: "add_rms_norm_looped_float32",
    }


@pytest.mark.parametrize("n", [64, 2048, 5000])
def test_plans_under_a_small_pipeline_limit_are_correct(n):
    x, residual = torch.randn(3, n), torch.randn(3, n)
    plans, outputs = _ops._C.plan_add_rms_norm(x, residual, None, 1e-6, max_threads=64)
    assert all(p.threadgroup[0] <= 64 for p in plans)
    sim.run_plan(plans, check_orders=True)
    for actual, expected in zip(outputs, reference64(x, residual, None, 1e-6), strict=True):
        assert_close_to_reference(actual, expected)
