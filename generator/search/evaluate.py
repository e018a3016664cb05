"""One candidate through the stages, cheapest first, stopping at the first failure:

1. ``contract``  (text, in process): the op's launch interface (kernels, buffers, params
   struct, host names) and the strict-MSL screen (``screen.py``);
2. ``compile``   (limited subprocess): strict MSL, as the simulator builds it;
3. ``simulator`` (the harness, candidate in a limited worker): the problem's check shapes,
   dtypes and input distributions on CPU through the simulator, with race, bounds and
   uninitialized-read checks on every launch and two schedule orders compared bit for bit,
   against float64 by the one tolerance table (``torch_metalgen.verify``);
4. ``profile``   (limited subprocess, optional): memory traffic vs compulsory bytes;
5. ``device``    (the harness on the GPU): the check and bench shapes on ``mps`` (or
   another device with a registered launcher); skipped without one;
6. ``benchmark`` (the bench harness): each bench shape x dtype, against the current kernel,
   eager and torch.compile; skipped without a GPU.

``evaluate`` takes and returns plain data (JSON-able dicts), so any executor (a local
process pool, Ray) can run it anywhere the repository is importable.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generator.search.candidate import RunStore, contract_problems
from generator.search.sandbox import run_step
from generator.search.screen import screen
from torch_metalgen.verify.limits import GIB, ResourceLimits

STAGES = ("contract", "compile", "simulator", "profile", "device", "benchmark")


@dataclass
class Settings:
    """How hard to check. ``device``: where the device stages run ("cpu": none)."""

    problem: str
    device: str = "cpu"
    dtypes: tuple[str, ...] | None = None  # None: the problem's DTYPES
    distributions: tuple[str, ...] | None = ("normal", "offset100", "pareto")  # None: all
    shape_kinds: tuple[str, ...] = ("check",)
    profile: bool = False
    cpu_seconds: int = 600
    memory_gib: float = 8.0
    compile_timeout: float = 300.0
    case_timeout: float = 300.0
    bench_samples: int = 100
    bench_seconds: float = 2.0

    @property
    def limits(self) -> ResourceLimits:
        return ResourceLimits(self.cpu_seconds, int(self.memory_gib * GIB))


@dataclass
class StageResult:
    stage: str
    status: str  # pass, fail, skip
    reason: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def _spec(op: str):
    import importlib

    return importlib.import_module(f"generator.specs.{op}").SPEC


def _verify(
    directory: Path, settings: Settings, device: str, kinds: tuple[str, ...]
) -> StageResult:
    import torch

    from torch_metalgen.problems import file_candidate, load_problem
    from torch_metalgen.problems.problem import parse_dtype
    from torch_metalgen.verify import VerifyConfig, runner

    problem = load_problem(settings.problem)
    config = VerifyConfig(
        device=torch.device(device),
        dtypes=tuple(parse_dtype(d) for d in settings.dtypes) if settings.dtypes else None,
        shape_kinds=kinds,
        distributions=settings.distributions,
        worker_limits=settings.limits,
        case_timeout=settings.case_timeout,
    )
    report = runner.verify_problem(problem, file_candidate(directory / "model_new.py"), config)
    details = {"cases": len(report.cases), "verified": report.verified, "notes": report.notes}
    failure = report.first_failure
    if report.passed and report.verified:
        worst = max((c.max_scaled or 0.0) for c in report.cases)
        return StageResult(
            "", "pass", f"{report.verified} cases", details=details | {"worst_err_tol": worst}
        )
    if failure is not None:
        reason = (
            f"[{failure.rule}] {failure.dtype} {failure.shape} {failure.distribution}: "
            f"{failure.reason}"
        )
    else:
        reason = "nothing verified: " + "; ".join(report.notes)
    return StageResult("", "fail", reason, details=details)


def _benchmark(directory: Path, settings: Settings) -> StageResult:
    import copy

    import torch

    from torch_metalgen.bench.baselines import BASELINES, Baseline
    from torch_metalgen.bench.runner import BenchConfig, bench_case
    from torch_metalgen.bench.speed_of_light import device_limits
    from torch_metalgen.problems import file_candidate, load_problem
    from torch_metalgen.problems.problem import parse_dtype

    problem = load_problem(settings.problem)
    device = torch.device(settings.device)

    def current(problem, model, init, device, dtype):  # the shipped kernel, same weights
        module = problem.metalgen_class(*init)
        module.load_state_dict(copy.deepcopy(model.state_dict()))
        return module.to(device, dtype).eval()

    baselines = [Baseline("current", current), BASELINES["eager"], BASELINES["compile"]]
    config = BenchConfig(
        device, min_samples=settings.bench_samples, max_seconds=settings.bench_seconds
    )
    limits = device_limits(device)
    candidate = file_candidate(directory / "model_new.py")
    dtypes = [parse_dtype(d) for d in settings.dtypes] if settings.dtypes else problem.dtypes
    records = []
    for shape in problem.shapes(("bench",)):
        for dtype in dtypes:
            record = bench_case(problem, shape, dtype, candidate, baselines, config, limits)
            records.append(
                {
                    "shape": shape.name,
                    "dtype": str(dtype).replace("torch.", ""),
                    "status": record.status,
                    "why": record.why,
                    "candidate_ms": record.candidate.median_ms if record.candidate else None,
                    "baselines_ms": {k: m.median_ms for k, m in record.baselines.items()},
                    "sol_ms": record.sol_ms,
                    "flags": record.flags,
                }
            )
            if record.status != "ok":
                return StageResult(
                    "", "fail", f"{shape.name} {dtype}: {record.why}", details={"records": records}
                )
    return StageResult(
        "",
        "pass",
        f"{len(records)} timed cases",
        details={"records": records, "device": settings.device},
    )


def evaluate(candidate_dir: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Run the stages on the candidate stored at ``candidate_dir``; returns
    ``{"candidate": id, "stages": [StageResult as dict, ...], "passed": bool}``."""
    options = Settings(**settings)
    directory = Path(candidate_dir)
    store = RunStore(directory.parent.parent)
    candidate = store.load(directory.name)
    spec = _spec(candidate.op)
    results: list[StageResult] = []

    def run(stage: str, action) -> bool:
        start = time.monotonic()
        try:
            result = action()
        except Exception as error:  # a stage that raises fails the candidate, with why
            result = StageResult(stage, "fail", f"{type(error).__name__}: {error}")
        result.stage = stage
        result.seconds = round(time.monotonic() - start, 3)
        results.append(result)
        return result.status != "fail"

    def contract() -> StageResult:
        problems = contract_problems(spec, candidate) + screen(candidate.metal)
        if problems:
            return StageResult("", "fail", "; ".join(problems))
        return StageResult("", "pass")

    def compile_stage() -> StageResult:
        done = run_step("compile", directory, options.limits, options.compile_timeout)
        return StageResult("", "pass" if done.ok else "fail", done.why)

    def profile() -> StageResult:
        if not options.profile:
            return StageResult("", "skip", "not asked for")
        done = run_step("profile", directory, options.limits, options.compile_timeout)
        # Feedback only: a profile that fails is reported, it does not reject a kernel the
        # harness has passed.
        return StageResult("", "pass" if done.ok else "skip", done.why, details=done.reply)

    def device() -> StageResult:
        if options.device == "cpu":
            return StageResult("", "skip", "no GPU here: correctness-only (simulator)")
        return _verify(directory, options, options.device, ("check", "bench"))

    def benchmark() -> StageResult:
        if options.device == "cpu":
            return StageResult("", "skip", "no GPU here: nothing to time")
        return _benchmark(directory, options)

    stages = {
        "contract": contract,
        "compile": compile_stage,
        "simulator": lambda: _verify(directory, options, "cpu", options.shape_kinds),
        "profile": profile,
        "device": device,
        "benchmark": benchmark,
    }
    for stage in STAGES:
        if not run(stage, stages[stage]):
            break
    passed = all(r.status != "fail" for r in results) and len(results) == len(STAGES)
    return {
        "candidate": candidate.id,
        "stages": [asdict(r) for r in results],
        "passed": passed,
    }
