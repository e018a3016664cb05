"""Every layer_norm kernel x dtype x variant through the MSL simulator against a float64
reference (reference/verification.md): odd and held-out shapes, several input
distributions including mean 1e3 / std 1, poisoned outputs, both schedule orders, mlx."""

from __future__ import annotations

import pytest
import torch

from tests.sim.plan_runs import run_both_orders, run_kernel, sim, variants
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.verify.distributions import DISTRIBUTIONS

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
VARIANTS = variants("layer_norm")

# Shapes per variant: around the SIMD width, the N_READS tail, each variant's length limit,
# rows that leave SIMD groups idle.
SHAPES = {
    "simd_rows": [(1, 1), (3, 31), (9, 33), (2, 512), (11, 100)],
    "single_row": [(1, 1), (2, 33), (3, 1000), (2, 4096), (2, 513)],
    "looped": [(1, 1), (2, 33), (2, 4097), (1, 10007)],
}
# Never used while writing or tuning the kernels.
HELD_OUT = {"simd_rows": (13, 379), "single_row": (3, 2999), "looped": (2, 6143)}


def reference64(x, weight, bias, eps):
    def as64(t):
        return None if t is None else t.double()

    return REFERENCES["layer_norm"](x.double(), as64(weight), as64(bias), eps)


def check(x, weight, bias, eps, variant):
    out = run_both_orders("layer_norm", (x, weight, bias, eps), variant)
    assert_close_to_reference(out, reference64(x, weight, bias, eps))
    return out


def affine(generator, n, dtype):
    weight = (1 + 0.5 * torch.randn(n, generator=generator)).to(dtype)
    bias = torch.randn(n, generator=generator).to(dtype)
    return weight, bias


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant, shape", [(v, s) for v in VARIANTS for s in SHAPES[v]], ids=str)
def test_variant_shapes(variant, shape, dtype):
    generator = torch.Generator().manual_seed(hash((variant, shape)) % 2**31)
    x = torch.randn(shape, generator=generator).to(dtype)
    check(x, *affine(generator, shape[-1], dtype), 1e-5, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_held_out_shapes(variant, dtype):
    generator = torch.Generator().manual_seed(11)
    shape = HELD_OUT[variant]
    x = (3 + 2 * torch.randn(shape, generator=generator)).to(dtype)
    check(x, *affine(generator, shape[-1], dtype), 1e-6, variant)


@pytest.mark.parametrize("with_weight, with_bias", [(True, False), (False, True), (False, False)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_optional_weight_and_bias(variant, with_weight, with_bias):
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(3, 77, generator=generator)
    weight, bias = affine(generator, 77, torch.float32)
    check(x, weight if with_weight else None, bias if with_bias else None, 1e-5, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_distributions(variant, distribution, dtype):
    generator = torch.Generator().manual_seed(7)
    shape = {"simd_rows": (5, 77), "single_row": (3, 1031), "looped": (2, 5003)}[variant]
    x = DISTRIBUTIONS[distribution](shape, generator).to(dtype)
    check(x, None, None, 1e-6, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_mean_1e3_std_1(variant, dtype):
    # The variance is ~1e-6 of E[x^2]: a naive E[x^2] - E[x]^2 in float32 returns noise.
    generator = torch.Generator().manual_seed(8)
    shape = {"simd_rows": (4, 300), "single_row": (2, 3000), "looped": (2, 9000)}[variant]
    x = (1e3 + torch.randn(shape, generator=generator)).to(dtype)
    out = check(x, None, None, 1e-5, variant)
    # Every row is standardized: unit variance, zero mean, to float32 precision.
    if dtype == torch.float32:
        torch.testing.assert_close(
            out.var(-1, unbiased=False), torch.ones(shape[0]), atol=1e-4, rtol=0
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_nan_and_inf_make_their_row_nan_like_the_reference(variant):
    x = torch.randn(3, 40)
    x[0, 5] = float("nan")
    x[1, 0] = float("inf")  # the first element: the kernels' shift
    out = run_kernel("layer_norm", (x, None, None, 1e-5), variant)
    expected = reference64(x, None, None, 1e-5)
    assert torch.equal(out.isnan(), expected.isnan())
    torch.testing.assert_close(out[2].double(), expected[2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_agrees_with_mlx(variant):
    mx = pytest.importorskip("mlx.core")
    np = pytest.importorskip("numpy")
    generator = torch.Generator().manual_seed(9)
    shape = {"simd_rows": (6, 200), "single_row": (2, 2000), "looped": (1, 7000)}[variant]
    x = 10 + 3 * torch.randn(shape, generator=generator)
    weight, bias = affine(generator, shape[-1], torch.float32)
    ours = run_kernel("layer_norm", (x, weight, bias, 1e-5), variant)
    arrays = [mx.array(t.numpy()) for t in (x, weight, bias)]
    theirs = torch.from_numpy(np.array(mx.fast.layer_norm(*arrays, 1e-5)))
    # mlx's own float32 error is ~2.5e-5 from float64 on 7000-element rows (ours is checked
    # against float64 above); agreement within 5e-5 still catches any wrong definition.
    torch.testing.assert_close(ours, theirs, rtol=5e-5, atol=5e-5)


def test_simulate_mode_routes_the_op_through_the_kernel():
    x = torch.randn(6, 70)[:, 3:67]  # a view with an offset: the op makes it contiguous
    weight, bias = torch.randn(64), torch.randn(64)
    with sim.simulate(order="random"):
        out = torch.ops.metalgen.layer_norm(x, weight, bias, 1e-5)
        empty = torch.ops.metalgen.layer_norm(torch.randn(0, 64), weight, None, 1e-5)
    assert empty.shape == (0, 64)
    assert_close_to_reference(out, reference64(x, weight, bias, 1e-5))


def test_auto_choice_uses_each_variant():
    chosen = {
        n: _ops._C.plan_layer_norm(torch.randn(2, n), None, None, 1e-5)[0][0].kernel
        for n in (64, 2048, 8192)
    }
    assert chosen == {
        64: "layer_norm_simd_rows_float32",
        2048: "layer_norm_single_row_float32",
        8192: "layer_norm_looped_float32",
    }
