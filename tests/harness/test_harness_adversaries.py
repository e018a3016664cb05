"""Each known-bad kernel is rejected, by the rule written for it; and (where the failure is
deterministic) the same kernel passes once that rule is switched off, which shows the rule
is what catches it."""

from __future__ import annotations

import harness_adversaries as bad
import pytest
import torch
from harness_helpers import quick_config, run

from torch_metalgen.verify import FAIL, PASS, Tolerance, candidate_side, tolerance_for
from torch_metalgen.verify.device import precision_regime, restore_regime
from torch_metalgen.verify.tolerances import KERNELBENCH_FLAT


def rejected(report, *rules):
    failure = report.first_failure
    assert report.status == FAIL, f"{report.problem}: {report.candidate} was not rejected"
    assert failure.rule in rules, f"rejected by {failure.rule!r}: {failure.reason}"
    assert failure.reason  # a reason a human can act on
    return failure


def test_correct_candidate_passes(rms_problem):
    report = run(rms_problem, bad.Correct)
    assert report.status == PASS, report.first_failure


@pytest.mark.parametrize(
    "cls, why",
    [
        (bad.AllZeros, "all zeros"),
        (bad.ReturnsInput, "copy of input"),
        (bad.NaNFill, "all NaN"),
        (bad.MeanFill, "constant fill"),
    ],
)
def test_degenerate_outputs_fail(rms_problem, cls, why):
    failure = rejected(run(rms_problem, cls), "degenerate")
    assert why in failure.reason


def test_degenerate_rule_is_needed_for_its_reason(rms_problem):
    # Without the degenerate rule the zeros still fail, but only on tolerance.
    rejected(run(rms_problem, bad.AllZeros, quick_config().without("degenerate")), "tolerance")


def test_one_row_fails(rms_problem):
    rejected(run(rms_problem, bad.OneRow), "tolerance")


def test_stale_empty_memory_is_caught_by_poison(rms_problem):
    failure = rejected(run(rms_problem, bad.StaleEmpty), "unwritten")
    assert "never written" in failure.reason
    # Without poison the rows it skipped hold malloc's leftovers: still wrong, other rule.
    report = run(rms_problem, bad.StaleEmpty, quick_config().without("poison"))
    assert report.first_failure is None or report.first_failure.rule != "unwritten"


def test_reading_the_reference_output_needs_candidate_first(rms_problem):
    bad.ReadsReferenceOutput.install(rms_problem.module.Model)
    rejected(run(rms_problem, bad.ReadsReferenceOutput), "unwritten", "tolerance")
    bad.ReadsReferenceOutput.install(rms_problem.module.Model)
    report = run(rms_problem, bad.ReadsReferenceOutput, quick_config().without("candidate_first"))
    assert report.status == PASS, "with the reference run first, the stale output is right"


def test_skipped_synchronize_is_caught(rms_problem, monkeypatch):
    # On CPU the late writes land after the whole check: they show up as unwritten poison.
    rejected(run(rms_problem, bad.SkipsSynchronize), "async", "unwritten")
    # With a full synchronize that waits for them (as a GPU's does), they land between the
    # snapshot and the check: the output changed after the candidate returned.
    monkeypatch.setattr(candidate_side, "synchronize", bad.SkipsSynchronize.device_synchronize)
    failure = rejected(run(rms_problem, bad.SkipsSynchronize), "async")
    assert "changed after the candidate returned" in failure.reason


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA streams (a GPU)")
def test_other_stream_is_caught(rms_problem):
    config = quick_config(device=torch.device("cuda"))
    rejected(run(rms_problem, bad.OtherStream, config), "async")


def test_lower_precision_fails_per_dtype_tolerance(rms_problem):
    failure = rejected(run(rms_problem, bad.LowerPrecision), "tolerance")
    assert failure.max_scaled > 1 and failure.rel_norm > tolerance_for(torch.float32).rel_norm
    flat = quick_config(tolerance=KERNELBENCH_FLAT, distributions=("native", "normal"))
    assert run(rms_problem, bad.LowerPrecision, flat).status == PASS, (
        "KernelBench's flat 1e-2 lets a bfloat16 computation pass as float32"
    )


