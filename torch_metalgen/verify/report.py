"""Terminal table (rich) and JSON for verification reports."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torch_metalgen.verify.runner import BAD_PROBLEM, FAIL, PASS, ProblemReport

STYLE = {PASS: "green", FAIL: "bold red", BAD_PROBLEM: "yellow"}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def _traffic(report: ProblemReport) -> str:
    """The cases' simulated memory traffic / compulsory bytes, as min-max ("-": none)."""
    ratios = [c.traffic for c in report.cases if c.traffic is not None]
    if not ratios:
        return "-"
    low, high = min(ratios), max(ratios)
    return f"{low:.2f}x" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}x"


def table(reports: list[ProblemReport], title: str) -> Table:
    out = Table(title=escape(title), show_lines=False)
    for name, justify in (
        ("problem", "left"),
        ("candidate", "left"),
        ("status", "left"),
        ("cases", "right"),
        ("worst err/tol", "right"),
        ("eager err/tol", "right"),
        ("rel-norm", "right"),
        ("traffic", "right"),
        ("why / notes", "left"),
    ):
        out.add_column(name, justify=justify, overflow="fold")
    for report in reports:
        passed = sum(c.status == PASS for c in report.cases)
        scored = [c for c in report.cases if c.max_scaled is not None]
        worst = max(scored, key=lambda c: c.max_scaled, default=None)
        failure = report.first_failure
        if failure:
            why = (
                f"[{failure.rule}] {failure.dtype} {failure.shape} ({failure.shape_kind}) "
                f"{failure.distribution}: {failure.reason}"
            )
        else:
            why = "; ".join(report.notes)
        status = report.status
        out.add_row(
            escape(report.problem),
            escape(report.candidate),
            f"[{STYLE[status]}]{status}" if status in STYLE else status,
            f"{passed}/{len(report.cases)}",
            _fmt(worst.max_scaled if worst else None),
            _fmt(worst.eager_max_scaled if worst else None),
            _fmt(worst.rel_norm if worst else None),
            _traffic(report),
            escape(why),
        )
    return out


def print_reports(reports: list[ProblemReport], title: str, console: Console | None = None):
    (console or Console()).print(table(reports, title))


def write_json(reports: list[ProblemReport], path: Path, meta: dict) -> None:
    payload = {
        **meta,
        "problems": [
            {
                "problem": r.problem,
                "candidate": r.candidate,
                "status": r.status,
                "notes": r.notes,
                "cases": [asdict(c) for c in r.cases],
            }
            for r in reports
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
