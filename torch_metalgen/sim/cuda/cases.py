"""Every kernel x dtype x variant of every op, once, at the specs' sample sizes, on CUDA.

Driven by the generated registry (``OPS``: variants and dtypes, ``SAMPLES``: arguments that
fit every variant, ``REFERENCES``: float64 references), so a new op needs nothing here. Each
case follows the verification rules that fit a one-shot check: the candidate first, outputs
poisoned and checked for unwritten elements, a second run bit-for-bit equal to the first,
inputs unchanged, then the float64 reference and the one tolerance table. This is what the
compute-sanitizer sweep runs (small, so racecheck and initcheck finish in seconds) and what
the pytest tier checks.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS
from torch_metalgen._generated.samples import SAMPLES
from torch_metalgen.tolerances import float64_inputs, mismatch

from .plan import run_plan


@dataclass(frozen=True)
class Case:
    op: str
    variant: str
    dtype: str

    @property
    def name(self) -> str:
        return f"{self.op}/{self.variant}/{self.dtype}"


@dataclass
class Outcome:
    case: Case
    status: str  # "pass", "FAIL", "skip"
    kernels: list[str]
    reason: str = ""


def all_cases(ops=None) -> list[Case]:
    return [
        Case(op, variant, dtype)
        for op, info in OPS.items()
        if ops is None or op in ops
        for variant in info["variants"]
        for dtype in info["dtypes"]
    ]


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _on(device: torch.device, args: tuple) -> tuple:
    return tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(
        a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8)
    )


def sample_arguments(case: Case, seed: int = 0) -> tuple:
    """The spec's sample arguments for this case's dtype, on the CPU."""
    return SAMPLES[case.op](getattr(torch, case.dtype), torch.Generator().manual_seed(seed))


def expected_outputs(op: str, cpu_args) -> tuple:
    """The float64 reference's outputs for these arguments (integer tensors kept as they are)."""
    return _as_tuple(REFERENCES[op](*float64_inputs(cpu_args)))


def run_case(case: Case, seed: int = 0, source_dir=None) -> Outcome:
    """One case on the current CUDA device (see the module docstring)."""
    device = torch.device("cuda", torch.cuda.current_device())
    cpu_args = sample_arguments(case, seed)
    plan_function = getattr(_ops._C, f"plan_{case.op}")
    results, kernels = [], []
    for _ in range(2):
        args = _on(device, cpu_args)
        clones = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
        try:
            plans, outputs = plan_function(*args, variant=case.variant)
        except ValueError as error:  # the samples do not fit this variant
            return Outcome(case, "skip", [], f"not plannable: {error}")
        run_plan(plans, source_dir=source_dir)
        kernels = [plan.kernel for plan in plans]
        for index, (now, before) in enumerate(zip(args, clones, strict=True)):
            if isinstance(now, torch.Tensor) and not _same_bits(now, before):
                return Outcome(case, "FAIL", kernels, f"input {index} was modified")
        results.append([t.detach().clone() for t in _as_tuple(outputs)])
    for first, second in zip(*results, strict=True):
        if not _same_bits(first, second):
            return Outcome(case, "FAIL", kernels, "two runs on the same inputs differ")
    problems = [
        mismatch(actual.cpu(), reference)
        for actual, reference in zip(results[0], expected_outputs(case.op, cpu_args), strict=True)
    ]
    problem = "; ".join(p for p in problems if p)
    return Outcome(case, "FAIL" if problem else "pass", kernels, problem)


def run_all(cases: list[Case], source_dir=None) -> list[Outcome]:
    outcomes = []
    for case in cases:
        try:
            outcome = run_case(case, source_dir=source_dir)
        except Exception as error:  # a refused launch, a driver error: a failed case
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            outcome = Outcome(case, "FAIL", [], detail[:2000])
        outcomes.append(outcome)
        print(
            f"{outcome.status:<4} {case.name:<36} {'+'.join(outcome.kernels)} {outcome.reason}",
            flush=True,
        )
    return outcomes


def write(outcomes: list[Outcome], path: Path) -> None:
    path.write_text(json.dumps([{**asdict(o), "case": asdict(o.case)} for o in outcomes], indent=1))
