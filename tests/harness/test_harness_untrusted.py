"""The holes the 2026-12 KernelBench review found (79 adversarial candidates, section 2 and 4):
each candidate that used to pass now fails, and where a switch exists, switching the fix off
shows it is what catches the candidate. Candidates live in tests/harness/data/cand_*.py."""

from __future__ import annotations

import time

import pytest
import torch
from harness_helpers import DATA

from torch_metalgen.bench.baselines import BASELINES
from torch_metalgen.bench.results import fast_p, geomean_speedup
from torch_metalgen.bench.runner import MEMO_RATIO, BenchConfig, bench_case
from torch_metalgen.bench.timing import refreshed, time_function
from torch_metalgen.problems import Shape, file_candidate, load_problem
from torch_metalgen.verify import BAD_PROBLEM, FAIL, PASS, CaseResult, VerifyConfig, runner
from torch_metalgen.verify.cli import main as verify_main
from torch_metalgen.verify.tolerances import EAGER_BAR_CAP, tolerance_for
from torch_metalgen.verify.worker import CandidateWorker

QUICK = dict(distributions=("native", "normal"))


def candidate(name: str):
    return file_candidate(DATA / f"cand_{name}.py")


# --- hard-coded shapes: derived check and held-out shapes -------------------------------
@pytest.mark.parametrize(
    "problem_file, overrides, name",
    [
        ("kb_style_softmax.py", None, "softmax_fixed_shape"),
        ("kb_style_softmax.py", {"batch_size": 4, "dim": 1024}, "softmax_whole_blocks"),
        ("kb_style_rmsnorm.py", None, "rmsnorm_fixed_features"),
        ("kb_style_cumsum.py", None, "cumsum_first_block"),
    ],
)
def test_hard_coded_shapes_fail_at_derived_shapes(problem_file, overrides, name):
    # These do not tamper, so they run in this process (isolate off) to save a start-up.
    problem = load_problem(DATA / problem_file, overrides)
    config = VerifyConfig(isolate=False, **QUICK)
    at_its_shape = runner.verify_problem(
        problem, candidate(name), VerifyConfig(isolate=False, shape_names=("default",), **QUICK)
    )
    assert at_its_shape.status == PASS, "right at the one shape the file names (the hole)"
    report = runner.verify_problem(problem, candidate(name), config)
    assert report.status == FAIL and report.first_failure.shape.startswith("derived-")


def test_size_globals_scale_tuples_alike_and_leave_axes():
    problem = load_problem(DATA / "kb_style_cumsum.py")
    assert problem.size_globals() == {"batch_size": 8, "input_shape": (1024,)}  # not dim = 1
    odd, half = problem.derived_shapes()
    assert odd.overrides == {"batch_size": 9, "input_shape": (1025,)} and odd.kind == "check"
    assert half.overrides == {"batch_size": 5, "input_shape": (513,)} and half.kind == "held-out"


# --- candidates run apart from the references and the checks -----------------------------
def test_patching_the_check_function_cannot_pass(monkeypatch):
    monkeypatch.setattr(runner, "check_outputs", runner.check_outputs)  # restored after
    problem = load_problem(DATA / "kb_style_softmax.py")
    report = runner.verify_problem(problem, candidate("patches_check"), VerifyConfig(**QUICK))
    assert report.status == FAIL and report.first_failure.rule == "degenerate"
    assert runner.check_outputs.__name__ == "check_outputs", "the patch stayed in its worker"
    # In this process the patch lands, and only the rule that every case must report its
    # error metrics stands between it and a pass.
    in_process = runner.verify_problem(
        problem, candidate("patches_check"), VerifyConfig(isolate=False, **QUICK)
    )
    assert in_process.status == FAIL and in_process.first_failure.rule == "metrics"


def test_rewriting_the_reference_through_the_stack_cannot_pass():
    problem = load_problem(DATA / "kb_style_softmax.py")
    report = runner.verify_problem(problem, candidate("rewrites_reference"), VerifyConfig(**QUICK))
    assert report.status == FAIL and report.first_failure.rule == "tolerance"
    # Run in this process it rewrites the reference it finds and passes: the hole.
    problem = load_problem(DATA / "kb_style_softmax.py")
    in_process = runner.verify_problem(
        problem, candidate("rewrites_reference"), VerifyConfig(isolate=False, **QUICK)
    )
    assert in_process.status == PASS


