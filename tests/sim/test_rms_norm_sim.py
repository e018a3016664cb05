"""Every rms_norm kernel x dtype x variant through the MSL simulator, against a float64
reference, by the rules of reference/verification.md: several input distributions, odd
shapes, poisoned outputs (unwritten elements are errors), inputs unchanged, two schedule
orders bit-for-bit, candidate before reference."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES

sim = pytest.importorskip("torch_metalgen.sim")

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
VARIANTS = list(_ops._C.rms_norm_variants())

# Shapes per variant: around the SIMD width, the N_READS tail, the variant's length limit,
# rows that leave SIMD groups idle; shapes the auto choice would never give are fine here.
SHAPES = {
    "simd_rows": [(1, 1), (3, 31), (17, 32), (9, 33), (2, 512), (11, 100)],
    "single_row": [(1, 1), (2, 33), (3, 1000), (2, 4096), (1, 4095), (2, 513)],
    "looped": [(1, 1), (2, 33), (2, 4097), (1, 10007)],
}

DISTRIBUTIONS = {
    "normal": lambda g, shape: torch.randn(shape, generator=g),
    "uniform": lambda g, shape: torch.rand(shape, generator=g) * 2 - 1,
    "laplace": lambda g, shape: _laplace(g, shape),
    "exponential": lambda g, shape: -torch.log(torch.rand(shape, generator=g)),
    "lognormal": lambda g, shape: torch.exp(torch.randn(shape, generator=g)),
    "pareto": lambda g, shape: torch.rand(shape, generator=g).clamp_min(1e-3) ** -0.5,
    "large_offset": lambda g, shape: 100 + torch.randn(shape, generator=g),
}


def _laplace(generator, shape):
    u = torch.rand(shape, generator=generator) - 0.5
    return -torch.sign(u) * torch.log1p(-2 * u.abs())


def same_bits(a, b):
    return torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def run_kernel(x, weight, eps, variant, order, options=()):
    """Candidate first, on fresh tensors: plan, simulate (outputs poisoned), return out.
    ``options``: (offset, casting_mode) when not the defaults."""
    x_before = x.clone()
    w_before = None if weight is None else weight.clone()
    plans, out = _ops._C.plan_rms_norm(x, weight, eps, *options, variant=variant)
    assert [plan.kernel for plan in plans] == [f"rms_norm_{variant}_{str(x.dtype).split('.')[1]}"]
    sim.run_plan(plans, order=order, check_unwritten=True)
    assert same_bits(x, x_before), "kernel modified its input x"
    if weight is not None:
        assert same_bits(weight, w_before), "kernel modified its input weight"
    return out


def reference64(x, weight, eps, options=()):
    weight64 = None if weight is None else weight.double()
    return REFERENCES["rms_norm"](x.double(), weight64, eps, *options)


def check(x, weight, eps, variant, options=()):
    forward = run_kernel(x, weight, eps, variant, "forward", options)
    reverse = run_kernel(x, weight, eps, variant, "reverse", options)
    assert same_bits(forward, reverse), "result depends on the scheduling order"
    assert_close_to_reference(forward, reference64(x, weight, eps, options))
    return forward


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant, shape", [(v, s) for v in VARIANTS for s in SHAPES[v]], ids=str)
def test_variant_shapes(variant, shape, dtype):
    generator = torch.Generator().manual_seed(hash((variant, shape)) % 2**31)
    x = torch.randn(shape, generator=generator).to(dtype)
    weight = (1 + 0.5 * torch.randn(shape[-1], generator=generator)).to(dtype)
    check(x, weight, 1e-5, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_distributions(variant, distribution, dtype):
    generator = torch.Generator().manual_seed(7)
    shape = {"simd_rows": (5, 77), "single_row": (3, 1031), "looped": (2, 5003)}[variant]
    x = DISTRIBUTIONS[distribution](generator, shape).to(dtype)
    check(x, None, 1e-6, variant)


# Held out: lengths no variant was tuned on, each variant's, nonzero mean and an outlier.
OPTION_SHAPES = {"simd_rows": (7, 301), "single_row": (3, 2053), "looped": (2, 4503)}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("offset", [0.0, 1.0])
@pytest.mark.parametrize("casting_mode", ["gemma", "llama"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_offset_and_casting_modes(variant, casting_mode, offset, dtype):
    generator = torch.Generator().manual_seed(11)
    shape = OPTION_SHAPES[variant]
    x = torch.randn(shape, generator=generator) * 3 + 2
    x[0, shape[1] // 2] = 200.0
    x = x.to(dtype)
    # Gemma stores weight - 1 (around 0): offset 1 brings the scale back around 1.
    weight = (torch.randn(shape[-1], generator=generator) * 0.5 + 1 - offset).to(dtype)
    out = check(x, weight, 1e-6, variant, (offset, casting_mode))
    if dtype != torch.float32:
        # In half precision the kernel rounds as the CPU impl does: the same bits, or one unit
        # in the last place where the two summation orders give inverse RMSs a float32 ulp
        # apart (tests/sim/test_hf_rounding_sim.py has the bound and the exact case).
        cpu = torch.ops.metalgen.rms_norm(x, weight, 1e-6, offset, casting_mode)
        assert (out.double() - cpu.double()).abs().le(_ulp(cpu)).all()


def _ulp(t: torch.Tensor) -> torch.Tensor:
    """One unit in the last place of each element of t, in t's dtype (as float64)."""
    return (torch.nextafter(t.abs(), torch.tensor(float("inf"), dtype=t.dtype)) - t.abs()).double()


