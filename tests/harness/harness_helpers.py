"""Helpers for the harness self-tests: the RMSNorm problem and a quick configuration.

Checks use the problem's small CHECK_SHAPES on CPU so the whole self-test stays fast on two
cores; each test names the rule it expects to reject the kernel."""

from __future__ import annotations

from pathlib import Path

import torch

from torch_metalgen.problems import module_candidate
from torch_metalgen.verify import VerifyConfig, verify_problem

REPO = Path(__file__).resolve().parents[2]
RMS_NORM = REPO / "torch_metalgen" / "problems" / "suite" / "level1" / "rms_norm.py"
DATA = Path(__file__).resolve().parent / "data"


def quick_config(**overrides) -> VerifyConfig:
    """float32, check shapes, four distributions: enough to trip every rule, in seconds."""
    base = dict(
        device=torch.device("cpu"),
        dtypes=(torch.float32,),
        shape_kinds=("check",),
        distributions=("native", "normal", "offset100", "pareto"),
    )
    base.update(overrides)
    return VerifyConfig(**base)


def run(problem, cls, config: VerifyConfig | None = None):
    return verify_problem(problem, module_candidate(cls), config or quick_config())
