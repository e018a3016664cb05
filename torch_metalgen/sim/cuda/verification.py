"""The verifier's rules on the GPU at full problem sizes, with the project's Metal kernels
running through the CUDA back end.

- ``verify_suite``: every suite problem a project op solves, through
  ``torch_metalgen.verify.verify_problem`` (float64 CPU references, eager bar, poison,
  determinism, inputs unchanged, distributions, check, held-out and bench shapes) with a
  candidate that runs ``ModelMetalgen`` under ``sim.cuda.enable()``: the variant each plan
  picks.
- ``variant``: the same with a forced kernel variant, on the shapes where the plan would pick
  another one (a shape the variant cannot run is a skip), so every kernel meets the rules at
  full size, not only the plan's choice.
- ``repeat_runs``: each bench shape run many times on the same inputs, outputs compared bit
  for bit: real concurrency on the GPU moves the result of a race.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import torch

from torch_metalgen.problems import Candidate, Problem, find_problems, solved_by_project_ops
from torch_metalgen.verify.candidate_side import SKIP, Rejected
from torch_metalgen.verify.runner import ProblemReport, VerifyConfig, to_device, verify_problem

from ...op_calls import NAMESPACE, schema_arguments
from ..mode import _planner
from .mode import VariantNotApplicable, enable


def suite_problems() -> list[Problem]:
    """Suite problems whose METALGEN_OPS are all registered now (new ops join by themselves)."""
    return solved_by_project_ops(find_problems(levels=[1, 2, 3]))[0]


class _AlternativeVariant(enable):
    """enable(variant=v) that refuses (skips) calls where v is what the plan picks anyway:
    those were verified with the plan's choice."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == NAMESPACE:
            values = schema_arguments(func, args, kwargs or {})
            planner = _planner(func._schema.name.split("::", 1)[1])
            chosen, _ = planner(*values)
            try:
                forced, _ = planner(*values, variant=self.variant)
            except ValueError:
                forced = None  # the base class reports the variant as not applicable
            if forced is not None and [p.kernel for p in chosen] == [p.kernel for p in forced]:
                raise VariantNotApplicable(
                    f"variant {self.variant} is the plan's own choice here (verified there)"
                )
        return super().__torch_dispatch__(func, types, args, kwargs)


@contextlib.contextmanager
def _skipping(mode: enable, launches: list[str]):
    """The candidate's context: the mode, with an inapplicable variant as a skipped case."""
    try:
        with mode:
            yield
    except VariantNotApplicable as error:
        raise Rejected("variant", str(error), status=SKIP) from None
    finally:
        launches.extend(mode.launches)


@dataclass
class CudaCandidate:
    candidate: Candidate
    launches: list[str] = field(default_factory=list)  # every kernel the candidate ran


def cuda_candidate(variant: str | None = None, alternatives_only: bool = False) -> CudaCandidate:
    """The problem file's ModelMetalgen under sim.cuda.enable (optionally a forced variant)."""
    launches: list[str] = []

    def build(problem: Problem, reference: torch.nn.Module, init: list) -> torch.nn.Module:
        if problem.metalgen_class is None:
            raise LookupError(f"problem {problem.name} defines no ModelMetalgen")
        return problem.metalgen_class(*init)

    def context():
        mode = (_AlternativeVariant if alternatives_only else enable)(variant=variant)
        return _skipping(mode, launches)

    name = "metalgen[cuda]" + (f"[{variant}]" if variant else "")
    return CudaCandidate(Candidate(name, "metalgen", build, context), launches)


def verify_suite(
    problems: list[Problem],
    variant: str | None = None,
    shape_kinds=("check", "held-out", "bench"),
    distributions=None,
    seed: int = 0,
    progress=print,
    on_report=None,
) -> tuple[list[ProblemReport], list[str]]:
    """(reports, kernels launched) of every problem under the verifier on CUDA."""
    device = torch.device("cuda")
    wrapped = cuda_candidate(variant, alternatives_only=variant is not None)
    reports = []
    for problem in problems:
        started = time.perf_counter()
        config = VerifyConfig(
            device=device,
            shape_kinds=tuple(shape_kinds),
            distributions=distributions,
            seed=seed,
            stop_at_first_failure=False,
        )
        report = verify_problem(problem, wrapped.candidate, config)
        reports.append(report)
        if on_report is not None:  # partial results survive a run cut short
            on_report(reports, wrapped.launches)
        counts = {}
        for case in report.cases:
            counts[case.status] = counts.get(case.status, 0) + 1
        progress(
            f"verify {problem.name} [{variant or 'plan'}]: {report.status} {counts} "
            f"({time.perf_counter() - started:.1f} s)"
        )
        for case in report.cases:
            if case.status not in ("pass", "skip"):
                progress(
                    f"  {case.status} {case.dtype} {case.shape} {case.distribution}: "
                    f"[{case.rule}] {case.reason}"
                )
    return reports, wrapped.launches


@dataclass
class RepeatResult:
    problem: str
    shape: str
    dtype: str
    runs: int
    identical: bool
    kernels: list[str]
    detail: str = ""


def repeat_runs(
    problems: list[Problem], runs: int, seed: int = 0, progress=print
) -> list[RepeatResult]:
    """Each bench shape x dtype run `runs` times on the same inputs: every output must have
    the first run's bits (launches checked on the first and last run)."""
    device = torch.device("cuda")
    results = []
    for problem in problems:
        for shape in problem.shapes(("bench",)):
            for dtype in problem.dtypes:
                init = problem.init_inputs(shape, seed)
                model = problem.metalgen_class(*init).to(device, dtype).eval()
                inputs = [to_device(t, device, dtype) for t in problem.inputs(shape, seed + 1)]
                first, differing = None, []
                with torch.no_grad(), enable() as checked:
                    first = [t.clone() for t in _tensors(model(*inputs))]
                with torch.no_grad(), enable(check_unwritten=False, check=False):
                    for run in range(1, runs - 1):
                        out = _tensors(model(*inputs))
                        if not all(_same(a, b) for a, b in zip(first, out, strict=True)):
                            differing.append(run)
                with torch.no_grad(), enable():
                    last = _tensors(model(*inputs))
                if not all(_same(a, b) for a, b in zip(first, last, strict=True)):
                    differing.append(runs - 1)
                result = RepeatResult(
                    problem.name,
                    shape.name,
                    str(dtype).removeprefix("torch."),
                    runs,
                    not differing,
                    checked.launches,
                    f"runs {differing[:10]} differ from run 0" if differing else "",
                )
                results.append(result)
                progress(
                    f"repeat {problem.name} {shape.name} {result.dtype}: "
                    f"{'identical' if result.identical else result.detail} x{runs}"
                )
    return results


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _tensors(item)]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))
