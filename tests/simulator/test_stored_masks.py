"""A vector comparison stored in a variable and later used as a number is a compile error
(torch_metalgen/sim/masks.py): Metal's boolN converts to 1, the simulator's integer mask
would give -1. Uses that mean the same in both compile and run as Metal computes them."""

from __future__ import annotations

import re

import pytest
import torch

from torch_metalgen import sim

# Lines of kernels/compile_errors/stored_masks.metal that use the mask `m` as a number.
MISUSES = {
    11: "converted to a number",  # float4(m)
    12: "converted to a number",  # (float4)m
    13: "converted to a number",  # float(m.y)
    14: "converted to a number",  # static_cast<float4>(m)
    15: "stored into 'k'",  # const int k = m.w
    16: "an operand of '*'",  # m.x * 2
    17: "an operand of '+='",  # count[i] += m.y
}


@pytest.fixture(scope="module")
def report(kernels_dir) -> str:
    with pytest.raises(sim.MetalCompileError) as caught:
        sim.compile_library(kernels_dir / "compile_errors" / "stored_masks.metal")
    return str(caught.value)


@pytest.mark.parametrize(("line", "use"), sorted(MISUSES.items()))
def test_stored_mask_used_as_a_number_is_refused_at_its_line(report, line, use):
    pattern = (
        rf"stored_masks\.metal:{line}: the vector comparison stored in 'm' "
        rf"\(at [^)]*stored_masks\.metal:10\) is {re.escape(use)}: Metal's boolN converts its "
        r"true lanes to 1, the simulator's integer mask to -1"
    )
    assert re.search(pattern, report), report


def test_a_conversion_in_place_the_rewrite_cannot_see_is_refused(report):
    # static_cast<vec<float, 4>>(x[i] == 1.0f): the rewrite reads no vector type there.
    assert re.search(
        r"stored_masks\.metal:18: a vector comparison converted to a number where it is "
        r"made, in a form the simulator does not rewrite",
        report,
    ), report


def test_uses_that_mean_the_same_are_not_reported(report):
    reported = {int(n) for n in re.findall(r"stored_masks\.metal:(\d+): ", report)}
    assert reported == {*MISUSES, 18}, report


def test_uses_that_mean_the_same_run_as_metal_computes_them(kernels_dir, tmp_path):
    source = (kernels_dir / "compile_errors" / "stored_masks.metal").read_text()
    only_valid = tmp_path / "same_in_both.metal"
    only_valid.write_text(
        source[: source.index("kernel void misuses")]
        + source[source.index("kernel void same_in_both") :]
    )
    x = torch.tensor([[0.5, 1.5, -3.0, 0.0], [1.0, 1.0, 1.0, 1.0], [-1.5, 3.0, 0.25, -0.5]])
    out = torch.zeros_like(x)
    sim.compile_library(only_valid).launch(
        "same_in_both", buffers={0: x, 1: out}, grid=(3,), threadgroup=(3,)
    )
    positive, small = x > 0, x.abs() < 2
    expected = torch.where(positive & small, x, torch.zeros_like(x))
    expected += (positive.all(1) | (~small).any(1)).float()[:, None]
    expected[:, 0] += torch.where(positive[:, 1], 10.0, 0.0)
    expected += (x < -1).float()
    expected += (x == 0).float() + ((~(x > 2)) & (x != 0.5)).float()
    expected += (~small).float()
    assert torch.equal(out, expected)
