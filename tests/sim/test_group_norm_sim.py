"""Every group_norm kernel x dtype x variant, with and without the fused SiLU, through the
MSL simulator against a float64 reference (reference/verification.md): odd and held-out
shapes, any number of spatial dims, a long group, distributions including mean 1e3 / std 1,
poisoned outputs, both schedule orders, mlx."""

from __future__ import annotations

import pytest
import torch

from tests.sim.plan_runs import run_both_orders, run_kernel, sim, variants
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.verify.distributions import DISTRIBUTIONS

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
VARIANTS = variants("group_norm")

# (shape, groups) per variant: group sizes around the SIMD width and N_READS tails, one
# channel per group, every channel one group, 1-D and 3-D spatial dims.
SHAPES = {
    "simd_groups": [((1, 1, 1), 1), ((2, 6, 7), 3), ((3, 4, 33), 4), ((2, 8, 4, 4), 2)],
    # one chunk, a chunk tail, several chunks with a tail (SPLIT_CHUNK = 16384)
    "split": [((1, 1, 1), 1), ((2, 6, 70, 81), 3), ((1, 2, 40007), 1)],
    "looped": [((1, 1, 1), 1), ((2, 6, 7), 3), ((1, 8, 5, 7, 3), 2), ((2, 4, 1031), 2)],
}
HELD_OUT = {
    "simd_groups": ((3, 10, 3, 5), 5),
    "split": ((1, 6, 97, 101), 2),
    "looped": ((2, 12, 9, 13), 3),
}


def reference64(x, groups, weight, bias, eps, silu):
    def as64(t):
        return None if t is None else t.double()

    return REFERENCES["group_norm"](x.double(), groups, as64(weight), as64(bias), eps, silu)


def check(x, groups, weight, bias, eps, silu, variant):
    out = run_both_orders("group_norm", (x, groups, weight, bias, eps, silu), variant)
    assert_close_to_reference(out, reference64(x, groups, weight, bias, eps, silu))
    return out


def affine(generator, channels, dtype):
    weight = (1 + 0.5 * torch.randn(channels, generator=generator)).to(dtype)
    bias = torch.randn(channels, generator=generator).to(dtype)
    return weight, bias


