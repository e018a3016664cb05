"""The project's own kernels through the MSL simulator on CPU (correctness only): the RMSNorm
Metal kernel passes the verifier at small odd shapes. Skipped where the simulator or the
built extension is missing."""

from __future__ import annotations

import pytest
import torch
from harness_helpers import RMS_NORM

from torch_metalgen.problems import load_problem, metalgen_candidate, metalgen_ops_available
from torch_metalgen.verify import PASS, VerifyConfig, verify_problem


def _simulator_ready() -> str | None:
    if "rms_norm" not in metalgen_ops_available():
        return "torch.ops.metalgen.rms_norm is not registered (extension not built)"
    try:
        from torch_metalgen import sim
    except Exception as error:
        return f"torch_metalgen.sim does not import: {error}"
    return None if hasattr(sim, "simulate") else "torch_metalgen.sim has no simulate()"


@pytest.mark.skipif(_simulator_ready() is not None, reason=str(_simulator_ready()))
def test_rms_norm_metal_kernel_verifies_through_the_simulator():
    config = VerifyConfig(
        dtypes=(torch.float32, torch.bfloat16),
        shape_kinds=("check",),
        shape_names=("1x31", "3x33"),
        distributions=("native", "offset100", "inf-nan"),
    )
    report = verify_problem(load_problem(RMS_NORM), metalgen_candidate(simulate=True), config)
    assert report.status == PASS, report.first_failure
    assert report.candidate == "metalgen[sim]"
    # Each case reports the simulated kernels' traffic against the compulsory bytes (input,
    # weight, output once): RMSNorm reads x once and the weight once per row.
    ratios = [case.traffic for case in report.cases]
    assert all(r is not None and 1.0 <= r < 3.0 for r in ratios), ratios
