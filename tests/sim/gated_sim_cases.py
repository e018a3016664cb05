"""The simulator-tier tests both gated activations share: every variant x dtype x shape
(held-out ones included) through the MSL simulator against the float64 reference, by
reference/verification.md: input distributions, poisoned outputs, inputs unchanged, two
schedule orders bit for bit, candidate first; agreement with mlx. Collected by
tests/sim/test_<op>_sim.py, which provides the ``gated`` fixture (a GatedOp)."""

from __future__ import annotations

import zlib

import pytest
import torch

import torch_metalgen
from tests.ops.gated_op_cases import GatedOp
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops

sim = pytest.importorskip("torch_metalgen.sim")

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (rows..., d): d around the per-thread width (2 float32 / 4 half), odd, long; rows from 1.
# None of these shapes was used while choosing BYTES_PER_THREAD or THREADS.
SHAPES = [(1, 1), (1, 2), (3, 3), (5, 4), (2, 7, 8), (4, 31), (3, 33), (2, 257), (1, 4097)]
HELD_OUT = [(9, 1001), (33, 12), (1, 11008)]

DISTRIBUTIONS = {
    "normal": lambda g, shape: torch.randn(shape, generator=g),
    "uniform": lambda g, shape: torch.rand(shape, generator=g) * 2 - 1,
    "laplace": lambda g, shape: _laplace(g, shape),
    "lognormal": lambda g, shape: torch.exp(torch.randn(shape, generator=g)),
    "large_offset": lambda g, shape: 100 + torch.randn(shape, generator=g),
    "large_magnitude": lambda g, shape: 30 * torch.randn(shape, generator=g),
    "pareto": lambda g, shape: torch.rand(shape, generator=g).clamp_min(1e-3) ** -0.5,
}


def _laplace(generator, shape):
    u = torch.rand(shape, generator=generator) - 0.5
    return -torch.sign(u) * torch.log1p(-2 * u.abs())


def same_bits(a, b):
    return torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def variants(gated: GatedOp) -> list[str]:
    return list(getattr(_ops._C, f"{gated.name}_variants")())


def run_kernel(gated: GatedOp, x, up, variant, order):
    """Candidate first, on fresh tensors: plan, simulate (outputs poisoned), return out."""
    before = [t.clone() for t in (x, up) if t is not None]
    plans, out = getattr(_ops._C, f"plan_{gated.name}")(*gated.args(x, up), variant=variant)
    dtype = str(x.dtype).split(".")[1]
    assert [p.kernel for p in plans] == ([f"{gated.name}_{variant}_{dtype}"] if out.numel() else [])
    sim.run_plan(plans, order=order, check_unwritten=True)
    for tensor, copy in zip([t for t in (x, up) if t is not None], before, strict=True):
        assert same_bits(tensor, copy), "the kernel modified an input"
    return out


def check(gated, x, up, variant):
    forward = run_kernel(gated, x, up, variant, "forward")
    reverse = run_kernel(gated, x, up, variant, "reverse")
    assert same_bits(forward, reverse), "result depends on the scheduling order"
    assert_close_to_reference(forward, gated.reference64(x, up))


def _inputs(shape, dtype, separate, seed, make=None):
    generator = torch.Generator().manual_seed(seed)
    make = make or DISTRIBUTIONS["normal"]
    if separate:
        return make(generator, shape).to(dtype), make(generator, shape).to(dtype)
    return make(generator, (*shape[:-1], 2 * shape[-1])).to(dtype), None


def _runnable(gated, variant, shape, dtype):
    """The vector variant needs d and every base to be multiples of its width."""
    width = 8 // torch.empty((), dtype=dtype).element_size()
    return variant != "vector" or shape[-1] % width == 0


