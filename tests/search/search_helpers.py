"""Shared pieces of the kernel-search tests: the rms_norm problem, candidates saved from
Metal text, quick evaluation settings."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from generator.search.candidate import Candidate, RunStore
from generator.search.evaluate import Settings
from generator.search.plan import constants_of
from generator.specs import all_specs

REPO = Path(__file__).resolve().parents[2]
PROBLEM = REPO / "torch_metalgen" / "problems" / "suite" / "level1" / "rms_norm.py"
SPEC = {s.name: s for s in all_specs()}["rms_norm"]
SHIPPED = (REPO / "metal" / "rms_norm.metal").read_text()


def quick_settings(**changes) -> dict:
    settings = Settings(
        problem=str(PROBLEM),
        dtypes=("float32",),
        distributions=("normal",),
        case_timeout=60.0,
        compile_timeout=180.0,
    )
    return asdict(settings) | changes


def saved(store: RunStore, metal: str, note: str = "") -> Path:
    candidate = Candidate("rms_norm", metal, constants_of(SPEC), {"proposer": "test", "note": note})
    return store.save(candidate, PROBLEM)


def stage(result: dict, name: str) -> dict:
    return next(s for s in result["stages"] if s["stage"] == name)


def failed_at(result: dict) -> str:
    return next((s["stage"] for s in result["stages"] if s["status"] == "fail"), "")
