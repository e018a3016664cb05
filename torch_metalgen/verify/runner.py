"""Verify one candidate against one problem: every rule of verification.md (1-11) per case.

A case is (storage dtype, shape, input distribution). Per case, in this order:
  1. the candidate runs FIRST (rule 7), twice, under two different poisons (NaN, then a
     finite sentinel) of free device memory and of every ``empty`` allocation; each output is
     snapshotted right after a current-stream synchronize;
  2. then the device is synchronized fully: an output that changed since its snapshot was
     still being written (skipped synchronize, other stream, background thread);
  3. the two snapshots must agree bit for bit: where they differ and hold a poison, elements
     were never written; elsewhere the kernel is nondeterministic (rule 9);
  4. inputs must be bit-identical to their clones (rule 8); the precision flags unchanged (11);
  5. only now PyTorch eager runs in the storage dtype, and the float64 reference on CPU (1);
  6. degenerate outputs (4), then per-dtype tolerance and relative norm, within the stated
     factor of eager's own error, capped at a multiple of the tolerance (1, 2); near-constant
     references reject the problem (3).
Steps 1, 2 and 4 are the candidate's half (``candidate_side.py``). For an untrusted candidate
(a file) they run in a worker process (``worker.py``) and this process, which never imports
the candidate, computes the references and judges the returned snapshots; a case passes only
if it reported its error metrics. Each rule can be switched off in ``VerifyConfig``; the
self-tests show a known-bad kernel passes once its rule is off, so every rule is load-bearing.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from torch_metalgen.problems import Candidate, Problem, Shape
from torch_metalgen.verify import compare
from torch_metalgen.verify.candidate_side import (
    BAD_PROBLEM,
    FAIL,
    PASS,
    SKIP,
    CandidateChecks,
    Rejected,
    as_tensors,
    call,
    run_candidate_twice,
)
from torch_metalgen.verify.device import (
    INT_POISON,
    POISON_VALUES,
    empty_cache,
    strict_float32,
    synchronize,
)
from torch_metalgen.verify.distributions import NATIVE, all_distributions, refill
from torch_metalgen.verify.limits import ResourceLimits
from torch_metalgen.verify.tolerances import (
    EAGER_BAR_CAP,
    EAGER_FACTOR,
    Tolerance,
    tolerance_for,
)
from torch_metalgen.verify.worker import CandidateWorker, WorkerError, shape_message

__all__ = ["BAD_PROBLEM", "FAIL", "PASS", "SKIP", "Rejected", "as_tensors"]


@dataclass
class VerifyConfig:
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtypes: tuple[torch.dtype, ...] | None = None  # None: the problem's DTYPES
    shape_kinds: tuple[str, ...] = ("check", "held-out", "bench")
    shape_names: tuple[str, ...] | None = None  # None: all of shape_kinds
    distributions: tuple[str, ...] | None = None  # None: all (inf/NaN where defined)
    max_numel: int | None = None  # skip shapes with more input elements (the simulator)
    all_distributions_numel: int = 1 << 22  # above: only native + normal (time)
    seed: int = 0
    eager_factor: float = EAGER_FACTOR
    tolerance: Tolerance | None = None  # None: per-dtype table
    stop_at_first_failure: bool = True
    # Rules: each can be switched off so the self-tests prove it is needed.
    candidate_first: bool = True
    poison: bool = True
    async_check: bool = True
    check_inputs: bool = True
    determinism: bool = True
    degenerate: bool = True
    near_constant: bool = True
    eager_bar: bool = True
    regime_check: bool = True
    randomize_weights: bool = True
    strict_float32: bool = True
    # Untrusted (file) candidates run in a worker process; off only to show what it prevents.
    isolate: bool = True
    case_timeout: float = 600.0  # seconds a worker may take for one case
    worker_limits: ResourceLimits | None = None  # rlimits of the worker process (the search)

    @property
    def candidate_checks(self) -> CandidateChecks:
        return CandidateChecks(self.poison, self.async_check, self.check_inputs, self.regime_check)

    def without(self, *rules: str) -> VerifyConfig:
        return replace(self, **{rule: False for rule in rules})


@dataclass
class CaseResult:
    problem: str
    candidate: str
    dtype: str
    shape: str
    shape_kind: str
    distribution: str
    status: str
    rule: str = ""
    reason: str = ""
    max_scaled: float | None = None
    rel_norm: float | None = None
    eager_max_scaled: float | None = None
    eager_rel_norm: float | None = None
    seconds: float = 0.0
    # Bytes the candidate's simulated Metal kernels moved per run / compulsory bytes (inputs,
    # parameters and outputs once); None when no kernel ran in the simulator here.
    traffic: float | None = None


@dataclass
class ProblemReport:
    problem: str
    candidate: str
    cases: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {c.status for c in self.cases}
        for status in (FAIL, BAD_PROBLEM, PASS):
            if status in statuses:
                return status
        return SKIP

    @property
    def first_failure(self) -> CaseResult | None:
        return next((c for c in self.cases if c.status in (FAIL, BAD_PROBLEM)), None)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def verified(self) -> int:
        """Cases that passed with their error metrics: zero means nothing was checked."""
        return sum(c.status == PASS and c.rel_norm is not None for c in self.cases)


def to_device(value: Any, device: torch.device, dtype: torch.dtype | None) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    if dtype is not None and value.dtype.is_floating_point:
        value = value.to(dtype)
    return value.to(device)


def randomize_constant_parameters(model: torch.nn.Module, seed: int) -> list[str]:
    """Rule 10: parameters initialized to a constant (norm weights of ones, zero biases) are
    redrawn around that constant, so a kernel that ignores them cannot pass."""
    gen = torch.Generator().manual_seed(seed + 7919)
    changed = []
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not param.dtype.is_floating_point or param.numel() < 2:
                continue
            flat = param.detach().flatten()
            if bool((flat == flat[0]).all()):
                noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
                param.copy_((flat[0].float() + 0.5 * noise).to(param.dtype))
                changed.append(name)
    return changed


def _input_numel(inputs: list) -> int:
    return sum(t.numel() for t in inputs if isinstance(t, torch.Tensor))


def verify_problem(
    problem: Problem,
    candidate: Candidate,
    config: VerifyConfig,
    progress: Callable[[CaseResult], None] | None = None,
    worker: CandidateWorker | None = None,
) -> ProblemReport:
    """Run every case of ``problem`` for ``candidate``; see the module docstring. An
    untrusted candidate runs in ``worker`` (started here, and stopped after, when None)."""
    report = ProblemReport(problem.name, candidate.name)
    cases = list(_cases(problem, config, report))
    own_worker = None
    if not (candidate.isolated and config.isolate):
        worker = None
    elif worker is None and cases:
        worker = own_worker = CandidateWorker(
            problem, candidate, config.device, config.worker_limits
        )
        worker.start(wait=False)  # it imports torch while this process builds references
    models = _Models(problem, candidate, config, report, worker)
    context = strict_float32() if config.strict_float32 else contextlib.nullcontext()
    try:
        with context, torch.no_grad():
            for case in cases:
                result = _run_case(problem, candidate, config, models, *case)
                report.cases.append(result)
                if progress:
                    progress(result)
                if result.status in (FAIL, BAD_PROBLEM) and config.stop_at_first_failure:
                    break
    finally:
        if own_worker is not None:
            own_worker.__exit__(None, None, None)
    notes = candidate.notes + (worker.notes if worker is not None else [])
    report.notes += [n for n in notes if n not in report.notes]
    return report


def _cases(problem: Problem, config: VerifyConfig, report: ProblemReport):
    shapes = problem.shapes(config.shape_kinds)
    if config.shape_names is not None:
        shapes = [s for s in shapes if s.name in config.shape_names]
    if not shapes:
        report.notes.append(f"no shapes of kinds {config.shape_kinds} selected")
    dtypes = config.dtypes or problem.dtypes
    for dtype in dtypes:
        if dtype not in problem.dtypes:
            names = ", ".join(str(d).replace("torch.", "") for d in problem.dtypes)
            report.notes.append(f"{dtype} skipped: not in the problem's DTYPES ({names})")
    for shape in shapes:
        if shape.derived:
            why = _unfit_derived_shape(problem, shape, config.seed)
            if why:
                report.notes.append(f"derived shape {shape.name} {shape.overrides} skipped: {why}")
                continue
        numel = _input_numel(problem.inputs(shape, config.seed + 1))
        if config.max_numel is not None and numel > config.max_numel:
            report.notes.append(
                f"shape {shape.name} skipped: {numel:,} input elements is over "
                f"the cap of {config.max_numel:,} (simulator)"
            )
            continue
        dists = config.distributions or all_distributions(problem.nonfinite_inputs)
        if config.distributions is None and numel > config.all_distributions_numel:
            dists = (NATIVE, "normal")
        for dtype in dtypes:
            if dtype in problem.dtypes:
                for dist in dists:
                    yield shape, dtype, dist


def _unfit_derived_shape(problem: Problem, shape: Shape, seed: int) -> str | None:
    """Why Model itself cannot run at a shape the harness derived (sizes that must divide
    or match each other), or None. Such a shape says nothing about the candidate."""
    try:
        init = problem.init_inputs(shape, seed)
        model = problem.new_model(init, seed).eval()
        with torch.no_grad():
            as_tensors(model(*problem.inputs(shape, seed + 1)))
    except Exception as error:
        return f"Model raised {type(error).__name__}: {str(error).strip()[:200]}"
    return None


class _Models:
    """The float64 reference, eager and candidate models of one shape x dtype, built once
    for all of its distributions; building the next pair drops the last (models can be large).
    An isolated candidate is built in its worker instead (``built`` is None here)."""

    def __init__(
        self,
        problem: Problem,
        candidate: Candidate,
        config: VerifyConfig,
        report: ProblemReport,
        worker: CandidateWorker | None,
    ) -> None:
        self.problem, self.candidate, self.config, self.report = problem, candidate, config, report
        self.worker = worker
        self.key: tuple | None = None
        self.models: tuple = ()

    def get(self, shape: Shape, dtype: torch.dtype) -> tuple:
        if self.key != (shape.name, dtype):
            self.models = ()  # free the previous shape's models before building these
            self.models = self._build(shape, dtype)
            self.key = (shape.name, dtype)
        return self.models

    def _build(self, shape: Shape, dtype: torch.dtype) -> tuple:
        problem, config, report = self.problem, self.config, self.report
        init = problem.init_inputs(shape, config.seed)
        model = problem.new_model(init, config.seed)
        if config.randomize_weights:
            changed = randomize_constant_parameters(model, config.seed)
            if changed:
                note = f"constant-initialized parameters redrawn: {', '.join(changed)}"
                if note not in report.notes:
                    report.notes.append(note)
        model64 = copy.deepcopy(model).to(torch.float64).eval()
        eager = copy.deepcopy(model).to(config.device, dtype).eval()
        built = None
        if self.worker is None:
            built = self.candidate.build(problem, model, init, config.seed)
            if isinstance(built, torch.nn.Module):
                built = built.to(config.device, dtype).eval()
        return model64, eager, built


def _run_case(
    problem: Problem,
    candidate: Candidate,
    config: VerifyConfig,
    models: _Models,
    shape: Shape,
    dtype: torch.dtype,
    dist: str,
) -> CaseResult:
    result = CaseResult(
        problem.name,
        candidate.name,
        str(dtype).replace("torch.", ""),
        shape.name,
        shape.kind,
        dist,
        PASS,
    )
    start = time.perf_counter()
    try:
        _check_case(problem, candidate, config, models, shape, dtype, dist, result)
        if result.status == PASS and (result.max_scaled is None or result.rel_norm is None):
            raise Rejected(
                "metrics",
                "the case reported no error metrics: the comparison with the references "
                "did not run to completion, so nothing was verified",
            )
    except Rejected as rejection:
        result.status, result.rule, result.reason = (
            rejection.status,
            rejection.rule,
            rejection.reason,
        )
    except WorkerError as error:
        result.status, result.rule, result.reason = FAIL, "worker", str(error)[:500]
    except Exception as error:  # the candidate (or simulator) raised: a failure with its text
        kind = type(error).__name__
        rule = "simulator" if "Simulator" in kind else "exception"
        result.status, result.rule = FAIL, rule
        result.reason = f"{kind}: {str(error).strip().splitlines()[0][:300] if str(error) else ''}"
    result.seconds = time.perf_counter() - start
    return result


def _call(
    model,
    inputs: list,
    candidate: Candidate | None,
    device: torch.device,
    poison: float | None,
    sizes: list[int],
    use_poison: bool,
) -> list[torch.Tensor]:
    context = candidate.context() if candidate is not None else contextlib.nullcontext()
    dispatch = candidate.dispatch_poison if candidate is not None else True
    return call(model, inputs, context, dispatch, device, poison if use_poison else None, sizes)


def _check_case(
    problem: Problem,
    candidate: Candidate,
    config: VerifyConfig,
    models: _Models,
    shape: Shape,
    dtype: torch.dtype,
    dist: str,
    result: CaseResult,
) -> None:
    device = config.device
    model64, eager, built = models.get(shape, dtype)
    empty_cache(device)
    seed = config.seed + 1
    raw = refill(problem.inputs(shape, seed), dist, seed + 17, problem.randomized_inputs)
    inputs = [to_device(t, device, dtype) for t in raw]
    inputs64 = [
        t.detach().cpu().to(torch.float64)
        if isinstance(t, torch.Tensor) and t.dtype.is_floating_point
        else (t.cpu() if isinstance(t, torch.Tensor) else t)
        for t in inputs
    ]
    sizes = [t.numel() * t.element_size() for t in inputs if isinstance(t, torch.Tensor)]
    references: dict[str, list] = {}

    def run_references() -> None:
        references["eager"] = _call(eager, inputs, None, device, None, sizes, False)
        references["ref"] = as_tensors(model64(*inputs64))

    if models.worker is not None:
        snap_a, snap_b = _candidate_in_worker(
            models.worker, shape, dtype, inputs, config, run_references
        )
    else:
        if not config.candidate_first:
            run_references()
            synchronize(device)
            if device.type != "cpu":
                references.pop("eager")
                empty_cache(device)  # frees the reference outputs where a kernel could read them
        with _recorded_launches() as launches:
            snap_a, snap_b = run_candidate_twice(
                built,
                inputs,
                device,
                config.candidate_checks,
                candidate.context,
                candidate.dispatch_poison,
                between=run_references if config.candidate_first else None,
            )
        result.traffic = _traffic_ratio(launches, runs=2, built=built, tensors=[*inputs, *snap_a])
    if "eager" not in references:  # candidate_first off on a GPU: eager re-run for its error
        references["eager"] = _call(eager, inputs, None, device, None, sizes, False)
    check_outputs(
        problem,
        config,
        result,
        dist,
        dtype,
        inputs,
        snap_a,
        snap_b,
        references["eager"],
        references["ref"],
    )


@contextlib.contextmanager
def _recorded_launches():
    """The simulator's launches in the block (an empty list without the simulator)."""
    try:
        from torch_metalgen.sim.traffic import record_launches
    except ImportError:
        yield []
        return
    with record_launches() as launches:
        yield launches