def test_a_case_without_error_metrics_fails(monkeypatch):
    problem = load_problem(DATA / "kb_style_softmax.py")
    monkeypatch.setattr(runner, "check_outputs", lambda *args, **kwargs: None)
    from torch_metalgen.problems import eager_candidate

    report = runner.verify_problem(problem, eager_candidate(), VerifyConfig(**QUICK))
    assert report.status == FAIL and report.first_failure.rule == "metrics"
    assert report.verified == 0


def test_worker_failures_are_case_failures_not_crashes(tmp_path):
    problem = load_problem(DATA / "kb_style_softmax.py")
    broken = tmp_path / "broken.py"
    broken.write_text("import torch.nn as nn\nraise RuntimeError('no')\nclass ModelNew: pass\n")
    report = runner.verify_problem(problem, file_candidate(broken), VerifyConfig(**QUICK))
    assert report.status == FAIL and report.first_failure.rule == "worker"
    assert "could not be loaded" in report.first_failure.reason
    hangs = tmp_path / "hangs.py"
    hangs.write_text(
        "import torch.nn as nn\nclass ModelNew(nn.Module):\n    def forward(self, x):\n"
        "        while True:\n            pass\n"
    )
    config = VerifyConfig(case_timeout=5.0, **QUICK)
    report = runner.verify_problem(problem, file_candidate(hangs), config)
    assert report.status == FAIL and report.first_failure.rule == "worker"
    assert "no reply within" in report.first_failure.reason


# --- timing: fresh inputs each sample, memoizing candidates flagged ----------------------
def test_every_timed_sample_sees_new_input_contents():
    seen = []
    base = [torch.randn(64), torch.arange(8)]
    time_function(
        lambda x, i: seen.append((x.data_ptr(), float(x[0]), int(i.sum()))),
        [base],
        torch.device("cpu"),
        warmup=2,
        min_samples=25,
        max_seconds=0.0,
    )
    timed = seen[2:]
    assert len({first for _, first, _ in timed}) == len(timed), "contents differ per sample"
    assert all(isum == int(base[1].sum()) for _, _, isum in timed), "integer inputs kept"
    again = refreshed(base, 3, None)
    assert torch.equal(again[0], torch.roll(base[0], 3)) and again[1] is base[1]


def test_memoizing_candidate_is_flagged_and_kept_out_of_fast_p():
    # 4 MiB sets rotate without a cache flush: on a CPU a 128 MiB flush before each call
    # costs even a cache hit ~0.15 ms, which left this adversary near the MEMO ratio.
    problem = load_problem(DATA / "kb_style_softmax.py", {"batch_size": 256, "dim": 4096})
    shape = Shape("default", {}, "bench")
    config = BenchConfig(torch.device("cpu"), min_samples=25, max_seconds=0.5)
    record = bench_case(
        problem, shape, torch.float32, candidate("memoizes"), [BASELINES["eager"]], config, None
    )
    assert record.status == "ok", record.why  # its outputs are right
    assert record.suspect and any(f.startswith("MEMO") for f in record.flags), record.flags
    assert fast_p([record], 0.0) == 0.0 and geomean_speedup([record]) is None


def test_load_that_slows_the_main_samples_is_not_taken_for_caching():
    # Stop 15's CI: a busy machine slowed the main samples, not the later probe, and an honest
    # eager softmax was flagged MEMO. The probe now alternates fresh and repeated calls.
    calls = []

    def slowed_while_the_main_samples_run(x):
        calls.append(None)
        if len(calls) <= 2 + 50:  # warm-up and the main samples: the machine is busy
            time.sleep(0.004)
        return x * 2

    timing = time_function(
        slowed_while_the_main_samples_run,
        [[torch.randn(64)]],
        torch.device("cpu"),
        warmup=2,
        min_samples=50,
        max_seconds=0.0,
        memo_probe=True,
    )
    assert len(timing.samples_ms) == 50 and timing.median_ms > 3.0  # the load was seen
    assert timing.memo_ratio is not None and timing.memo_ratio < MEMO_RATIO


# --- the eager-relative bar is capped by the dtype tolerance ------------------------------
def _check(candidate_out, eager_out, ref):
    problem = load_problem(DATA / "kb_style_frobenius.py")
    result = CaseResult("p", "c", "float32", "s", "bench", "normal", PASS)
    runner.check_outputs(
        problem,
        VerifyConfig(),
        result,
        "normal",
        torch.float32,
        [],
        [candidate_out],
        [candidate_out],
        [eager_out],
        [ref],
    )
    return result


