"""KernelBench-format files load and verify unchanged; module globals are the shape knobs;
a near-constant problem is rejected (METR filter) where KernelBench's flat 1e-2 passes zeros."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from harness_helpers import DATA

from torch_metalgen.bench.cli import main as bench_main
from torch_metalgen.problems import eager_candidate, file_candidate, load_problem
from torch_metalgen.verify import BAD_PROBLEM, FAIL, PASS, VerifyConfig, verify_problem
from torch_metalgen.verify.cli import main as verify_main
from torch_metalgen.verify.tolerances import KERNELBENCH_FLAT

FAST = dict(distributions=("native", "normal", "lognormal"))


def test_kernelbench_style_file_runs_unchanged():
    problem = load_problem(DATA / "kb_style_softmax.py")
    assert [s.name for s in problem.shapes()] == ["default", "derived-odd", "derived-half"]
    candidate = file_candidate(DATA / "kb_style_softmax_new.py")
    report = verify_problem(problem, candidate, VerifyConfig(**FAST))
    assert report.status == PASS, report.first_failure


def test_zeros_fail_on_kernelbench_style_file():
    problem = load_problem(DATA / "kb_style_softmax.py")
    report = verify_problem(
        problem, file_candidate(DATA / "kb_style_zeros_new.py"), VerifyConfig(**FAST)
    )
    assert report.status == FAIL and report.first_failure.rule == "degenerate"


def test_near_constant_problem_is_rejected_where_flat_tolerance_passes_zeros():
    # KernelBench issue #165: softmax over ~400k columns; every output is ~2.5e-6 < 1e-2.
    problem = load_problem(DATA / "kb_style_softmax.py", {"batch_size": 2, "dim": 393216})
    zeros = file_candidate(DATA / "kb_style_zeros_new.py")
    config = VerifyConfig(distributions=("native",), shape_names=("default",))
    report = verify_problem(problem, zeros, config)
    assert report.status == BAD_PROBLEM and report.first_failure.rule == "near-constant"
    assert "within atol" in report.first_failure.reason
    kernelbench_like = VerifyConfig(
        distributions=("native",), shape_names=("default",), tolerance=KERNELBENCH_FLAT
    )
    kernelbench_like = kernelbench_like.without("near_constant", "degenerate")
    assert verify_problem(problem, zeros, kernelbench_like).status == PASS


def test_set_overrides_module_globals_and_rejects_unknown():
    problem = load_problem(DATA / "kb_style_softmax.py", {"batch_size": 3, "dim": 31})
    assert problem.inputs(None, 0)[0].shape == (3, 31)
    with pytest.raises(ValueError, match="no module global 'nope'"):
        load_problem(DATA / "kb_style_softmax.py", {"nope": 1})


def test_verify_cli_on_kernelbench_style_file(capsys):
    problem = str(DATA / "kb_style_softmax.py")
    assert (
        verify_main(
            [
                problem,
                "--candidate",
                str(DATA / "kb_style_softmax_new.py"),
                "--dist",
                "native",
                "--dist",
                "pareto",
            ]
        )
        == 0
    )
    assert (
        verify_main(
            [problem, "--candidate", str(DATA / "kb_style_zeros_new.py"), "--dist", "native"]
        )
        == 1
    )
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize(
    "main, argv, choice",
    [
        (verify_main, ["rms_norm", "--dist", "norml"], "pareto"),
        (verify_main, ["rms_norm", "--dtype", "fp8"], "bfloat16"),
        (bench_main, ["--verify-dists", "native,foo"], "offset100"),
        (bench_main, ["--dtype", "float64"], "float16"),
    ],
)
def test_cli_typos_are_usage_errors_naming_the_choices(main, argv, choice, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert choice in capsys.readouterr().err


def test_suite_problems_load_and_eager_passes_quickly():
    from torch_metalgen.problems import find_problems

    problems = find_problems(levels=[1, 2])
    assert len(problems) >= 14
    for problem in problems:
        assert problem.shapes(("bench",)) and problem.shapes(("held-out",)), problem.name
        config = VerifyConfig(
            dtypes=(torch.float32,), shape_kinds=("check",), distributions=("native",)
        )
        report = verify_problem(problem, eager_candidate(), config)
        assert report.status == PASS, (problem.name, report.first_failure)


KERNELBENCH_DIR = os.environ.get("KERNELBENCH_DIR")
KERNELBENCH_FILES = ("level1/94_MSELoss.py", "level1/96_HuberLoss.py", "level1/100_HingeLoss.py")


@pytest.mark.skipif(
    not KERNELBENCH_DIR,
    reason="set KERNELBENCH_DIR to a KernelBench "
    "checkout's KernelBench/ folder to run its real problem files",
)
@pytest.mark.parametrize("name", KERNELBENCH_FILES)
def test_real_kernelbench_files_unchanged(name):
    # Their sizes are 32768 x 32768 (4 GiB per input): scaled down through module globals.
    problem = load_problem(Path(KERNELBENCH_DIR) / name, {"batch_size": 512, "input_shape": (512,)})
    report = verify_problem(problem, eager_candidate(), VerifyConfig(**FAST))
    assert report.status == PASS, report.first_failure