@pytest.mark.parametrize("silu", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant, case", [(v, c) for v in VARIANTS for c in SHAPES[v]], ids=str)
def test_variant_shapes(variant, case, dtype, silu):
    shape, groups = case
    generator = torch.Generator().manual_seed(hash((variant, shape)) % 2**31)
    x = (0.5 + torch.randn(shape, generator=generator)).to(dtype)
    check(x, groups, *affine(generator, shape[1], dtype), 1e-5, silu, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_held_out_shapes(variant, dtype):
    shape, groups = HELD_OUT[variant]
    generator = torch.Generator().manual_seed(21)
    x = (2 + 3 * torch.randn(shape, generator=generator)).to(dtype)
    check(x, groups, *affine(generator, shape[1], dtype), 1e-6, True, variant)


@pytest.mark.parametrize("with_weight, with_bias", [(True, False), (False, True), (False, False)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_optional_weight_and_bias(variant, with_weight, with_bias):
    generator = torch.Generator().manual_seed(22)
    x = torch.randn(2, 6, 11, generator=generator)
    weight, bias = affine(generator, 6, torch.float32)
    check(x, 3, weight if with_weight else None, bias if with_bias else None, 1e-5, True, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_distributions(variant, distribution, dtype):
    generator = torch.Generator().manual_seed(23)
    shape = {"simd_groups": (3, 8, 37), "split": (1, 8, 91, 93), "looped": (2, 8, 31, 33)}[variant]
    x = DISTRIBUTIONS[distribution](shape, generator).to(dtype)
    check(x, 4, None, None, 1e-6, False, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_mean_1e3_std_1(variant, dtype):
    generator = torch.Generator().manual_seed(24)
    shape = {"simd_groups": (2, 4, 100), "split": (1, 4, 130, 150), "looped": (1, 4, 50, 60)}[
        variant
    ]
    x = (1e3 + torch.randn(shape, generator=generator)).to(dtype)
    check(x, 2, None, None, 1e-5, False, variant)


@pytest.mark.parametrize("variant", ["split", "looped"])
def test_long_group(variant):
    # 1 image, 2 groups of 4 channels x 128 x 128 = 65,536 elements each (a VAE's groups are
    # ~1M; the simulator runs every GPU thread as a fiber, so this is kept smaller).
    generator = torch.Generator().manual_seed(25)
    x = (1e2 + torch.randn(1, 8, 128, 128, generator=generator)).half()
    check(x, 2, *affine(generator, 8, torch.float16), 1e-6, True, variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_nan_makes_its_group_nan_like_the_reference(variant):
    x = torch.randn(2, 4, 10)
    x[0, 1, 3] = float("nan")  # group 0 of sample 0 (channels 0-1)
    out = run_kernel("group_norm", (x, 2, None, None, 1e-5, True), variant)
    expected = reference64(x, 2, None, None, 1e-5, True)
    assert torch.equal(out.isnan(), expected.isnan())
    assert out[0, :2].isnan().all() and not out[0, 2:].isnan().any()


@pytest.mark.parametrize("variant", VARIANTS)
def test_agrees_with_mlx(variant):
    mx = pytest.importorskip("mlx.core")
    nn = pytest.importorskip("mlx.nn")
    np = pytest.importorskip("numpy")
    generator = torch.Generator().manual_seed(26)
    shape = {"simd_groups": (2, 8, 3, 5), "split": (1, 8, 90, 99), "looped": (1, 8, 20, 30)}[
        variant
    ]
    x = 3 + 2 * torch.randn(shape, generator=generator)
    weight, bias = affine(generator, 8, torch.float32)
    ours = run_kernel("group_norm", (x, 4, weight, bias, 1e-5, False), variant)
    layer = nn.GroupNorm(4, 8, eps=1e-5, affine=True, pytorch_compatible=True)
    layer.weight, layer.bias = mx.array(weight.numpy()), mx.array(bias.numpy())
    theirs = np.array(layer(mx.array(x.permute(0, 2, 3, 1).numpy())))
    torch.testing.assert_close(
        ours, torch.from_numpy(theirs).permute(0, 3, 1, 2), rtol=1e-5, atol=1e-5
    )


def test_simulate_mode_routes_the_op_through_the_kernel():
    x = torch.randn(2, 8, 6, 7).to(memory_format=torch.channels_last)
    weight, bias = torch.randn(8), torch.randn(8)
    with sim.simulate(order="random"):
        out = torch.ops.metalgen.group_norm(x, 4, weight, bias, 1e-5, True)
        empty = torch.ops.metalgen.group_norm(torch.randn(0, 8, 3), 4, None, None, 1e-5, False)
    assert empty.shape == (0, 8, 3)
    assert_close_to_reference(out, reference64(x, 4, weight, bias, 1e-5, True))


def test_auto_choice_uses_each_variant():
    def kernels(shape, groups):
        plans, _ = _ops._C.plan_group_norm(torch.empty(shape), groups, None, None, 1e-5, False)
        return [plan.kernel for plan in plans]

    assert kernels((2, 4, 16), 2) == ["group_norm_simd_groups_float32"]
    assert kernels((2, 64, 64, 64), 32) == ["group_norm_looped_float32"]
    # one VAE image: 32 groups of 4 x 128 x 128, split over (chunk, group) threadgroups
    assert kernels((1, 128, 128, 128), 32) == [
        "group_norm_partial_moments_float32",
        "group_norm_split_output_float32",
    ]
    # many long groups already fill the GPU: one threadgroup each
    assert kernels((16, 128, 128, 128), 32) == ["group_norm_looped_float32"]
