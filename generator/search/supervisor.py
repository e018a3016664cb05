"""The supervisor: rounds of proposals, evaluations (cheapest stages first, in parallel
through an executor), feedback to the proposers, a resumable log, then the winner's full
verification and the tuning table.

Selection: where a GPU timed the candidates (``device`` "mps", or another device with a
registered launcher: "timed-<device>"), the winner is the verified candidate with the best
geometric-mean speedup over the current kernel across the problem's bench shapes and
dtypes (the incumbent stays unless one is faster). Without a GPU (Linux CI, a laptop
without MPS) the selection is correctness-only and says so: candidates are verified in the
simulator, none is timed, and the incumbent stays unless it fails verification (a
developer may ship another verified candidate with ``--select ID``).
"""

from __future__ import annotations

import datetime
import math
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from generator.model import OpSpec
from generator.search.candidate import Candidate, RunStore
from generator.search.evaluate import Settings, evaluate
from generator.search.executors import make_executor
from generator.search.log import SearchLog
from generator.search.plan import constants_of, contiguous_arguments, plan, sizes_of
from generator.search.proposers import Attempt, SearchContext, TemplateProposer
from generator.tuning_tables import (
    FORMAT,
    bucket_label,
    bucket_size_name,
    load_table,
    render_shipped_metal,
    table_path,
    tuned_spec,
    write_table,
)
from torch_metalgen.op_calls import CaptureCalls

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE = REPO_ROOT / "torch_metalgen" / "problems" / "suite"
CORRECTNESS_ONLY = (
    "correctness-only: no GPU on this machine, so candidates are verified in the simulator "
    "and none is timed; the incumbent stays unless it fails verification"
)


@dataclass
class SearchOptions:
    op: str
    proposers: tuple[str, ...] = ("template",)
    budget: int = 12  # candidates evaluated in all, earlier runs in the log included
    rounds: int = 3
    per_round: int | None = None  # new candidates per round (default: budget / rounds)
    run_dir: Path | None = None  # default build/search/<op>
    tuning_dir: Path | None = None  # default generator/tuning
    executor: str = "local"
    workers: int = 1
    ray_address: str | None = None
    device: str | None = None  # None: mps if present, else a registered GPU launcher, else cpu
    select: str = "auto"  # auto, incumbent, or a candidate id
    lm_config: Path | None = None
    dtypes: tuple[str, ...] | None = None
    distributions: tuple[str, ...] | None = ("normal", "offset100", "pareto")
    final_distributions: tuple[str, ...] | None = None  # None: all of them
    write_table: bool = True
    command: str = ""


@dataclass
class SearchResult:
    winner: Candidate | None
    incumbent: Candidate
    basis: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    table: Path | None = None
    log: Path | None = None


def find_problem(op: str) -> Path:
    """The suite problem whose ModelMetalgen is exactly this op."""
    for path in sorted(SUITE.glob("level*/*.py")):
        if re.search(rf"^METALGEN_OPS\s*=\s*\(\s*[\"']{op}[\"']\s*,?\s*\)", path.read_text(), re.M):
            return path
    raise ValueError(
        f"no problem in {SUITE} has METALGEN_OPS = ('{op}',): the search verifies and times "
        "an op through its problem file (docs/generator.md, step 5)"
    )


def detect_device(requested: str | None) -> str:
    from generator.search.kernel_mode import LAUNCHERS

    if requested:
        return requested
    if torch.backends.mps.is_available():
        return "mps"
    if torch.cuda.is_available() and "cuda" in LAUNCHERS:
        return "cuda"
    return "cpu"


def gpu_family(device: str) -> str:
    """'apple-m2-pro' on a Mac, 'cuda-<name>' on NVIDIA, 'none' without a GPU."""
    if device == "mps":
        from torch_metalgen.bench.speed_of_light import apple_chip_name

        name = apple_chip_name() or "unknown"
        return "apple-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if device.startswith("cuda"):
        return "cuda-" + re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name().lower())
    return "none"


