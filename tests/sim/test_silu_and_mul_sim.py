"""silu_and_mul's kernels through the MSL simulator (the shared cases in
tests/sim/gated_sim_cases.py)."""

from __future__ import annotations

import pytest

from tests.ops.gated_op_cases import GatedOp
from tests.sim.gated_sim_cases import *  # noqa: F403  (collected here, for this op)


@pytest.fixture
def gated():
    return GatedOp("silu_and_mul")


@pytest.fixture
def mlx_activation():
    return pytest.importorskip("mlx.nn").silu
