"""gelu_and_mul's kernels through the MSL simulator, exact and tanh forms (the shared cases
in tests/sim/gated_sim_cases.py), and the accuracy of the exact form's erf approximation."""

from __future__ import annotations

import pytest
import torch

from tests.ops.gated_op_cases import GatedOp
from tests.sim.gated_sim_cases import *  # noqa: F403  (collected here, for this op)
from tests.sim.gated_sim_cases import sim


@pytest.fixture(params=[False, True], ids=["exact", "tanh"])
def gated(request):
    return GatedOp("gelu_and_mul", extra=(request.param,))


@pytest.fixture
def mlx_activation(gated):
    nn = pytest.importorskip("mlx.nn")
    return nn.gelu_approx if gated.extra[0] else nn.gelu


# The stated accuracy (generator/templates/gated_activation.metal.inc), relative to float64 wherever
# |gelu(g)| > 1e-30 (below, the kernel may flush to 0: an absolute error under 1e-30).
# Exact form: erfc's fit has fractional error < 1.2e-7 and the exponent -g^2/2 is kept
# exact, so a few float32 ulps (measured 5e-7 in a float32 emulation). Tanh form:
# exp(-2u) magnifies u's float32 rounding by |2u| (up to ~87 before it overflows), as
# torch's own float32 tanh-gelu does (measured 1e-5).
RELATIVE_ERROR = {False: 1e-6, True: 3e-5}


def gelu64(gate, approximate_tanh):
    """float64 gelu without cancellation: torch's 0.5 g (1 + erf(g / sqrt(2))) and
    0.5 g (1 + tanh(u)) lose every digit in float64 for g < -8 and g < -6, so the exact form
    as g erfc(-g / sqrt(2)) / 2 and the tanh form as g * sigmoid(2u)."""
    if not approximate_tanh:
        return gate * 0.5 * torch.special.erfc(-gate / 2**0.5)
    u = (2 / torch.pi) ** 0.5 * (gate + 0.044715 * gate**3)
    return gate * torch.sigmoid(2 * u)


@pytest.mark.parametrize("approximate_tanh", [False, True], ids=["exact", "tanh"])
def test_activation_accuracy_over_a_dense_range(approximate_tanh):
    gate = torch.linspace(-13, 13, 2**16 + 3, dtype=torch.float64).float()
    up = torch.ones_like(gate)
    plans, out = sim_plan(gate, up, approximate_tanh)
    sim.run_plan(plans)
    expected = gelu64(gate.double(), approximate_tanh)
    large = expected.abs() > 1e-30
    relative = ((out.double() - expected).abs() / expected.abs())[large]
    assert relative.max().item() <= RELATIVE_ERROR[approximate_tanh], relative.max().item()
    assert (out.double() - expected)[~large].abs().max().item() <= 1e-30


def sim_plan(gate, up, approximate_tanh):
    from torch_metalgen import _ops

    return _ops._C.plan_gelu_and_mul(gate, up, approximate_tanh, variant="scalar")