def _traffic_ratio(launches, runs: int, built, tensors: list) -> float | None:
    """Bytes moved per run over compulsory bytes (the tensors and the module's parameters
    and buffers, each once)."""
    if not launches:
        return None
    from torch_metalgen.sim.traffic import bytes_moved, tensor_bytes

    state = []
    if isinstance(built, torch.nn.Module):
        state = [*built.parameters(), *built.buffers()]
    compulsory = tensor_bytes([t for t in [*tensors, *state] if isinstance(t, torch.Tensor)])
    return bytes_moved(launches) / runs / compulsory if compulsory else None


def _candidate_in_worker(
    worker: CandidateWorker,
    shape: Shape,
    dtype: torch.dtype,
    inputs: list,
    config: VerifyConfig,
    run_references: Callable[[], None],
) -> tuple[list, list]:
    """The candidate's half of a case in its worker, while the references run here."""
    checks = config.candidate_checks
    worker.send(
        {
            "op": "case",
            "shape": shape_message(shape),
            "dtype": str(dtype).replace("torch.", ""),
            "seed": config.seed,
            "randomize_weights": config.randomize_weights,
            "inputs": [t.detach().cpu() if isinstance(t, torch.Tensor) else t for t in inputs],
            "checks": {
                "poison": checks.poison,
                "async_check": checks.async_check,
                "check_inputs": checks.check_inputs,
                "regime_check": checks.regime_check,
            },
        }
    )
    run_references()  # meanwhile, in this process: the worker never sees these
    reply = worker.receive(config.case_timeout)
    if reply.get("rejected"):
        rule, reason, status = (list(reply["rejected"]) + ["", "", FAIL])[:3]
        raise Rejected(str(rule), str(reason), status if status in (FAIL, SKIP) else FAIL)
    if reply.get("error"):
        kind, text = (list(reply["error"]) + ["Error", ""])[:2]
        rule = "simulator" if "Simulator" in str(kind) else "exception"
        raise Rejected(rule, f"{kind}: {text}"[:400])
    snaps = reply.get("a"), reply.get("b")
    if not all(isinstance(s, list) and all(isinstance(t, torch.Tensor) for t in s) for s in snaps):
        raise WorkerError("malformed reply: no output tensors")
    return snaps


