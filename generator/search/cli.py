"""python -m generator search OP [--proposers template,lm] [--budget N] [--rounds R] ...

Proposes, verifies and (where a GPU can time them) benchmarks kernels for OP, logs every
candidate and verdict to <run-dir>/log.jsonl (run it again to resume), and writes the
winner to generator/tuning/<OP>.json; then `python -m generator` emits it. On Linux the
selection is correctness-only, and the output says so. See docs/search.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from generator.search.supervisor import SearchOptions, Supervisor, command_line


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _distributions(text: str) -> tuple[str, ...] | None:
    return None if text == "all" else _names(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator search", description=__doc__)
    parser.add_argument("op", help="op to search kernels for (a spec in generator/specs)")
    parser.add_argument("--proposers", type=_names, default=("template",), help="template,lm")
    parser.add_argument("--budget", type=int, default=12, help="candidates evaluated in all")
    parser.add_argument("--rounds", type=int, default=3, help="refinement rounds")
    parser.add_argument("--per-round", type=int, default=None, help="new candidates per round")
    parser.add_argument("--run-dir", type=Path, default=None, help="default build/search/OP")
    parser.add_argument("--tuning", type=Path, default=None, help="default generator/tuning")
    parser.add_argument("--executor", choices=("local", "inline", "ray"), default="local")
    parser.add_argument("--workers", type=int, default=1, help="parallel evaluations")
    parser.add_argument("--ray-address", default=None, help="a running Ray cluster ('auto')")
    parser.add_argument("--device", default=None, help="cpu, mps or cuda (default: detect)")
    parser.add_argument("--select", default="auto", help="auto, incumbent, or a candidate id")
    parser.add_argument("--lm-config", type=Path, default=None, help="endpoints (JSON)")
    parser.add_argument("--dtypes", type=_names, default=None, help="default: the problem's")
    parser.add_argument(
        "--distributions",
        type=_distributions,
        default=("normal", "offset100", "pareto"),
        help="input distributions while searching ('all' for every one)",
    )
    parser.add_argument(
        "--final-distributions",
        type=_distributions,
        default=None,
        help="distributions of the winner's final check (default: all)",
    )
    parser.add_argument("--no-table", action="store_true", help="do not write the table")
    args = parser.parse_args(argv)
    if args.budget < 1 or args.rounds < 1:
        parser.error("--budget and --rounds must be at least 1")
    options = SearchOptions(
        op=args.op,
        proposers=args.proposers,
        budget=args.budget,
        rounds=args.rounds,
        per_round=args.per_round,
        run_dir=args.run_dir,
        tuning_dir=args.tuning,
        executor=args.executor,
        workers=args.workers,
        ray_address=args.ray_address,
        device=args.device,
        select=args.select,
        lm_config=args.lm_config,
        dtypes=args.dtypes,
        distributions=args.distributions,
        final_distributions=args.final_distributions,
        write_table=not args.no_table,
        command=command_line(),
    )
    try:
        supervisor = Supervisor(options)
        result = supervisor.run()
    except ValueError as error:
        parser.exit(2, f"python -m generator search: error: {error}\n")
    return 0 if result.winner is not None else 1
