"""A search candidate: an op's Metal source and the tuning constants its host plan uses,
with where it came from, stored as files.

The launch interface is fixed by the op's spec: the buffers (index -> tensor), the params
struct, the kernels each variant launches and their grid/threadgroup rules. A candidate
may change the kernel bodies and the tuning constants (which the grid rules and variant
thresholds read); it may not change the interface, so a winner drops into the generated
glue with no new host code (``generator.render.check_buffer_contract`` checks every
kernel's ``[[buffer(n)]]`` parameters against the spec before anything else).

On disk (``RunStore``), per candidate ``<run>/candidates/<id>/``:
``<op>.metal`` (the source), ``candidate.json`` (op, constants, provenance, the source's
sha256) and ``model_new.py`` (a KernelBench-style ``ModelNew`` that runs this kernel: what
the verification harness loads in its worker process).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.model import OpSpec, SpecError
from generator.render import check_buffer_contract, render_metal
from generator.search.plan import constants_of, with_constants


@dataclass(frozen=True)
class Candidate:
    """``metal``: the full .metal text; ``constants``: every tuning constant of the op
    (the host plan's values); ``origin``: provenance (proposer, model, round, parent,
    notes), never part of the identity."""

    op: str
    metal: str
    constants: dict[str, Any]
    origin: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        """Content address: the same kernel and constants from two proposers is one
        candidate (evaluated once)."""
        payload = json.dumps([self.op, self.metal, self.constants], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        who = self.origin.get("proposer", "?")
        model = self.origin.get("model")
        return f"{self.id} ({who}{':' + model if model else ''})"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "constants": self.constants,
            "origin": self.origin,
            "metal_sha256": hashlib.sha256(self.metal.encode()).hexdigest(),
        }


def template_candidate(spec: OpSpec, constants: dict[str, Any], origin: dict) -> Candidate:
    """The op's own template rendered with ``constants`` (the template proposer)."""
    tuned = with_constants(spec, constants)
    return Candidate(spec.name, render_metal(tuned), constants_of(tuned), origin)


def contract_problems(spec: OpSpec, candidate: Candidate) -> list[str]:
    """Why the candidate does not fit the op's launch interface ([] if it does): every
    kernel a variant launches must exist with the spec's buffers and params struct, for
    every dtype (instantiated with the host names the plan asks for)."""
    problems = []
    try:
        check_buffer_contract(spec, candidate.metal, f"candidate {candidate.id}")
    except SpecError as error:
        problems.append(str(error).split(": ", 2)[-1])
    try:
        constants_of(spec, candidate.constants)
    except ValueError as error:
        problems.append(str(error))
    missing = [name for _, _, name in spec.kernel_names() if f'"{name}"' not in candidate.metal]
    if missing:
        problems.append(
            "kernels not instantiated under the host names the plan launches: "
            + ", ".join(missing)
            + ' (instantiate_kernel("<name>", <function>, <type>) for each)'
        )
    return problems


MODEL_NEW = '''"""Kernel-search candidate {id} for {op} (generated; provenance in candidate.json).
KernelBench-style: the verification harness loads this in its worker process."""

from generator.search.kernel_mode import candidate_base


class ModelNew(candidate_base(__file__)):
    pass
'''


class RunStore:
    """A search run's directory: candidates as files, and the log (``log.jsonl``)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "candidates").mkdir(parents=True, exist_ok=True)

    def directory(self, candidate_id: str) -> Path:
        return self.root / "candidates" / candidate_id

    def save(self, candidate: Candidate, problem: Path) -> Path:
        """Writes the candidate's files (once; its id is its content) and returns its
        directory."""
        directory = self.directory(candidate.id)
        directory.mkdir(parents=True, exist_ok=True)
        metal = directory / f"{candidate.op}.metal"
        if not metal.exists():
            metal.write_text(candidate.metal)
            record = candidate.to_json() | {
                "problem": str(Path(problem).resolve()),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            }
            (directory / "candidate.json").write_text(json.dumps(record, indent=1) + "\n")
            (directory / "model_new.py").write_text(
                MODEL_NEW.format(id=candidate.id, op=candidate.op)
            )
        return directory

    def load(self, candidate_id: str) -> Candidate:
        directory = self.directory(candidate_id)
        record = json.loads((directory / "candidate.json").read_text())
        metal = (directory / f"{record['op']}.metal").read_text()
        return Candidate(record["op"], metal, record["constants"], record.get("origin", {}))
