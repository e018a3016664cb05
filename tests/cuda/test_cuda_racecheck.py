"""compute-sanitizer's racecheck catches a barrier deleted from a copy of metal/common.h:
the CUDA back end runs real concurrent SIMD-groups, so the missing barrier in
metalgen::threadgroup_sum is a shared-memory hazard reported at common.h's own lines."""

from __future__ import annotations

import pytest

from tests.cuda.tier import require_gpu, sanitizer_path

pytestmark = pytest.mark.cuda


def test_racecheck_finds_a_planted_missing_barrier(tmp_path):
    require_gpu()
    sanitizer = sanitizer_path()
    if sanitizer is None:
        pytest.skip("needs compute-sanitizer (CUDA toolkit)")
    from torch_metalgen.sim.cuda.sanitize import finish_tool, sanitizer_flags, start_tool
    from torch_metalgen.sim.cuda.sweep import mutant_dir

    mutant, line = mutant_dir(tmp_path)
    process, command = start_tool(
        sanitizer,
        "racecheck",
        tmp_path / "cases.json",
        sanitizer_flags(sanitizer),
        ["--ops", "rms_norm", "--source-dir", str(mutant)],
    )
    run = finish_tool("racecheck", process, command, tmp_path / "cases.json", 600)
    assert run.errors, f"racecheck reported no hazard:\n{run.output[-3000:]}"
    assert any("common.h" in hazard for hazard in run.race_lines), run.output[-3000:]
    # The deleted barrier sat between the write of partials (two lines above) and the read.
    assert any(
        f"common.h:{line - 2}" in hazard or f"common.h:{line + 1}" in hazard
        for hazard in run.race_lines
    ), run.race_lines
