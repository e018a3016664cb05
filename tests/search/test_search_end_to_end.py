"""`python -m generator search rms_norm --proposers template` end to end on Linux: it says
the selection is correctness-only, logs every candidate and verdict, writes the tuning
table, resumes from its log; `python -m generator` then emits kernels from the table, and
those kernels (with the table's constants) pass the simulator tier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import pytest
import torch

from generator.search.candidate import template_candidate
from generator.search.kernel_mode import CandidateKernels, simulator_launcher
from generator.search.plan import plan
from tests.search.search_helpers import REPO, SPEC
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES

pytest.importorskip("torch_metalgen.sim")

QUICK = [
    "--dtypes",
    "float32",
    "--distributions",
    "normal",
    "--final-distributions",
    "normal",
]


def run(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="160")
    return subprocess.run(
        [sys.executable, "-m", "generator", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def evaluations(log) -> list[dict]:
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [e for e in events if e["event"] == "evaluation"]


def test_template_search_then_generate_then_simulate(tmp_path):
    run_dir, tuning, root = tmp_path / "run", tmp_path / "tuning", tmp_path / "root"
    common = ["search", "rms_norm", "--proposers", "template", "--run-dir", str(run_dir)]
    common += ["--tuning", str(tuning), *QUICK]
    first = run(*common, "--budget", "2", "--rounds", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "correctness-only" in first.stdout and "none is timed" in first.stdout
    done = evaluations(run_dir / "log.jsonl")
    assert len(done) == 2 and all(e["result"]["passed"] for e in done)
    table = json.loads((tuning / "rms_norm.json").read_text())
    assert table["shipped"]["constants"]["N_READS"] == 4  # the incumbent stays
    assert {e["basis"] for e in table["entries"]} == {"correctness-only"}
    assert {e["gpu"] for e in table["entries"]} == {"none"}

    # Ship the other verified candidate (N_READS 2): resumed from the log, not re-evaluated.
    other = template_candidate(SPEC, {"N_READS": 2}, {}).id
    assert other in {e["candidate"] for e in done}
    second = run(*common, "--budget", "2", "--rounds", "1", "--select", other)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming from" in second.stdout
    assert len(evaluations(run_dir / "log.jsonl")) == 2
    table = json.loads((tuning / "rms_norm.json").read_text())
    assert table["shipped"]["candidate"] == other
    constants = table["shipped"]["constants"]
    assert constants["N_READS"] == 2

    generated = run("--root", str(root), "--tuning", str(tuning))
    assert generated.returncode == 0, generated.stderr
    metal = root / "metal" / "rms_norm.metal"
    assert "constant constexpr uint N_READS = 2;" in metal.read_text()
    assert "constexpr int64_t N_READS = 2;" in (root / "csrc" / "ops" / "rms_norm.cpp").read_text()
    # The repository's own files are untouched by a generation into another root.
    assert "N_READS = 4;" in (REPO / "metal" / "rms_norm.metal").read_text()

    # The simulator tier on the emitted kernels, planned with the table's constants.
    mode = CandidateKernels("rms_norm", metal, constants)
    shapes = {"simd_rows": [(3, 31), (9, 33)], "single_row": [(2, 33), (3, 1000), (1, 2047)]}
    shapes["looped"] = [(2, 33), (2, 4097)]
    for variant, sizes in shapes.items():
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            for shape in sizes:
                generator = torch.Generator().manual_seed(
                    zlib.crc32(repr((variant, shape)).encode())
                )
                x = torch.randn(shape, generator=generator).to(dtype)
                weight = (1 + 0.5 * torch.randn(shape[-1], generator=generator)).to(dtype)
                _, out = _ops._C.plan_rms_norm(x, weight, 1e-5)
                launches = plan(SPEC, (x, weight, 1e-5), (out,), constants, variant=variant)
                assert [launch.variant for launch in launches] == [variant]
                simulator_launcher(mode, launches)  # poisoned outputs, races, two orders
                reference = REFERENCES["rms_norm"](x.double(), weight.double(), 1e-5)
                assert_close_to_reference(out, reference)