@pytest.mark.parametrize("separate", [False, True], ids=["concat", "separate"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES + HELD_OUT, ids=str)
@pytest.mark.parametrize("variant", ["vector", "scalar"])
def test_every_variant_dtype_and_shape(gated, variant, shape, dtype, separate):
    assert variant in variants(gated)
    if not _runnable(gated, variant, shape, dtype):
        x, up = _inputs(shape, dtype, separate, 0)
        with pytest.raises(ValueError, match="variant vector needs"):
            getattr(_ops._C, f"plan_{gated.name}")(*gated.args(x, up), variant=variant)
        return
    # A stable seed per case (hash() of a str changes between processes).
    x, up = _inputs(shape, dtype, separate, zlib.crc32(repr((variant, shape)).encode()))
    check(gated, x, up, variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", ["vector", "scalar"])
def test_distributions(gated, variant, distribution, dtype):
    make = DISTRIBUTIONS[distribution]
    if dtype == torch.float16 and distribution in ("large_magnitude", "pareto", "large_offset"):
        # gate * up reaches ~1e4-1e6, past float16's 65504: inf in any float16 result.
        make = lambda g, shape, inner=make: inner(g, shape).clamp(-200, 200)  # noqa: E731
    x, up = _inputs((5, 76), dtype, False, 7, make)
    check(gated, x, up, variant)


def test_unaligned_views_fall_back_to_the_scalar_variant(gated):
    plan = getattr(_ops._C, f"plan_{gated.name}")
    base = torch.randn(4, 2 * 64 + 1)
    x = base[:, 1:]  # a strided view: made contiguous, at offset 0
    assert plan(*gated.args(x))[0][0].kernel.startswith(f"{gated.name}_vector")
    flat = torch.randn(2 * 64 * 3 + 1)[1:].view(3, 128)  # contiguous, storage offset 1
    assert flat.is_contiguous() and flat.storage_offset() == 1
    assert plan(*gated.args(flat))[0][0].kernel.startswith(f"{gated.name}_scalar")
    odd = torch.randn(3, 2 * 33)
    assert plan(*gated.args(odd))[0][0].kernel.startswith(f"{gated.name}_scalar")
    check(gated, flat, None, "scalar")


def test_a_smaller_pipeline_limit_gives_smaller_threadgroups(gated):
    plan = getattr(_ops._C, f"plan_{gated.name}")
    x = torch.randn(64, 2 * 4096)
    (default,), _ = plan(*gated.args(x))
    (small,), out = plan(*gated.args(x), max_threads=64)
    assert default.threadgroup[0] * default.threadgroup[1] == 256
    assert small.threadgroup[0] * small.threadgroup[1] <= 64
    sim.run_plan([small])
    assert_close_to_reference(out, gated.reference64(x))


def test_inf_and_nan_propagate_like_the_reference(gated):
    gate = torch.tensor([[float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.0, -0.0, 3.0]])
    up = torch.tensor([[1.0, 2.0, 1.0, 1.0, 1.0, 5.0, 5.0, float("inf")]])
    expected = gated.reference64(gate, up)
    for variant in ("vector", "scalar"):
        out = run_kernel(gated, gate, up, variant, "forward")
        assert torch.equal(out.isnan(), expected.isnan()), (out, expected)
        finite = ~expected.isnan()
        assert torch.equal(out[finite].double(), expected[finite].float().double()), (out, expected)


def test_simulate_mode_routes_the_op_through_the_kernel(gated):
    x = torch.randn(6, 70)[:, 3:67]  # a view: the op makes it contiguous
    with sim.simulate(order="random") as mode:
        out = gated(x)
        separate = gated(x[:, :32], x[:, 32:])
        empty = gated(torch.randn(0, 64))
    assert empty.shape == (0, 32)
    assert len(mode.launches) == 2  # the empty call launches nothing
    assert_close_to_reference(out, gated.reference64(x))
    assert_close_to_reference(separate, gated.reference64(x[:, :32], x[:, 32:]))


def test_agrees_with_mlx(gated, mlx_activation):
    """mlx's own activation (an independent implementation) times up, in float32."""
    mx = pytest.importorskip("mlx.core")
    x = torch.randn(7, 2 * 301, generator=torch.Generator().manual_seed(3)) * 3
    with sim.simulate():
        out = gated(x)
    gate, up = x.chunk(2, -1)
    theirs = mlx_activation(mx.array(gate.numpy())) * mx.array(up.numpy())
    expected = torch.from_numpy(__import__("numpy").array(theirs))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_torch_metalgen_exports_the_op(gated):
    assert getattr(torch_metalgen, gated.name) is not None


def test_layouts_give_the_same_bits(gated):
    gate, up = torch.randn(5, 36), torch.randn(5, 36)
    for variant in ("vector", "scalar"):
        joined = run_kernel(gated, torch.cat([gate, up], -1), None, variant, "forward")
        separate = run_kernel(gated, gate, up, variant, "forward")
        assert same_bits(joined, separate), variant


@pytest.mark.asan
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", ["vector", "scalar"])
def test_kernels_are_clean_under_asan(gated, variant, dtype):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    d = 36 if variant == "vector" else 37  # an odd tail is where overruns hide
    x = torch.randn(3, 2 * d).to(dtype)
    plans, out = getattr(_ops._C, f"plan_{gated.name}")(*gated.args(x), variant=variant)
    sim.run_plan(plans, asan=True)
    assert_close_to_reference(out, gated.reference64(x))
