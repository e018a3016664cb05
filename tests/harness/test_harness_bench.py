"""Benchmark rules that can be checked without a GPU: it refuses to report numbers without
one, refuses unverified candidates, flags faster-than-light times, summarizes honestly."""

from __future__ import annotations

import json

import harness_adversaries as bad
import pytest
import torch
from harness_helpers import DATA, RMS_NORM

from torch_metalgen.bench import cli as bench_cli
from torch_metalgen.bench import timing as timing_module
from torch_metalgen.bench.baselines import BASELINES
from torch_metalgen.bench.results import fast_p, geomean_speedup
from torch_metalgen.bench.runner import BenchConfig, BenchRecord, Measurement, _flag, bench_case
from torch_metalgen.bench.speed_of_light import ALUS_PER_CORE, APPLE_CHIPS, DeviceLimits
from torch_metalgen.bench.timing import plan_input_sets, time_function
from torch_metalgen.problems import Shape, load_problem, module_candidate


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(), reason="checks the no-GPU path"
)
def test_no_gpu_reports_no_numbers(capsys, tmp_path):
    assert bench_cli.main(["--out", str(tmp_path)]) == 0
    assert "No GPU" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_unverified_candidate_gets_no_numbers():
    problem = load_problem(RMS_NORM)
    shape = Shape("5x1000", {"batch_size": 5, "hidden": 1000}, "check")
    record = bench_case(
        problem,
        shape,
        torch.float32,
        module_candidate(bad.AllZeros),
        [BASELINES["eager"]],
        BenchConfig(torch.device("cpu")),
        None,
    )
    assert record.status == "refused" and record.candidate is None
    assert record.why.startswith("verification FAIL") and "degenerate" in record.why


def test_timed_outputs_are_rechecked():
    # Rule 18: right during verification, wrong once timing has run it a few times.
    problem = load_problem(RMS_NORM)
    shape = Shape("5x1000", {"batch_size": 5, "hidden": 1000}, "check")
    candidate = module_candidate(bad.LearnsAfterWarmup)
    config = BenchConfig(torch.device("cpu"), min_samples=25, max_seconds=0.1)
    record = bench_case(problem, shape, torch.float32, candidate, [], config, None)
    assert record.status == "refused" and record.candidate is None
    assert record.why.startswith("timed outputs fail re-check"), record.why


def _limits():
    return DeviceLimits("test GPU", 100.0, 120.0, {torch.float32: 1.0}, 1 << 20, "test")


def _record(candidate_ms: float, eager_ms: float, status: str = "ok") -> BenchRecord:
    record = BenchRecord("p", 1, "s", "bench", "float32", "cand", status=status)
    record.candidate = Measurement(
        "cand", candidate_ms, candidate_ms, candidate_ms, 100, 1, False, True
    )
    record.baselines["eager"] = Measurement(
        "eager", eager_ms, eager_ms, eager_ms, 100, 1, False, True
    )
    return record


def test_faster_than_light_is_an_error():
    record = _record(0.5, 1.0)
    record.compulsory_bytes = 120_000_000  # 1 ms at the 120 GB/s hard limit
    record.hard_floor_ms = 1e3 * _limits().floor_seconds(
        record.compulsory_bytes, None, torch.float32, hard=True
    )
    _flag(record)
    assert record.status == "error" and "speed-of-light" in record.flags[0]


def test_big_speedups_are_flagged_for_review():
    record = _record(1.0, 3.0)
    _flag(record)
    assert record.status == "ok" and record.flags and record.flags[0].startswith("REVIEW")


def test_sub_millisecond_problems_get_a_rule_15_note():
    short, realistic = _record(0.2, 0.3), _record(2.0, 3.0)
    _flag(short)
    _flag(realistic)
    assert any("rule 15" in flag for flag in short.flags)
    assert not any("rule 15" in flag for flag in realistic.flags)
    assert short.status == "ok"  # a note, not a verdict


