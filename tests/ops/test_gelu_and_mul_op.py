"""metalgen::gelu_and_mul as a torch op, exact and tanh forms (the shared gated-activation
cases, tests/ops/gated_op_cases.py), plus what is gelu's own."""

from __future__ import annotations

import pytest
import torch

from tests.ops.gated_op_cases import *  # noqa: F403  (collected here, for this op)
from tests.ops.gated_op_cases import GatedOp

SCHEMA = (
    "gelu_and_mul(Tensor x, Tensor? up=None, bool approximate_tanh=False, "
    'str casting_mode="gemma") -> Tensor'
)


@pytest.fixture(params=[False, True], ids=["exact", "tanh"])
def gated(request):
    return GatedOp("gelu_and_mul", extra=(request.param,), schema=SCHEMA)


def test_the_two_forms_differ_and_match_torch(gated):
    x = torch.randn(4, 2 * 50) * 3
    gate, up = x.chunk(2, -1)
    approximate = "tanh" if gated.extra[0] else "none"
    expected = torch.nn.functional.gelu(gate, approximate=approximate) * up
    torch.testing.assert_close(gated(x), expected, rtol=1e-6, atol=1e-6)
    other = "none" if gated.extra[0] else "tanh"
    assert not torch.allclose(gated(x), torch.nn.functional.gelu(gate, approximate=other) * up)


def test_approximate_tanh_must_be_a_bool():
    import torch_metalgen

    with pytest.raises(TypeError, match="gelu_and_mul: approximate_tanh must be a bool, got str"):
        torch_metalgen.gelu_and_mul(torch.ones(2, 4), None, "tanh")
