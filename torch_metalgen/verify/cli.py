"""``python -m torch_metalgen verify``: check candidates against problems (rules 1-11).

With no arguments: every suite problem that a project op implements, on this machine's GPU
(mps) or, on Linux/CPU, through the MSL simulator at small shapes (correctness only).
"""

from __future__ import annotations

import argparse
import ast
import platform
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from torch_metalgen.problems import (
    Candidate,
    Problem,
    compiled_candidate,
    eager_candidate,
    file_candidate,
    find_problems,
    metalgen_candidate,
    metalgen_ops_available,
    solved_by_project_ops,
)
from torch_metalgen.problems.problem import dtype_argument, parse_dtype
from torch_metalgen.verify.device import device_description, resolve_device
from torch_metalgen.verify.distributions import distribution_argument
from torch_metalgen.verify.report import print_reports, write_json
from torch_metalgen.verify.runner import PASS, SKIP, VerifyConfig, verify_problem

SIM_MAX_NUMEL = 1 << 20  # the simulator runs every GPU thread as a fiber: keep shapes small
SHAPE_KINDS = ("check", "held-out", "bench")


def parse_set(items: list[str]) -> dict:
    """--set batch_size=64 --set input_shape=(1024,) -> module-global overrides."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE, e.g. --set batch_size=64")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(f"--set {item!r}: VALUE must be a Python literal") from None
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m torch_metalgen verify", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "problems",
        nargs="*",
        help="problem files (KernelBench format) or "
        "suite names (rms_norm); default: suite problems with project ops",
    )
    parser.add_argument("--level", type=int, action="append", help="suite level(s) 1, 2, 3")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--candidate", type=Path, help="a file defining ModelNew (KernelBench)")
    who.add_argument("--eager", action="store_true", help="verify Model itself (a control)")
    who.add_argument("--compile", action="store_true", help="verify torch.compile(Model)")
    parser.add_argument("--candidate-class", default="ModelNew")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument(
        "--no-sim",
        action="store_true",
        help="on CPU, check the project ops' "
        "ATen reference instead of simulating the Metal kernels",
    )
    parser.add_argument(
        "--dtype", action="append", type=dtype_argument, help="float32, float16, bfloat16"
    )
    parser.add_argument(
        "--shapes",
        default=None,
        help="comma list of check, held-out, bench (default: check,held-out; all three on a GPU)",
    )
    parser.add_argument("--shape", action="append", help="only these shape names")
    parser.add_argument(
        "--dist",
        action="append",
        type=distribution_argument,
        help="only these input distributions",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a problem file's module global (KernelBench sizes)",
    )
    parser.add_argument("--max-numel", type=int, help="skip shapes with more input elements")
    parser.add_argument(
        "--factor",
        type=float,
        default=None,
        help="allowed error as a multiple of PyTorch eager's (default 2)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument(
        "--all-cases", action="store_true", help="keep going after a problem's first failure"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = wide_console()
    device = resolve_device(args.device)
    kinds = tuple(args.shapes.split(",")) if args.shapes else None
    if kinds and not set(kinds) <= set(SHAPE_KINDS):
        parser.error(f"--shapes {args.shapes}: use a comma list of {', '.join(SHAPE_KINDS)}")

    candidate = candidate_from_args(parser, args)
    simulate = candidate is None and device.type == "cpu" and not args.no_sim
    if candidate is None:
        if simulate and not _simulator_available():
            console.print(
                "[yellow]torch_metalgen.sim.simulate is not available here, so the "
                "Metal kernels cannot run on this CPU. Build the simulator, run on "
                "a Mac (--device mps), or pass --no-sim to check the ops' CPU "
                "reference implementation."
            )
            return 2
        candidate = metalgen_candidate(simulate=simulate)

    problems = select_problems(parser, args, console, candidate)
    if not problems:
        console.print("[yellow]no problems to verify")
        return 2

    if kinds is None:  # bench shapes are too large for a float64 reference on a CPU
        kinds = ("check", "held-out") if device.type == "cpu" else SHAPE_KINDS
    max_numel = args.max_numel or (SIM_MAX_NUMEL if simulate else None)
    config = VerifyConfig(
        device=device,
        shape_kinds=kinds,
        seed=args.seed,
        max_numel=max_numel,
        dtypes=tuple(parse_dtype(d) for d in args.dtype) if args.dtype else None,
        shape_names=tuple(args.shape) if args.shape else None,
        distributions=tuple(args.dist) if args.dist else None,
        stop_at_first_failure=not args.all_cases,
    )
    if args.factor is not None:
        config.eager_factor = args.factor

    reports = []
    with progress_bar(console, transient=True) as progress:
        task = progress.add_task("verifying", total=len(problems))
        for problem in problems:
            progress.update(task, description=f"{problem.name} ({candidate.name})")
            reports.append(
                verify_problem(
                    problem,
                    candidate,
                    config,
                    progress=lambda c: progress.update(
                        task, description=f"{c.problem} {c.dtype} {c.shape} {c.distribution}"
                    ),
                )
            )
            progress.advance(task)

    title = f"verify {candidate.name} on {device} ({_where(device)})"
    print_reports(reports, title, console)
    if args.json:
        write_json(
            reports,
            args.json,
            {
                "command": " ".join(["python -m torch_metalgen verify", *(argv or sys.argv[1:])]),
                "device": str(device),
                "torch": torch.__version__,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        console.print(f"report written to {args.json}")
    if any(r.status not in (PASS, SKIP) for r in reports):
        return 1
    empty = [r for r in reports if r.verified == 0]
    if empty:  # e.g. --dtype bfloat16 on a float32-only file: a skip must not read as a pass
        for report in empty:
            why = "; ".join(report.notes) or "no case ran"
            console.print(f"[red]nothing verified for {report.problem}: {why}")
        return 2
    return 0


def candidate_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> Candidate | None:
    """The candidate that --candidate, --eager or --compile names; None: the project's ops.
    A missing or unreadable candidate file is a usage error (one line, exit 2)."""
    if args.candidate:
        try:
            return file_candidate(args.candidate, args.candidate_class)
        except (ValueError, OSError) as error:
            parser.error(str(error))
    if args.eager:
        return eager_candidate()
    if args.compile:
        return compiled_candidate()
    return None


def select_problems(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    console: Console,
    candidate: Candidate,
) -> list[Problem]:
    """The problems named on the command line (or the --level suite), with --set applied;
    for the project's ops only those they implement (the rest are listed). A bad name, path
    or --set is a usage error that says what is wrong."""
    for name in args.problems or ():
        if name.endswith(".py") and not Path(name).is_file():
            parser.error(f"problem file {name} does not exist")
    try:
        problems = find_problems(args.problems or None, args.level, overrides=parse_set(args.set))
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if candidate.kind == "metalgen":
        problems, skipped = solved_by_project_ops(problems)
        if skipped:
            available = ", ".join(sorted(metalgen_ops_available())) or "none"
            console.print(f"no project op for: {', '.join(skipped)} (ops registered: {available})")
    return problems


def progress_bar(console: Console, transient: bool) -> Progress:
    """The progress bar both commands show: description, bar, n/m done, time elapsed."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )


def wide_console() -> Console:
    """A console at least 160 columns wide when output is not a terminal (CI logs, pipes)."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 160))


def _simulator_available() -> bool:
    try:
        from torch_metalgen import sim
    except Exception:
        return False
    return hasattr(sim, "simulate")


def _where(device: torch.device) -> str:
    return f"{device_description(device)}, torch {torch.__version__}, {platform.system()}"


if __name__ == "__main__":
    raise SystemExit(main())
