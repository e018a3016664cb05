"""metalgen::silu_and_mul as a torch op (the shared gated-activation cases, tests/ops/
gated_op_cases.py), plus what is silu's own."""

from __future__ import annotations

import pytest
import torch

from tests.ops.gated_op_cases import *  # noqa: F403  (collected here, for this op)
from tests.ops.gated_op_cases import GatedOp

SCHEMA = 'silu_and_mul(Tensor x, Tensor? up=None, str casting_mode="gemma") -> Tensor'


@pytest.fixture
def gated():
    return GatedOp("silu_and_mul", schema=SCHEMA)


def test_matches_torch_silu_times_up_in_float32(gated):
    x = torch.randn(5, 2 * 37) * 20  # large gates: exp(-g) overflows to inf, silu -> -0
    gate, up = x.chunk(2, -1)
    expected = torch.nn.functional.silu(gate) * up
    torch.testing.assert_close(gated(x), expected, rtol=1e-6, atol=1e-6)
