"""``python -m torch_metalgen bench``: time verified candidates against eager and torch.compile
(rules 12-19). Needs a GPU (mps or cuda); without one it says so and reports no numbers."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import torch
from rich.markup import escape
from rich.table import Table

from torch_metalgen.bench import results
from torch_metalgen.bench.baselines import BASELINES
from torch_metalgen.bench.runner import BenchConfig, BenchRecord, bench_case
from torch_metalgen.bench.speed_of_light import device_limits
from torch_metalgen.problems import metalgen_candidate
from torch_metalgen.problems.problem import dtype_argument, parse_dtype
from torch_metalgen.verify.cli import (
    candidate_from_args,
    progress_bar,
    select_problems,
    wide_console,
)
from torch_metalgen.verify.device import empty_cache, resolve_device
from torch_metalgen.verify.distributions import distribution_argument
from torch_metalgen.verify.worker import CandidateWorker

# Relative to the current directory (the repository root in this project's workflow); never
# next to the installed package, which may be site-packages.
DEFAULT_OUT = Path("benchmarks") / "results"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m torch_metalgen bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("problems", nargs="*", help="problem files or suite names")
    parser.add_argument("--level", type=int, action="append", help="suite level(s)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--candidate", type=Path, help="a file defining ModelNew")
    who.add_argument(
        "--compile",
        action="store_true",
        help="time torch.compile(Model) as the candidate (baseline: eager)",
    )
    who.add_argument("--eager", action="store_true", help="time Model itself (a control)")
    parser.add_argument("--candidate-class", default="ModelNew")
    parser.add_argument("--device", default="auto", help="auto, cuda or mps")
    parser.add_argument(
        "--dtype",
        action="append",
        type=dtype_argument,
        help="float32, float16, bfloat16 (default: bfloat16 where the problem allows it)",
    )
    parser.add_argument("--shape", action="append", help="only these shape names")
    parser.add_argument(
        "--first-shape",
        action="store_true",
        help="only each problem's first bench shape (a quick pass)",
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="also time HELD_OUT_SHAPES (marked held-out in the results)",
    )
    parser.add_argument("--baselines", default="eager,compile,mlx")
    parser.add_argument("--samples", type=int, default=100, help="minimum timed samples")
    parser.add_argument("--max-seconds", type=float, default=5.0, help="per timed function")
    parser.add_argument(
        "--verify-dists",
        default="native,normal",
        type=lambda text: tuple(distribution_argument(name) for name in text.split(",")),
        help="input distributions verified at each timed shape first",
    )
    parser.add_argument(
        "--recheck-sets",
        type=int,
        default=2,
        help="timed input sets whose outputs are re-checked against float64",
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds: start no new problem after this; the rest are recorded as not run",
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--out", type=Path, help=f"results folder (default ./{DEFAULT_OUT}/<device>)"
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--cpu-dev", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    console = wide_console()
    device = resolve_device(args.device)
    candidate = candidate_from_args(parser, args)  # bad paths are usage errors, GPU or not
    for name in args.problems:
        if name.endswith(".py") and not Path(name).is_file():
            parser.error(f"problem file {name} does not exist")
    if device.type == "cpu" and not args.cpu_dev:
        console.print(
            "No GPU here (neither mps nor cuda): the benchmark times kernels on a "
            "GPU only, so it reports no numbers. Correctness on this machine: "
            "python -m torch_metalgen verify"
        )
        return 0

    if candidate is None:
        if device.type != "mps":
            console.print(
                f"The project's kernels are Metal: on {device.type} its ops run an "
                "ATen reference, and timing that would say nothing. Pass --compile "
                "(torch.compile vs eager) or --candidate FILE to benchmark here."
            )
            return 0
        candidate = metalgen_candidate()
    baselines = [BASELINES[name] for name in args.baselines.split(",") if name]
    if candidate.kind == "compile":
        baselines = [b for b in baselines if b.name != "compile"]

    problems = select_problems(parser, args, console, candidate)

    kinds = ("bench", "held-out") if args.held_out else ("bench",)
    jobs = []
    for problem in problems:
        shapes = problem.shapes(kinds)
        if args.shape:
            shapes = [s for s in shapes if s.name in args.shape]
        if args.first_shape:
            shapes = shapes[:1] + [s for s in shapes if s.held_out][:1]
        dtypes = (
            [parse_dtype(d) for d in args.dtype]
            if args.dtype
            else ([torch.bfloat16] if torch.bfloat16 in problem.dtypes else [problem.dtypes[0]])
        )
        jobs += [(problem, s, d) for s in shapes for d in dtypes if d in problem.dtypes]

    limits = device_limits(device)
    if limits is None:
        console.print(
            f"[yellow]no speed-of-light table for {device}: % of speed of light "
            "and the faster-than-light check are off"
        )
    else:
        console.print(f"{limits.name}: {limits.bandwidth_gbs:.0f} GB/s ({limits.source})")
    config = BenchConfig(
        device=device,
        min_samples=args.samples,
        max_seconds=args.max_seconds,
        verify_distributions=args.verify_dists,
        recheck_sets=args.recheck_sets,
    )
    out_dir = args.out or Path.cwd() / DEFAULT_OUT / _device_slug(limits, device)
    env = results.environment(device, limits, ["python -m torch_metalgen bench", *argv])
    started = time.monotonic()
    records: list[BenchRecord] = []
    workers: dict[int, CandidateWorker] = {}  # one per problem for an untrusted candidate
    with progress_bar(console, transient=False) as progress, contextlib.ExitStack() as stack:
        task = progress.add_task("benchmark", total=len(jobs))
        for problem, shape, dtype in jobs:
            worker = None
            if candidate.isolated:
                if id(problem) not in workers:
                    for old in workers.values():
                        old.close()  # the previous problem's worker: done
                    workers[id(problem)] = stack.enter_context(
                        CandidateWorker(problem, candidate, device)
                    )
                    workers[id(problem)].start(wait=False)
                worker = workers[id(problem)]
            progress.update(task, description=f"{problem.name} {shape.name} {dtype}")
            if args.time_budget and time.monotonic() - started > args.time_budget:
                records.append(
                    BenchRecord.of_case(
                        problem,
                        shape,
                        dtype,
                        candidate.name,
                        status="refused",
                        why="not run: --time-budget spent",
                    )
                )
                continue
            try:
                record = bench_case(
                    problem, shape, dtype, candidate, baselines, config, limits, worker
                )
            except Exception as error:  # one broken problem must not lose the others' numbers
                record = BenchRecord.of_case(
                    problem,
                    shape,
                    dtype,
                    candidate.name,
                    status="error",
                    why=f"{type(error).__name__}: {error}"[:300],
                )
            records.append(record)
            results.write(records, out_dir, env)  # after each record: a killed run keeps them
            progress.advance(task)
            empty_cache(device)

    console.print(
        table(
            records,
            f"bench {candidate.name} on {limits.name if limits else device}"
            + (" [DEV RUN ON CPU: NOT RESULTS]" if device.type == "cpu" else ""),
        )
    )
    stats = results.summary(records)
    console.print(
        "fast_p: "
        + ", ".join(f"p={p:g}: {stats[f'fast_{p:g}']:.2f}" for p in results.FAST_P)
        + f"; geomean speedup vs best baseline: "
        f"{_fmt(stats['geomean_speedup_vs_best_baseline'], 'x')}"
    )
    paths = results.write(records, out_dir, env)
    if not args.no_plots:
        from torch_metalgen.bench import plots  # matplotlib: only when plots are drawn

        title = f"{candidate.name} on {limits.name if limits else device}"
        paths += [
            p
            for p in (
                plots.speedup_plot(records, out_dir / "speedup.png", title),
                plots.roofline_plot(records, limits, out_dir / "roofline.png", title),
            )
            if p
        ]
    console.print("written: " + ", ".join(str(p) for p in paths))
    if not records:
        console.print("[red]nothing was benchmarked: no shape and dtype selected")
        return 2
    # A refused candidate (verification, re-check) or a MEMO record is not a result.
    failed = [
        r
        for r in records
        if r.status == "error"
        or (r.status == "refused" and not r.why.startswith("not run"))
        or r.suspect
    ]
    return 1 if failed else 0


def table(records: list[BenchRecord], title: str) -> Table:
    out = Table(title=escape(title))
    for name in (
        "problem",
        "shape",
        "dtype",
        "status",
        "candidate ms (IQR)",
        "eager ms",
        "compile ms",
        "speedup",
        "% SOL cand/eager/comp",
        "GB/s",
        "flags / why",
    ):
        out.add_column(name, overflow="fold")
    for r in records:
        c, e, k = r.candidate, r.baselines.get("eager"), r.baselines.get("compile")
        pct = "/".join(_fmt(r.pct_sol(m), "%", 0) for m in (c, e, k))
        style = {"ok": "green", "refused": "yellow", "error": "bold red"}[r.status]
        out.add_row(
            r.problem,
            r.shape + (" (held-out)" if r.shape_kind == "held-out" else ""),
            r.dtype,
            f"[{style}]{r.status}",
            f"{c.median_ms:.4g} ({c.q3_ms - c.q1_ms:.2g})" if c else "-",
            _fmt(e and e.median_ms),
            _fmt(k and k.median_ms),
            _fmt(r.speedup_best, "x"),
            pct,
            _fmt(r.achieved(c)[0] if c else None, "", 0),
            escape(" | ".join(r.flags) or r.why)
            or "; ".join(f"{n}: {w}" for n, w in r.unavailable.items() if n != "mlx"),
        )
    return out


def _fmt(value, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}{unit}" if digits == 0 else f"{value:.{digits}g}{unit}"


def _device_slug(limits, device: torch.device) -> str:
    name = limits.name if limits else device.type
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower()


if __name__ == "__main__":
    raise SystemExit(main())