def _holds_poison(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elements that hold poison A in run A or poison B (as stored in b's dtype) in run B."""
    if a.dtype.is_floating_point:
        poison_b = torch.tensor(POISON_VALUES[1]).to(b.dtype)
        return torch.isnan(a) | compare.bit_differences(b, poison_b.expand_as(b)).logical_not()
    return (a == INT_POISON) | (b == INT_POISON)


def check_outputs(
    problem: Problem,
    config: VerifyConfig,
    result: CaseResult,
    dist: str,
    dtype: torch.dtype,
    inputs: list,
    snap_a: list,
    snap_b: list,
    eager_out: list,
    ref: list,
) -> None:
    if len(snap_a) != len(ref):
        raise Rejected(
            "output", f"candidate returned {len(snap_a)} tensors, Model returns {len(ref)}"
        )
    tol = config.tolerance or tolerance_for(dtype)
    for index, (a, b, e, r) in enumerate(zip(snap_a, snap_b, eager_out, ref, strict=False)):
        where = f"output {index}" if len(ref) > 1 else "output"
        if a.shape != r.shape or a.dtype != e.dtype:
            raise Rejected(
                "output",
                f"{where} is {tuple(a.shape)} {a.dtype}; Model gives {tuple(r.shape)} {e.dtype}",
            )
        if r.dtype != torch.float64 and r.dtype.is_floating_point:
            note = (
                f"reference computed in {r.dtype}, not float64: Model casts internally; "
                "the float64 bar is only as good as that"
            )
            result.reason = result.reason or note
        differs = compare.bit_differences(a, b).cpu()
        if config.poison and bool(differs.any()):
            unwritten = differs & _holds_poison(a.cpu(), b.cpu())
            if bool(unwritten.any()):
                raise Rejected(
                    "unwritten",
                    f"{where}: {int(unwritten.sum())} of {a.numel()} "
                    "elements were never written (they hold the poison); write "
                    "every element, do not rely on what memory held",
                )
        if config.determinism and bool(differs.any()):
            if problem.nondeterministic_reason is None:
                raise Rejected(
                    "determinism",
                    f"{where}: two runs on the same inputs differ "
                    f"in {int(differs.sum())} elements; make reductions ordered, "
                    "or declare NONDETERMINISTIC = '<why>' in the problem",
                )
        if config.near_constant and dist == NATIVE:
            why = compare.near_constant(r, tol.atol)
            if why:
                status = SKIP if problem.declared_near_constant else BAD_PROBLEM
                raise Rejected(
                    "near-constant",
                    f"problem rejected: {why}; change its inputs "
                    "or shapes so outputs vary (METR filter)",
                    status,
                )
        storage_overflow = compare.errors(e, r, tol.atol, tol.rtol).nonfinite_mismatch
        if float(storage_overflow.double().mean()) > 0.5:
            raise Rejected(
                "overflow",
                f"{where}: PyTorch eager in {result.dtype} gives inf/NaN "
                f"for {int(storage_overflow.sum())} of {r.numel()} finite reference "
                "elements: this input distribution overflows the storage dtype",
                SKIP,
            )
        # (unless eager in the storage dtype is just as degenerate: e.g. bf16 rounds outputs
        # of 1e7 +- 4e3 all to one value; then the tolerance check below decides)
        if config.degenerate and not compare.degenerate(e, r, inputs):
            why = compare.degenerate(a, r, inputs)
            if why:
                raise Rejected("degenerate", f"{where}: {why}")
        atol = compare.effective_atol(r, tol.atol) if tol.scale_atol else tol.atol
        cand = compare.errors(a, r, atol, tol.rtol)
        eag = compare.errors(e, r, atol, tol.rtol)
        result.max_scaled, result.rel_norm = cand.max_scaled, cand.rel_norm
        result.eager_max_scaled, result.eager_rel_norm = eag.max_scaled, eag.rel_norm
        factor = config.eager_factor if config.eager_bar else 0.0
        allowed_scaled = max(1.0, factor * eag.max_scaled)
        # Eager's own error grows with size (fp32 sums over millions of elements); the bar
        # follows it only up to EAGER_BAR_CAP x the tolerance, or rounding the inputs to a
        # lower precision would pass wherever eager happens to be inaccurate.
        norm_cap = EAGER_BAR_CAP * tol.rel_norm
        allowed_norm = max(tol.rel_norm, min(factor * eag.rel_norm, norm_cap))
        extra_nonfinite = (
            cand.nonfinite_mismatch & ~eag.nonfinite_mismatch
            if config.eager_bar
            else cand.nonfinite_mismatch
        )
        if bool(extra_nonfinite.any()):
            raise Rejected(
                "tolerance",
                f"{where}: {int(extra_nonfinite.sum())} elements are "
                "NaN/inf where the float64 reference is not (or the reverse), and "
                "PyTorch eager gets them right",
            )
        if (
            cand.rel_norm > allowed_norm
            and eag.rel_norm > norm_cap
            and cand.max_scaled <= allowed_scaled
            and cand.rel_norm <= factor * eag.rel_norm
        ):
            raise Rejected(
                "eager-accuracy",
                f"{where}: problem rejected at this size: PyTorch eager in {result.dtype} is "
                f"itself {eag.rel_norm:.3g} off in relative norm, over the cap of "
                f"{EAGER_BAR_CAP:g}x the tolerance ({norm_cap:.3g}), and the candidate "
                f"({cand.rel_norm:.3g}) is within {factor:g}x of that: here the dtype cannot "
                "tell a correct kernel from one that rounds its inputs to a lower precision; "
                "verify at a smaller size",
                BAD_PROBLEM,
            )
        if cand.max_scaled > allowed_scaled or cand.rel_norm > allowed_norm:
            failed = []
            if cand.max_scaled > allowed_scaled:
                failed.append(f"elementwise ({cand.max_scaled:.3g} > {allowed_scaled:.3g})")
            if cand.rel_norm > allowed_norm:
                failed.append(f"relative norm ({cand.rel_norm:.3g} > {allowed_norm:.3g})")
            capped = (
                f"; eager's own relative norm is beyond the cap of {EAGER_BAR_CAP:g}x the "
                f"tolerance ({norm_cap:.3g}): at this size {result.dtype} eager itself is "
                "not accurate enough to follow"
                if factor * eag.rel_norm > norm_cap
                else ""
            )
            raise Rejected(
                "tolerance",
                f"{where}: {' and '.join(failed)} bound failed. Max error "
                f"{cand.max_scaled:.3g}x the tolerance ({tol.describe()}, atol used "
                f"{atol:.3g}), relative norm {cand.rel_norm:.3g}; PyTorch eager in "
                f"{result.dtype} gets {eag.max_scaled:.3g}x and {eag.rel_norm:.3g}, the bar "
                f"is {factor:g}x that or the tolerance{capped}",
            )
