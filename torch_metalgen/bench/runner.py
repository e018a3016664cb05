"""Benchmark one problem at one shape and dtype: verify first, then time the candidate and
the baselines in this process, re-check the timed outputs, and place it against speed of light.

No numbers are reported for a candidate that fails verification, or whose timed outputs fail
the re-check (rule 18); times under the hard speed-of-light floor are errors (rule 17). An
untrusted (file) candidate is verified and timed in its worker process (``verify/worker.py``),
on input sets made here; its timed outputs come back for the re-check. Every timed function
gets fresh inputs each sample (``timing.refreshed``); a candidate much faster on repeated
identical inputs than on fresh ones is flagged ``MEMO`` and kept out of fast_p and geomeans.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from torch_metalgen.bench.baselines import Baseline
from torch_metalgen.bench.speed_of_light import DeviceLimits
from torch_metalgen.bench.timing import Timing, plan_input_sets, refreshed, time_function
from torch_metalgen.problems import Candidate, Problem, Shape
from torch_metalgen.verify.device import strict_float32
from torch_metalgen.verify.runner import (
    NATIVE,
    PASS,
    CaseResult,
    Rejected,
    VerifyConfig,
    as_tensors,
    check_outputs,
    randomize_constant_parameters,
    to_device,
    verify_problem,
)
from torch_metalgen.verify.worker import CandidateWorker, WorkerError, shape_message

# Rule 15's realistic range for one timed call on the target device.
REALISTIC_MS = (1.0, 15.0)
REVIEW_SPEEDUP = 2.0  # faster than the best baseline by more than this: a human looks
# Repeated calls on identical inputs this much faster than calls on fresh inputs: the
# candidate caches results (inputs staying in cache explains 2-3x at most).
MEMO_RATIO = 4.0


@dataclass
class BenchConfig:
    device: torch.device
    min_samples: int = 100
    max_seconds: float = 5.0
    warmup: int = 5
    seed: int = 0
    verify_distributions: tuple[str, ...] = (NATIVE, "normal")
    recheck_sets: int = 2


@dataclass
class Measurement:
    name: str
    median_ms: float
    q1_ms: float
    q3_ms: float
    samples: int
    input_sets: int
    flushed: bool
    correct: bool | None = None  # timed outputs re-checked against float64
    note: str = ""

    @classmethod
    def of(cls, name: str, timing: Timing) -> Measurement:
        q1, q3 = timing.quartiles_ms
        return cls(
            name,
            timing.median_ms,
            q1,
            q3,
            len(timing.samples_ms),
            timing.input_sets,
            timing.flushed,
        )


@dataclass
class BenchRecord:
    problem: str
    level: int | None
    shape: str
    shape_kind: str
    dtype: str
    candidate_name: str
    status: str = "ok"  # ok, refused (no numbers: why says so), error
    why: str = ""
    candidate: Measurement | None = None
    baselines: dict[str, Measurement] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    compulsory_bytes: int = 0
    flops: float | None = None
    sol_ms: float | None = None
    hard_floor_ms: float | None = None
    flags: list[str] = field(default_factory=list)

    @classmethod
    def of_case(
        cls, problem: Problem, shape: Shape, dtype: torch.dtype, candidate: str, **fields
    ) -> BenchRecord:
        """A record for ``problem`` at ``shape`` and ``dtype``; ``fields`` set the rest."""
        dtype_name = str(dtype).replace("torch.", "")
        return cls(
            problem.name, problem.level, shape.name, shape.kind, dtype_name, candidate, **fields
        )

    @property
    def suspect(self) -> bool:
        """Flagged as caching results: its times are kept out of fast_p and geomeans."""
        return any(flag.startswith("MEMO") for flag in self.flags)

    def speedup(self, baseline: str) -> float | None:
        base = self.baselines.get(baseline)
        if not (base and self.candidate):
            return None
        return base.median_ms / self.candidate.median_ms

    @property
    def best_baseline(self) -> Measurement | None:
        valid = [m for m in self.baselines.values() if m.correct is not False]
        return min(valid, key=lambda m: m.median_ms, default=None)

    @property
    def speedup_best(self) -> float | None:
        best = self.best_baseline
        return best.median_ms / self.candidate.median_ms if best and self.candidate else None

    def pct_sol(self, m: Measurement | None) -> float | None:
        return None if (m is None or self.sol_ms is None) else 100 * self.sol_ms / m.median_ms

    def achieved(self, m: Measurement) -> tuple[float, float | None]:
        """(GB/s, TFLOP/s) achieved by measurement ``m``."""
        seconds = m.median_ms / 1e3
        return (
            self.compulsory_bytes / seconds / 1e9,
            None if self.flops is None else self.flops / seconds / 1e12,
        )


def bench_case(
    problem: Problem,
    shape: Shape,
    dtype: torch.dtype,
    candidate: Candidate,
    baselines: list[Baseline],
    config: BenchConfig,
    limits: DeviceLimits | None,
    worker: CandidateWorker | None = None,
) -> BenchRecord:
    """Verify ``candidate`` at this shape and dtype, then time it and ``baselines`` on
    ``config.device``; a refused record (``why`` says why) carries no times. An untrusted
    candidate runs in ``worker`` (one is started for this call when None)."""
    if candidate.isolated and worker is None:
        with CandidateWorker(problem, candidate, config.device) as own:
            own.start(wait=False)
            return bench_case(problem, shape, dtype, candidate, baselines, config, limits, own)
    record = BenchRecord.of_case(problem, shape, dtype, candidate.name)
    device = config.device
    # 1. Verification before timing, at this very shape and dtype.
    verdict = verify_problem(
        problem,
        candidate,
        VerifyConfig(
            device=device,
            dtypes=(dtype,),
            shape_kinds=(shape.kind,),
            shape_names=(shape.name,),
            distributions=config.verify_distributions,
            seed=config.seed,
        ),
        worker=worker,
    )
    if verdict.status != PASS:
        failure = verdict.first_failure
        record.status = "refused"
        record.why = (
            f"verification {verdict.status}: [{failure.rule}] {failure.reason}"
            if failure
            else f"verification {verdict.status}: {verdict.notes}"
        )
        return record

    with strict_float32(), torch.no_grad():
        init = problem.init_inputs(shape, config.seed)
        model = problem.new_model(init, config.seed)
        randomize_constant_parameters(model, config.seed)
        built = None
        if worker is None:
            built = candidate.build(problem, model, init, config.seed).to(device, dtype).eval()
        first = [to_device(t, device, dtype) for t in problem.inputs(shape, config.seed + 1)]
        set_bytes = sum(t.numel() * t.element_size() for t in first if isinstance(t, torch.Tensor))
        cache = limits.last_level_cache if limits else 64 << 20
        n_sets, flush = plan_input_sets(set_bytes, cache)
        sets = [first] + [
            [to_device(t, device, dtype) for t in problem.inputs(shape, config.seed + 1 + i)]
            for i in range(1, n_sets)
        ]

        which = problem.randomized_inputs

        def timed(fn, memo_probe: bool = False) -> Timing:  # same sets, flush and samples
            return time_function(
                fn,
                sets,
                device,
                flush,
                config.warmup,
                config.min_samples,
                max_seconds=config.max_seconds,
                which=which,
                memo_probe=memo_probe,
            )

        graphs = _compiled_graphs()
        if worker is None:
            timing = timed(built, memo_probe=True)
        else:
            try:
                timing = _time_in_worker(worker, shape, dtype, sets, flush, which, config)
            except WorkerError as error:
                record.status, record.why = "refused", f"timing: {error}"
                return record
        record.candidate = Measurement.of(candidate.name, timing)
        _flag_memo(record, timing)
        if candidate.kind == "compile" and _compiled_graphs() == graphs:
            record.flags.append("REVIEW: torch.compile captured no graph: it ran eager")
        eager = copy.deepcopy(model).to(device, dtype).eval()
        # 2. Re-check the timed runs' own outputs (rule 18), before any baseline runs.
        why = _recheck(problem, shape, dtype, timing, eager, model, sets, config)
        record.candidate.correct = why is None
        if why:
            record.status, record.why = "refused", f"timed outputs fail re-check: {why}"
            record.candidate = None
            return record
        timing.outputs.clear()
        # 3. Baselines in the same process, same inputs, same precision regime (rule 16).
        for baseline in baselines:
            reason = baseline.unavailable(problem, device)
            if reason:
                record.unavailable[baseline.name] = reason
                continue
            module = baseline.build(problem, model, init, device, dtype)
            graphs = _compiled_graphs()
            base_timing = timed(module)
            measurement = Measurement.of(baseline.name, base_timing)
            if baseline.name == "compile" and _compiled_graphs() == graphs:
                record.flags.append(
                    "REVIEW: torch.compile baseline captured no graph: it ran eager"
                )
            if baseline.name != "eager":
                why = _recheck(problem, shape, dtype, base_timing, eager, model, sets, config)
                measurement.correct, measurement.note = why is None, why or ""
            else:
                measurement.correct = True
            record.baselines[baseline.name] = measurement
            base_timing.outputs.clear()
            del module
        # 4. Speed of light from compulsory bytes and FLOPs (rule 17).
        outputs = as_tensors(eager(*first))
        params = list(model.parameters()) + list(model.buffers())
        with problem.at_shape(shape):
            record.flops = problem.flops(first)
            record.compulsory_bytes = problem.compulsory_bytes(
                first, outputs, [p.to(dtype) if p.is_floating_point() else p for p in params]
            )
    if limits is not None:
        record.sol_ms = 1e3 * limits.floor_seconds(record.compulsory_bytes, record.flops, dtype)
        record.hard_floor_ms = 1e3 * limits.floor_seconds(
            record.compulsory_bytes, record.flops, dtype, hard=True
        )
    _flag(record)
    return record


def _recheck(
    problem: Problem,
    shape: Shape,
    dtype: torch.dtype,
    timing: Timing,
    eager: torch.nn.Module,
    model: torch.nn.Module,
    sets: list[list],
    config: BenchConfig,
) -> str | None:
    """Compare the outputs the timed loop produced with float64, for a few input sets."""
    model64 = None
    check = VerifyConfig(device=config.device).without("poison", "determinism", "near_constant")
    for index in sorted(timing.outputs)[: config.recheck_sets]:
        if model64 is None:
            model64 = copy.deepcopy(model).to(torch.float64).eval()
        inputs = refreshed(sets[index], timing.epochs.get(index, 0), problem.randomized_inputs)
        inputs64 = [
            t.detach().cpu().to(torch.float64)
            if isinstance(t, torch.Tensor) and t.is_floating_point()
            else t
            for t in inputs
        ]
        outs = [t.detach() for t in as_tensors(timing.outputs[index])]
        result = CaseResult(
            problem.name, "timed", str(dtype), shape.name, shape.kind, f"set {index}", PASS
        )
        try:
            check_outputs(
                problem,
                check,
                result,
                NATIVE,
                dtype,
                inputs,
                outs,
                outs,
                as_tensors(eager(*inputs)),
                as_tensors(model64(*inputs64)),
            )
        except Rejected as rejection:
            return f"input set {index}: [{rejection.rule}] {rejection.reason}"
    return None


def _time_in_worker(
    worker: CandidateWorker,
    shape: Shape,
    dtype: torch.dtype,
    sets: list[list],
    flush: int,
    which: tuple[int, ...] | None,
    config: BenchConfig,
) -> Timing:
    """Time the candidate in its worker on ``sets`` (made here); its kept outputs come back
    for the re-check, with the refresh epoch each one saw."""
    reply = worker.request(
        {
            "op": "time",
            "shape": shape_message(shape),
            "dtype": str(dtype).replace("torch.", ""),
            "seed": config.seed,
            "sets": [
                [t.detach().cpu() if isinstance(t, torch.Tensor) else t for t in s] for s in sets
            ],
            "flush_bytes": flush,
            "warmup": config.warmup,
            "min_samples": config.min_samples,
            "max_seconds": config.max_seconds,
            "which": which,
            "recheck_sets": config.recheck_sets,
        },
        timeout=max(600.0, 20 * config.max_seconds),
    )
    if reply.get("error") or reply.get("rejected"):
        raise WorkerError(
            f"the candidate raised while timed: {reply.get('error') or reply['rejected']}"
        )
    try:
        samples = [float(x) for x in reply["samples_ms"]]
        outputs = {int(i): list(v) for i, v in reply["outputs"].items()}
        epochs = {int(i): int(e) for i, e in reply["epochs"].items()}
        repeat, probe_fresh = (
            None if reply.get(key) is None else float(reply[key])
            for key in ("repeat_ms", "probe_fresh_ms")
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise WorkerError(f"malformed timing reply ({error})") from None
    if len(samples) < config.min_samples or not all(
        all(isinstance(t, torch.Tensor) for t in v) for v in outputs.values()
    ):
        raise WorkerError("malformed timing reply (too few samples or no output tensors)")
    return Timing(samples, len(sets), flush > 0, outputs, epochs, repeat, probe_fresh)


def _flag_memo(record: BenchRecord, timing: Timing) -> None:
    """MEMO: repeated identical inputs much faster than fresh ones (the candidate caches)."""
    ratio = timing.memo_ratio
    if ratio is not None and ratio > MEMO_RATIO:
        record.flags.append(
            f"MEMO: {ratio:.1f}x faster on repeated identical inputs than on fresh ones: it "
            "caches results (timed on fresh inputs; kept out of fast_p and geomeans)"
        )


def _compiled_graphs() -> int:
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def _flag(record: BenchRecord) -> None:
    for m in [record.candidate, *record.baselines.values()]:
        if m and record.hard_floor_ms and m.median_ms < record.hard_floor_ms:
            record.flags.append(
                f"ERROR {m.name}: {m.median_ms:.4g} ms is below the hard "
                f"speed-of-light floor {record.hard_floor_ms:.4g} ms (bytes or "
                "FLOPs undercounted, or the timing missed work)"
            )
            record.status = "error"
    baseline_ms = [m.median_ms for m in record.baselines.values() if m]
    if baseline_ms and max(baseline_ms) < REALISTIC_MS[0]:
        # Rule 15: below ~1 ms launch overhead and clocks weigh in; the shape suits
        # another device, or a larger one should be timed too.
        record.flags.append(
            f"NOTE: every baseline ran under {REALISTIC_MS[0]:g} ms (rule 15 wants "
            f"{REALISTIC_MS[0]:g}-{REALISTIC_MS[1]:g} ms); launch overhead may dominate"
        )
    best = record.speedup_best
    if best is not None and best > REVIEW_SPEEDUP:
        record.flags.append(
            f"REVIEW: {best:.2f}x faster than the best baseline "
            f"({record.best_baseline.name}); check it is real"
        )
