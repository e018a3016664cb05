"""Proposers behind one small interface: ``propose(context, limit) -> [Candidate]``.

A proposer sees the op (its spec: the launch interface and tuning space), the incumbent
(the kernel the repository ships now), the best verified candidate so far and every
earlier attempt with its verdict and feedback; it returns at most ``limit`` new
candidates. Problems a proposer meets (an endpoint that times out, a malformed answer)
go to ``context.log`` and never end the search.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from generator.model import OpSpec
from generator.search.candidate import Candidate, template_candidate
from generator.search.plan import constants_of


@dataclass
class Attempt:
    """An evaluated candidate as proposers see it."""

    candidate: Candidate
    passed: bool
    stage: str = ""  # the stage it failed at ("" when it passed)
    reason: str = ""
    feedback: dict[str, Any] = field(default_factory=dict)  # traffic, timings


@dataclass
class SearchContext:
    spec: OpSpec
    problem: Path
    round: int
    incumbent: Candidate
    best: Candidate
    attempts: list[Attempt] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # candidate ids proposed before
    device: str = "cpu"
    log: Callable[[dict[str, Any]], None] = lambda event: None

    def attempt(self, candidate_id: str) -> Attempt | None:
        return next((a for a in self.attempts if a.candidate.id == candidate_id), None)


class Proposer(Protocol):
    name: str

    def propose(self, context: SearchContext, limit: int) -> list[Candidate]: ...


def neighbours(value: Any, kind: str) -> list[Any]:
    """Values a sweep tries around ``value``: half and double (powers of two stay powers
    of two), the other truth value for a flag."""
    if kind == "bool":
        return [not value]
    if kind == "float":
        return [value / 2, value * 2]
    return [v for v in (value // 2, value * 2) if v >= 1 and v != value]


class TemplateProposer:
    """Sweeps the spec's tuning constants (threadgroup sizes, reads per thread, variant
    thresholds, rows per threadgroup, ...) through the op's own template: the incumbent
    first (so the current kernel is measured by the same stages), then every single
    change around the centre, then every pair; the centre is the incumbent in round 1 and
    the best verified candidate after."""

    name = "template"

    def __init__(self, max_changes: int = 2):
        self.max_changes = max_changes

    def configurations(self, spec: OpSpec, centre: dict[str, Any]) -> list[dict[str, Any]]:
        kinds = {c.name: c.type for c in spec.constants}
        options = {name: neighbours(centre[name], kinds[name]) for name in kinds}
        found = [dict(centre)]
        for count in range(1, self.max_changes + 1):
            for names in itertools.combinations(kinds, count):
                for values in itertools.product(*(options[n] for n in names)):
                    found.append(centre | dict(zip(names, values, strict=True)))
        return found

    def propose(self, context: SearchContext, limit: int) -> list[Candidate]:
        centre = context.incumbent if context.round == 1 else context.best
        chosen = []
        for constants in self.configurations(
            context.spec, constants_of(context.spec, centre.constants)
        ):
            origin = {
                "proposer": self.name,
                "round": context.round,
                "parent": centre.id,
                "changes": {k: v for k, v in constants.items() if centre.constants.get(k) != v},
            }
            candidate = template_candidate(context.spec, constants, origin)
            if candidate.id in context.seen or any(c.id == candidate.id for c in chosen):
                continue
            chosen.append(candidate)
            if len(chosen) >= limit:
                break
        return chosen
