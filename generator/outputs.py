"""The list of generated files: path -> content, for every spec. One place to add a file."""

from __future__ import annotations

from pathlib import Path

from generator.model import OpSpec
from generator.render import render_op, render_shared
from generator.tuning_tables import render_shipped_metal, tuned_spec


def generated_files(specs: list[OpSpec], tuning: Path | None = None) -> dict[str, str]:
    """Every generated file. Specs get the constants (and kernel) of their tuning table
    (``generator/tuning/<op>.json``, or the tables in ``tuning``) where one exists."""
    files: dict[str, str] = {}
    specs = [tuned_spec(spec, tuning) for spec in specs]
    for spec in specs:
        files[f"metal/{spec.name}.metal"] = render_shipped_metal(spec, tuning)
        files[f"csrc/ops/{spec.name}.cpp"] = render_op("op.cpp.j2", spec)
        files[f"csrc/mps/{spec.name}.mm"] = render_op("op.mm.j2", spec)
    files["csrc/ops/all_ops.h"] = render_shared("all_ops.h.j2", specs, "//")
    files["csrc/registration.cpp"] = render_shared("registration.cpp.j2", specs, "//")
    files["csrc/plan_bindings.cpp"] = render_shared("plan_bindings.cpp.j2", specs, "//")
    generated = "torch_metalgen/_generated"
    for module in ("registry", "fake_impls", "references", "functional", "samples"):
        files[f"{generated}/{module}.py"] = render_shared(f"{module}.py.j2", specs, "#")
    return dict(sorted(files.items()))