def test_elementwise_and_relative_norm_bounds_each_reject(rms_problem):
    # Either bound alone rejects the bfloat16 computation; with both off it passes.
    only_norm = Tolerance(rtol=1.0, atol=0.0, rel_norm=1e-5, scale_atol=False)
    only_elementwise = Tolerance(rtol=1.3e-6, atol=1e-5, rel_norm=float("inf"))
    neither = Tolerance(rtol=1.0, atol=0.0, rel_norm=float("inf"), scale_atol=False)
    for tolerance in (only_norm, only_elementwise):
        config = quick_config(tolerance=tolerance, distributions=("native",))
        rejected(run(rms_problem, bad.LowerPrecision, config), "tolerance")
    config = quick_config(tolerance=neither, distributions=("native",))
    assert run(rms_problem, bad.LowerPrecision, config).passed


def test_nonfinite_results_must_match(rms_problem):
    config = quick_config(distributions=("inf-nan",))
    failure = rejected(run(rms_problem, bad.DropsNonFinite, config), "tolerance")
    assert "NaN/inf" in failure.reason
    assert run(rms_problem, bad.DropsNonFinite, quick_config(distributions=("normal",))).passed


def test_float32_is_ieee_while_checking(rms_problem):
    seen = []

    class RecordsPrecision(bad.Correct):
        def forward(self, x):
            seen.append(precision_regime())
            return super().forward(x)

    saved = precision_regime()
    torch.set_float32_matmul_precision("medium")  # TF32 on CUDA, bf16 matmuls on CPU (oneDNN)
    try:
        assert run(rms_problem, RecordsPrecision).passed
        assert seen and all(
            r["mkldnn.matmul.fp32_precision"] == "ieee" and not r["cuda.matmul.allow_tf32"]
            for r in seen
        ), "the harness must force IEEE float32 while the candidate runs"
        after = precision_regime()
        assert after["mkldnn.matmul.fp32_precision"] == "bf16", "and restore the flags after"
    finally:
        restore_regime(saved)


def test_caching_across_calls_fails_on_new_inputs(rms_problem):
    failure = rejected(run(rms_problem, bad.CachesResults), "tolerance")
    assert failure.distribution != "native"  # the first input set is right, later ones not
    one_input = quick_config(distributions=("native",))
    assert run(rms_problem, bad.CachesResults, one_input).status == PASS


def test_power_of_two_only_fails_on_odd_shapes(rms_problem):
    failure = rejected(run(rms_problem, bad.PowerOfTwoOnly), "tolerance")
    assert failure.shape != "7x128"
    pow2 = quick_config(shape_names=("7x128",))
    assert run(rms_problem, bad.PowerOfTwoOnly, pow2).status == PASS


def test_changing_precision_flags_fails(rms_problem):
    saved = precision_regime()
    try:
        rejected(run(rms_problem, bad.ChangesPrecisionFlags), "precision")
        assert precision_regime() == saved, "the harness must restore the flags"
        report = run(rms_problem, bad.ChangesPrecisionFlags, quick_config().without("regime_check"))
        assert report.status == PASS
    finally:
        restore_regime(saved)


def test_modifying_inputs_fails(rms_problem):
    rejected(run(rms_problem, bad.ModifiesInput), "inputs")
    # (its output is also the caller's input: the copy-of-input check sees that too)
    off = quick_config().without("check_inputs", "degenerate")
    assert run(rms_problem, bad.ModifiesInput, off).passed


def test_nondeterminism_fails(rms_problem):
    rejected(run(rms_problem, bad.Nondeterministic), "determinism")
    assert run(rms_problem, bad.Nondeterministic, quick_config().without("determinism")).passed


def test_ignoring_weights_fails_with_random_weights(rms_problem):
    rejected(run(rms_problem, bad.IgnoresWeight), "tolerance")
    ones = quick_config().without("randomize_weights")
    assert run(rms_problem, bad.IgnoresWeight, ones).passed, "weights of ones hide it"