def test_fast_p_and_geomean_count_failures_against():
    records = [_record(1.0, 2.0), _record(1.0, 0.5), _record(1.0, 1.0, "refused")]
    assert fast_p(records, 0.0) == pytest.approx(2 / 3)
    assert fast_p(records, 1.0) == pytest.approx(1 / 3)
    assert fast_p(records, 2.0) == 0.0
    assert geomean_speedup(records) == pytest.approx(1.0)


def test_input_rotation_exceeds_the_cache_or_flushes():
    assert plan_input_sets(set_bytes=100 << 20, cache_bytes=50 << 20) == (1, 0)
    sets, flush = plan_input_sets(set_bytes=10 << 20, cache_bytes=50 << 20)
    assert sets * (10 << 20) >= 2 * (50 << 20) and flush == 0
    assert plan_input_sets(set_bytes=1024, cache_bytes=50 << 20) == (1, 100 << 20)


def test_timing_takes_at_least_the_minimum_samples(monkeypatch):
    # Every sample 1 ms: the spread has settled from the first batch on, so only the
    # minimum keeps it sampling.
    monkeypatch.setattr(timing_module._Clock, "elapsed_ms", staticmethod(lambda start, end: 1.0))
    x = [torch.randn(64)]
    timing = time_function(
        torch.nn.functional.gelu, [x], torch.device("cpu"), min_samples=100, max_seconds=60.0
    )
    assert 100 <= len(timing.samples_ms) < 1000
    assert timing.median_ms == 1.0 and timing.iqr_ms == 0.0


def test_timing_synchronizes_around_every_batch(monkeypatch):
    log = []
    monkeypatch.setattr(timing_module, "synchronize", lambda device: log.append("sync"))
    sets = [[torch.randn(8)], [torch.randn(8)]]
    time_function(
        lambda x: log.append("call") or x, sets, torch.device("cpu"), warmup=3, min_samples=50
    )
    assert log[:4] == ["call"] * 3 + ["sync"], "warm-up, then a synchronize before timing"
    timed = log[4:]
    batch = ["sync"] + ["call"] * timing_module.BATCH + ["sync"]
    assert len(timed) % len(batch) == 0 and timed == batch * (len(timed) // len(batch))


def test_apple_table_is_consistent_with_its_own_derivation():
    # FP32 peak = cores x 128 ALUs x 2 x clock: one clock per generation (within the +-15% of
    # the M3/M4 estimates), GHz in the range Apple GPUs run at; bandwidth grows with the tier.
    for generation in ("M1", "M2", "M3", "M4"):
        chips = {k: v for k, v in APPLE_CHIPS.items() if k.split()[0] == generation}
        clocks = [tf * 1e12 / (cores * ALUS_PER_CORE * 2) / 1e9 for cores, _, tf in chips.values()]
        assert all(0.9 < ghz < 1.8 for ghz in clocks), (generation, clocks)
        assert max(clocks) / min(clocks) < 1.15**2, (generation, clocks)
        bandwidths = [bw for _, bw, _ in chips.values()]
        assert bandwidths == sorted(bandwidths), generation


def test_cpu_dev_run_writes_results(tmp_path, monkeypatch):
    # Without --out, results go under the current directory, never next to the package.
    monkeypatch.chdir(tmp_path)
    args = [
        str(DATA / "kb_style_softmax.py"),
        "--cpu-dev",
        "--eager",
        "--baselines",
        "eager",
        "--samples",
        "20",
        "--max-seconds",
        "0.2",
    ]
    assert bench_cli.main(args) == 0
    out = tmp_path / "benchmarks" / "results" / "cpu"
    data = json.loads((out / "results.json").read_text())
    assert data["environment"]["command"].startswith("python -m torch_metalgen bench")
    assert data["records"][0]["status"] == "ok"
    assert (out / "results.csv").exists() and (out / "speedup.png").exists()