def shape_buckets(spec: OpSpec, problem_path: Path, constants: dict, dtypes: list[str]) -> dict:
    """(shape name, dtype) -> (bucket label, variant the plan picks with ``constants``)."""
    from torch_metalgen import _ops
    from torch_metalgen.problems import load_problem
    from torch_metalgen.problems.problem import parse_dtype

    problem = load_problem(problem_path)
    found = {}
    size_name = bucket_size_name(spec)
    for shape in problem.shapes():
        for dtype_name in dtypes:
            dtype = parse_dtype(dtype_name)
            init = problem.init_inputs(shape, 0)
            model = problem.metalgen_class(*init).to(dtype)
            inputs = [
                t.to(dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() else t
                for t in problem.inputs(shape, 1)
            ]
            capture = CaptureCalls(spec.name)
            with capture, torch.no_grad():
                model(*inputs)
            if not capture.calls:
                continue
            values = contiguous_arguments(spec, tuple(capture.calls[0]))
            _, outputs = getattr(_ops._C, f"plan_{spec.name}")(*values)
            outs = outputs if isinstance(outputs, tuple) else (outputs,)
            launches = plan(spec, values, outs, constants)
            size = sizes_of(spec, values, outs, constants)[size_name]
            variant = launches[0].variant if launches else "(empty)"
            found[(shape.name, dtype_name)] = (bucket_label(spec, size), variant, shape.kind)
    return found


def _geomean(values: list[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def speedups(evaluation: dict[str, Any]) -> dict[str, float | None]:
    """Geomean speedup over each baseline across the timed records ({} if untimed)."""
    records = []
    for stage in evaluation.get("stages", []):
        if stage["stage"] == "benchmark" and stage["status"] == "pass":
            records = stage["details"].get("records", [])
    if not records:
        return {}
    names = {name for r in records for name in r["baselines_ms"]}
    return {
        name: _geomean(
            [
                r["baselines_ms"][name] / r["candidate_ms"]
                for r in records
                if name in r["baselines_ms"]
            ]
        )
        for name in sorted(names)
    }


def failed_stage(evaluation: dict[str, Any]) -> tuple[str, str]:
    if evaluation.get("error"):
        return "executor", evaluation["error"]
    for stage in evaluation.get("stages", []):
        if stage["status"] == "fail":
            return stage["stage"], stage["reason"]
    return "", ""


def feedback_of(evaluation: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for stage in evaluation.get("stages", []):
        if stage["stage"] == "profile" and stage["status"] == "pass":
            found["traffic"] = stage["details"].get("traffic", [])
        if stage["stage"] == "benchmark":
            found["timings"] = stage["details"].get("records", [])
    return found


class Supervisor:
    def __init__(self, options: SearchOptions, console=None):
        from rich.console import Console

        from generator.specs import all_specs

        self.options = options
        self.console = console or Console(width=max(140, Console().width))
        specs = {s.name: s for s in all_specs()}
        if options.op not in specs:
            raise ValueError(f"unknown op {options.op!r}; the specs define {sorted(specs)}")
        self.base_spec = specs[options.op]
        self.spec = tuned_spec(self.base_spec, options.tuning_dir)
        self.problem = find_problem(options.op)
        self.device = detect_device(options.device)
        self.run_dir = Path(options.run_dir or REPO_ROOT / "build" / "search" / options.op)
        self.store = RunStore(self.run_dir)
        self.log = SearchLog(self.run_dir / "log.jsonl")
        self.incumbent = Candidate(
            options.op,
            render_shipped_metal(self.base_spec, options.tuning_dir),
            constants_of(self.spec),
            {"proposer": "incumbent", "note": "the kernel the repository ships now"},
        )
        self.candidates: dict[str, Candidate] = {self.incumbent.id: self.incumbent}
        self.evaluations: dict[str, dict[str, Any]] = {}

    # --- settings -------------------------------------------------------------------------
    def settings(self, final: bool = False) -> dict[str, Any]:
        settings = Settings(
            problem=str(self.problem),
            device=self.device,
            dtypes=self.options.dtypes,
            distributions=self.options.final_distributions if final else self.options.distributions,
            shape_kinds=("check", "held-out") if final else ("check",),
            profile="lm" in self.options.proposers and not final,
        )
        return asdict(settings)

    @property
    def basis(self) -> str:
        return "correctness-only" if self.device == "cpu" else f"timed-{self.device.split(':')[0]}"

    def proposers(self) -> list:
        found = []
        for name in self.options.proposers:
            if name == "template":
                found.append(TemplateProposer())
            elif name == "lm":
                from generator.search.language_model import LanguageModelProposer, endpoints_from

                found.append(LanguageModelProposer(endpoints_from(self.options.lm_config)))
            else:
                raise ValueError(f"unknown proposer {name!r}; expected template or lm")
        return found

    # --- the loop -------------------------------------------------------------------------
    def resume(self) -> None:
        """Candidates and evaluations of earlier runs in this run directory."""
        evaluations = self.log.evaluations()
        for candidate_id in self.log.candidates():
            if self.store.directory(candidate_id).exists():
                self.candidates[candidate_id] = self.store.load(candidate_id)
        self.evaluations = {k: v for k, v in evaluations.items() if k in self.candidates}
        if self.evaluations:
            self.console.print(
                f"resuming from {self.log.path}: {len(self.evaluations)} candidates already "
                "evaluated are not evaluated again"
            )

    def context(self, round_number: int) -> SearchContext:
        attempts = []
        for candidate_id, evaluation in self.evaluations.items():
            stage, reason = failed_stage(evaluation)
            attempts.append(
                Attempt(
                    self.candidates[candidate_id],
                    bool(evaluation.get("passed")),
                    stage,
                    reason,
                    feedback_of(evaluation),
                )
            )
        return SearchContext(
            self.spec,
            self.problem,
            round_number,
            self.incumbent,
            self.best() or self.incumbent,
            attempts,
            set(self.candidates) - {self.incumbent.id} | set(self.evaluations),
            self.device,
            self.log.append,
        )

    def best(self) -> Candidate | None:
        """The verified candidate with the best speedup over the current kernel (timed), or
        the incumbent / first verified one (correctness-only)."""
        passed = [c for c, e in self.evaluations.items() if e.get("passed")]
        if not passed:
            return None
        if self.basis == "correctness-only":
            chosen = self.incumbent.id if self.incumbent.id in passed else passed[0]
            return self.candidates[chosen]
        scored = [(speedups(self.evaluations[c]).get("current") or 0.0, c) for c in passed]
        score, chosen = max(scored)
        if self.incumbent.id in passed and score <= (
            speedups(self.evaluations[self.incumbent.id]).get("current") or 1.0
        ):
            chosen = self.incumbent.id
        return self.candidates[chosen]

    def evaluate_all(self, candidates: list[Candidate], label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        jobs = []
        logged = set(self.log.candidates())
        for candidate in candidates:
            directory = self.store.save(candidate, self.problem)
            if candidate.id not in logged:
                self.log.append(
                    {"event": "candidate", "candidate": candidate.id, "origin": candidate.origin}
                )
            jobs.append((candidate.id, str(directory), self.settings()))
        executor = self.executor
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        ) as progress:
            task = progress.add_task(label, total=len(jobs))
            for candidate_id, result in executor.run(jobs):
                self.evaluations[candidate_id] = result
                self.log.append(
                    {"event": "evaluation", "candidate": candidate_id, "result": result}
                )
                stage, reason = failed_stage(result)
                candidate = self.candidates[candidate_id]
                verdict = (
                    "[green]correct[/]" if result.get("passed") else f"[red]failed at {stage}[/]"
                )
                short = reason.replace("\n", " ")[:160]
                progress.console.print(f"  {candidate.label}: {verdict} {short}")
                progress.advance(task)

    def run(self) -> SearchResult:
        options = self.options
        self.executor = make_executor(options.executor, options.workers, options.ray_address)
        try:
            return self._run()
        finally:
            self.executor.close()

    def _run(self) -> SearchResult:
        options = self.options
        self.resume()
        self.log.append(
            {
                "event": "start",
                "op": options.op,
                "command": options.command,
                "device": self.device,
                "basis": self.basis,
                "problem": str(self.problem),
                "incumbent": self.incumbent.id,
                "options": {k: str(v) for k, v in asdict(options).items()},
            }
        )
        if self.basis == "correctness-only":
            self.console.print(f"[bold yellow]Selection is {CORRECTNESS_ONLY}.[/]")
        else:
            self.console.print(f"Selection: timed on {self.device} ({gpu_family(self.device)}).")
        proposers = self.proposers()
        per_round = options.per_round or max(1, math.ceil(options.budget / max(1, options.rounds)))
        if self.incumbent.id not in self.evaluations:
            # The current kernel goes through the same stages first: the baseline every
            # candidate is compared with, and the default winner without timings.
            self.evaluate_all([self.incumbent], "the incumbent (current kernel)")
        pending = [c for c in self.candidates.values() if c.id not in self.evaluations]
        if pending:
            self.evaluate_all(pending, "unfinished candidates of the last run")
        for round_number in range(1, options.rounds + 1):
            left = options.budget - len(self.evaluations)
            if left <= 0:
                break
            context = self.context(round_number)
            proposals: list[Candidate] = []
            share = max(1, min(per_round, left) // max(1, len(proposers)))
            for proposer in proposers:
                room = min(per_round, left) - len(proposals)
                if room <= 0:
                    break
                made = proposer.propose(
                    context, min(room, share if proposer is not proposers[-1] else room)
                )
                for candidate in made:
                    if candidate.id not in self.evaluations and all(
                        candidate.id != p.id for p in proposals
                    ):
                        proposals.append(candidate)
                        context.seen.add(candidate.id)
            self.log.append(
                {"event": "round", "round": round_number, "proposed": [c.id for c in proposals]}
            )
            if not proposals:
                self.console.print(f"round {round_number}: nothing new to try")
                break
            for candidate in proposals:  # the incumbent keeps its name when re-proposed
                self.candidates.setdefault(candidate.id, candidate)
            self.evaluate_all(proposals, f"round {round_number}")
        return self.finish()

    # --- the end ----------------------------------------------------------------------------
    def choose(self) -> Candidate | None:
        select = self.options.select
        if select == "auto":
            return self.best()
        if select == "incumbent":
            return (
                self.incumbent
                if self.evaluations.get(self.incumbent.id, {}).get("passed")
                else None
            )
        if select not in self.candidates or not self.evaluations.get(select, {}).get("passed"):
            raise ValueError(
                f"--select {select}: no verified candidate with that id in {self.log.path}"
            )
        return self.candidates[select]

    def finish(self) -> SearchResult:
        winner = self.choose()
        final = None
        if winner is not None:
            self.console.print(
                f"final verification of {winner.label} (held-out shapes, all distributions)"
            )
            final = evaluate(str(self.store.directory(winner.id)), self.settings(final=True))
            self.log.append({"event": "final", "candidate": winner.id, "result": final})
            if not final.get("passed"):
                stage, reason = failed_stage(final)
                self.console.print(
                    f"[red]the winner failed its final verification at {stage}: {reason[:300]}"
                )
                winner = None
        table = None
        if winner is not None and self.options.write_table:
            table = self.write(winner, final)
        result = SearchResult(
            winner, self.incumbent, self.basis, self.rows(winner), table, self.log.path
        )
        self.print_summary(result)
        return result

    def rows(self, winner: Candidate | None) -> list[dict[str, Any]]:
        rows = []
        for candidate_id, evaluation in self.evaluations.items():
            candidate = self.candidates[candidate_id]
            stage, reason = failed_stage(evaluation)
            rows.append(
                {
                    "candidate": candidate.label,
                    "id": candidate_id,
                    "winner": winner is not None and candidate_id == winner.id,
                    "passed": bool(evaluation.get("passed")),
                    "stage": stage,
                    "reason": reason,
                    "speedups": speedups(evaluation),
                    "changes": candidate.origin.get("changes"),
                }
            )
        return rows

    def write(self, winner: Candidate, final: dict[str, Any] | None) -> Path:
        directory = self.options.tuning_dir
        # CUDA timings go to their own table (generator/tuning/cuda/), never the Apple one.
        kind = "cuda" if self.basis == "timed-cuda" else "apple"
        table = load_table(self.spec.name, directory, kind) or {
            "op": self.spec.name,
            "format": FORMAT,
        }
        kernel = "template"
        if winner.origin.get("proposer") not in ("template", "incumbent"):
            kernels = table_path(self.spec.name, directory, kind).parent / "kernels"
            kernels.mkdir(parents=True, exist_ok=True)
            (kernels / f"{self.spec.name}-{winner.id}.metal").write_text(winner.metal)
            kernel = f"kernels/{self.spec.name}-{winner.id}.metal"
        elif winner.id == self.incumbent.id:
            kernel = (table.get("shipped") or {}).get("kernel", "template")
        evaluated = len(self.evaluations)
        correct = sum(bool(e.get("passed")) for e in self.evaluations.values())
        table["shipped"] = {
            "candidate": winner.id,
            "constants": winner.constants,
            "kernel": kernel,
            "origin": winner.origin,
            "selected_by": CORRECTNESS_ONLY
            if self.basis == "correctness-only"
            else (
                f"fastest verified candidate, timed on {self.device} ({gpu_family(self.device)})"
            ),
            "search": {
                "date": datetime.date.today().isoformat(),
                "command": self.options.command,
                "log": _relative(self.log.path),
                "evaluated": evaluated,
                "correct": correct,
                "speedups": speedups(self.evaluations.get(winner.id, {})),
            },
        }
        table["entries"] = [
            e for e in table.get("entries", []) if e.get("gpu") != gpu_family(self.device)
        ]
        table["entries"] += self.entries(winner, final)
        path = write_table(table, directory, kind)
        self.log.append({"event": "table", "path": str(path), "candidate": winner.id})
        return path

    def entries(self, winner: Candidate, final: dict[str, Any] | None) -> list[dict[str, Any]]:
        dtypes = list(self.options.dtypes or self.spec.dtypes)
        buckets = shape_buckets(self.spec, self.problem, winner.constants, dtypes)
        family = gpu_family(self.device)
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        timed = {}
        for stage in (self.evaluations.get(winner.id) or {}).get("stages", []):
            if stage["stage"] == "benchmark" and stage["status"] == "pass":
                timed = {(r["shape"], r["dtype"]): r for r in stage["details"]["records"]}
        for (shape, dtype), (bucket, variant, kind) in sorted(buckets.items()):
            if self.basis == "correctness-only" and kind == "bench":
                continue  # verified at check and held-out shapes only (the simulator)
            if self.basis != "correctness-only" and (shape, dtype) not in timed:
                continue
            entry = grouped.setdefault(
                (dtype, bucket),
                {
                    "gpu": family,
                    "dtype": dtype,
                    "bucket": bucket,
                    "candidate": winner.id,
                    "variant": variant,
                    "basis": self.basis,
                    "shapes": [],
                },
            )
            entry["shapes"].append(shape)
            record = timed.get((shape, dtype))
            if record:
                entry["candidate_ms"] = record["candidate_ms"]
                entry["baselines_ms"] = record["baselines_ms"]
        return list(grouped.values())

    def print_summary(self, result: SearchResult) -> None:
        from rich.table import Table

        table = Table(title=f"kernel search: {self.spec.name} ({self.basis}, device {self.device})")
        for column in (
            "candidate",
            "verdict",
            "vs current",
            "vs eager",
            "vs torch.compile",
            "notes",
        ):
            table.add_column(column)
        for row in result.rows:
            speed = row["speedups"]

            def cell(name: str, speed: dict = speed) -> str:
                if self.basis == "correctness-only":
                    return "n/a"
                value = speed.get(name)
                return f"{value:.2f}x" if value else "-"

            verdict = "correct" if row["passed"] else f"failed: {row['stage']}"
            notes = (row["reason"] or "").replace("\n", " ")[:90]
            if row["changes"]:
                notes = f"{row['changes']} {notes}"
            name = ("* " if row["winner"] else "  ") + row["candidate"]
            table.add_row(name, verdict, cell("current"), cell("eager"), cell("compile"), notes)
        self.console.print(table)
        if result.winner is None:
            self.console.print("[red]no verified winner: the tuning table was not changed")
        else:
            same = result.winner.id == self.incumbent.id
            what = "the incumbent (current kernel) stays" if same else f"{result.winner.label} wins"
            self.console.print(f"winner: {what}; selection {self.basis}")
            if self.basis == "correctness-only":
                self.console.print(f"[yellow]{CORRECTNESS_ONLY}")
        if result.table:
            self.console.print(f"tuning table: {result.table}; log: {result.log}")
            self.console.print("next: `python -m generator` emits the kernels from the table")


def _relative(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def command_line() -> str:
    return "python -m generator search " + " ".join(shlex.quote(a) for a in sys.argv[2:])
