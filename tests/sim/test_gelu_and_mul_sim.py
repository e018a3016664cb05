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


# The exact form's stated accuracy (metal/gated_activation.h): erfc's fit has fractional
# error < 1.2e-7; with float32 arithmetic, the kernel's gelu(g) is within this relative error
# of float64 wherever |gelu(g)| is a normal float32.
EXACT_RELATIVE_ERROR = 1e-6


@pytest.mark.parametrize("approximate_tanh", [False, True], ids=["exact", "tanh"])
def test_activation_accuracy_over_a_dense_range(approximate_tanh):
    gate = torch.linspace(-13, 13, 2**16 + 3, dtype=torch.float64).float()
    up = torch.ones_like(gate)
    plans, out = sim_plan(gate, up, approximate_tanh)
    sim.run_plan(plans)
    approximate = "tanh" if approximate_tanh else "none"
    expected = torch.nn.functional.gelu(gate.double(), approximate=approximate)
    normal = expected.abs() > torch.finfo(torch.float32).tiny
    relative = ((out.double() - expected).abs() / expected.abs())[normal]
    assert relative.max().item() <= EXACT_RELATIVE_ERROR, relative.max().item()
    # Below the normal range the result is 0 or a denormal, within float32's tiny.
    assert (out.double() - expected)[~normal].abs().max().item() <= 2e-38


def sim_plan(gate, up, approximate_tanh):
    from torch_metalgen import _ops

    return _ops._C.plan_gelu_and_mul(gate, up, approximate_tanh, variant="scalar")