@pytest.mark.parametrize("variant", VARIANTS)
def test_inf_and_nan_propagate_like_the_reference(variant):
    x = torch.randn(3, 40)
    x[0, 5] = float("nan")
    x[1, 7] = float("inf")
    out = run_kernel(x, None, 1e-6, variant, "forward")
    expected = reference64(x, None, 1e-6)
    assert torch.equal(out.isnan(), expected.isnan())
    torch.testing.assert_close(out[2].double(), expected[2], rtol=1e-5, atol=1e-5)


def test_simulate_mode_routes_the_op_through_the_kernel():
    x = torch.randn(6, 70)[:, 3:67]  # a view with an offset: the op makes it contiguous
    weight = torch.randn(64)
    with sim.simulate(order="random"):
        out = torch_metalgen.rms_norm(x, weight, eps=1e-5)
        empty = torch_metalgen.rms_norm(torch.randn(0, 64), weight)
        no_weight = torch.ops.metalgen.rms_norm(x, None, 1e-5)
    assert empty.shape == (0, 64)
    assert_close_to_reference(out, reference64(x, weight, 1e-5))
    assert_close_to_reference(no_weight, reference64(x, None, 1e-5))


def test_simulate_mode_rejects_bad_input_like_the_op():
    with sim.simulate(), pytest.raises(ValueError, match="eps"):
        torch_metalgen.rms_norm(torch.randn(2, 8), None, eps=-1.0)


def test_auto_choice_uses_each_variant():
    chosen = {
        n: _ops._C.plan_rms_norm(torch.randn(2, n), None, 1e-6)[0][0].kernel
        for n in (64, 2048, 8192)
    }
    assert chosen == {
        64: "rms_norm_simd_rows_float32",
        2048: "rms_norm_single_row_float32",
        8192: "rms_norm_looped_float32",
    }


@pytest.mark.parametrize("n", [64, 2048, 5000])
def test_plans_under_a_small_pipeline_limit_are_correct(n):
    # What the MPS glue re-plans with when a pipeline allows fewer threads than 1024.
    x = torch.randn(3, n)
    plans, out = _ops._C.plan_rms_norm(x, None, 1e-6, max_threads=64)
    assert all(p.threadgroup[0] <= 64 for p in plans)
    sim.run_plan(plans, check_orders=True)
    assert_close_to_reference(out, reference64(x, None, 1e-6))


@pytest.mark.parametrize("offset", [0.0, 1.0])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_agrees_with_mlx(variant, dtype, offset):
    """mlx's rms_norm rounds as Llama does (the normalized value to the dtype, then the
    weight): compared with casting_mode="llama"; Gemma's offset is mlx's weight 1 + w."""
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    generator = torch.Generator().manual_seed(9)
    shape = {"simd_rows": (6, 200), "single_row": (2, 2000), "looped": (1, 7000)}[variant]
    x = (2 * torch.randn(shape, generator=generator) + 1).to(dtype)
    # Multiples of 1/64: offset + weight is exact in every dtype, so mlx can be given it.
    weight = torch.round((0.5 * torch.randn(shape[-1], generator=generator) + 1 - offset) * 64)
    weight = (weight / 64).to(dtype)
    ours = run_kernel(x, weight, 1e-6, variant, "forward", (offset, "llama"))

    def to_mlx(t):
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: move the bits
            return mx.array(t.view(torch.int16).numpy()).view(mx.bfloat16)
        return mx.array(t.numpy())

    def from_mlx(array):
        if array.dtype == mx.bfloat16:
            return torch.from_numpy(np.array(array.view(mx.int16))).view(torch.bfloat16)
        return torch.from_numpy(np.array(array))

    scale = (offset + weight.float()).to(dtype)
    assert torch.equal(scale.float(), offset + weight.float())
    theirs = from_mlx(mx.fast.rms_norm(to_mlx(x), to_mlx(scale), 1e-6))
    if dtype == torch.float32:
        # mlx's float32 inverse RMS differs from a float64 one by a few ulps, as ours does.
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    else:  # the same rounding: equal but for a few elements, none over 2 ulps
        assert (ours != theirs).float().mean() < 1e-2
        ulp = torch.finfo(dtype).eps * ours.double().abs().clamp_min(1)
        assert ((ours.double() - theirs.double()).abs() <= 2 * ulp).all()