def test_eager_bar_is_capped_at_a_multiple_of_the_tolerance():
    # Eager 3x the rel-norm tolerance (under the cap): the bar follows it to 6x.
    gen = torch.Generator().manual_seed(0)
    ref = torch.randn(1 << 16, generator=gen, dtype=torch.float64) + 3
    noise = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    rel = float(tolerance_for(torch.float32).rel_norm)

    def off_by(factor: float) -> torch.Tensor:  # relative-norm error of factor x the tolerance
        delta = noise * (factor * rel * ref.norm() / noise.norm())
        return (ref + delta).float()

    assert _check(off_by(5), off_by(3), ref).max_scaled is not None
    # Eager beyond the cap: a candidate within 2x of it cannot be told from input rounding.
    with pytest.raises(runner.Rejected) as info:
        _check(off_by(1.5 * EAGER_BAR_CAP), off_by(EAGER_BAR_CAP + 1), ref)
    assert info.value.status == BAD_PROBLEM and info.value.rule == "eager-accuracy"
    # Eager just under the cap, candidate between the cap and 2x eager: a plain failure.
    with pytest.raises(runner.Rejected) as info:
        _check(off_by(1.5 * EAGER_BAR_CAP), off_by(0.9 * EAGER_BAR_CAP), ref)
    assert info.value.status == FAIL and "relative norm" in info.value.reason


@pytest.mark.slow
def test_float16_rounded_inputs_do_not_pass_at_a_real_size():
    # 6.3M elements: float32 eager's own Frobenius norm is off by ~1.8e-4 here, so "2x eager"
    # let the float16-rounded candidate pass; the capped bar rejects the problem at this size.
    problem = load_problem(DATA / "kb_style_frobenius.py", {"features": 24})
    config = VerifyConfig(distributions=("normal",), shape_names=("default",))
    report = runner.verify_problem(problem, candidate("frobenius_fp16_inputs"), config)
    assert report.status in (FAIL, BAD_PROBLEM), report.first_failure
    # And at a smaller size, where eager is accurate, it is a plain tolerance failure.
    small = load_problem(DATA / "kb_style_frobenius.py", {"features": 4})
    report = runner.verify_problem(small, candidate("frobenius_fp16_inputs"), config)
    assert report.status == FAIL and report.first_failure.rule == "tolerance"


# --- nothing verified, missing files: clear failures --------------------------------------
@pytest.mark.parametrize(
    "extra",
    [["--dtype", "bfloat16"], ["--shape", "no-such-shape"]],
)
def test_selecting_nothing_is_a_failure(extra, capsys):
    argv = [str(DATA / "kb_style_softmax.py"), "--candidate", str(DATA / "kb_style_zeros_new.py")]
    assert verify_main(argv + extra) == 2
    assert "nothing verified for kb_style_softmax" in capsys.readouterr().out


def test_held_out_shapes_exist_for_kernelbench_files():
    problem = load_problem(DATA / "kb_style_softmax.py")
    zeros = file_candidate(DATA / "kb_style_zeros_new.py")
    config = VerifyConfig(shape_kinds=("held-out",), distributions=("native",))
    report = runner.verify_problem(problem, zeros, config, worker=None)
    assert report.status == FAIL and report.first_failure.shape == "derived-half"


@pytest.mark.parametrize("flag", ["--candidate", "problem"])
def test_missing_files_are_one_line_usage_errors(flag, capsys, tmp_path):
    from torch_metalgen.bench.cli import main as bench_main

    missing = str(tmp_path / "nope.py")
    if flag == "problem":
        argv = [missing, "--eager"]
    else:
        argv = [str(DATA / "kb_style_softmax.py"), "--candidate", missing]
    for main in (verify_main, bench_main):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "nope.py" in err and "does not exist" in err and "Traceback" not in err


def test_worker_is_reused_across_cases():
    problem = load_problem(DATA / "kb_style_softmax.py")
    with CandidateWorker(problem, candidate("softmax_fixed_shape"), torch.device("cpu")) as w:
        w.start()
        first = w.process.pid
        config = VerifyConfig(shape_names=("default",), **QUICK)
        assert runner.verify_problem(problem, w.candidate, config, worker=w).status == PASS
        assert runner.verify_problem(problem, w.candidate, config, worker=w).status == PASS
        assert w.process.pid == first
