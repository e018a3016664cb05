"""The list of generated files: path -> content, for every spec. One place to add a file."""

from __future__ import annotations

from generator.model import OpSpec
from generator.render import render_metal, render_op, render_shared


def generated_files(specs: list[OpSpec]) -> dict[str, str]:
    files: dict[str, str] = {}
    for spec in specs:
        files[f"metal/{spec.name}.metal"] = render_metal(spec)
        files[f"csrc/ops/{spec.name}.cpp"] = render_op("op.cpp.j2", spec)
        files[f"csrc/mps/{spec.name}.mm"] = render_op("op.mm.j2", spec)
    files["csrc/ops/all_ops.h"] = render_shared("all_ops.h.j2", specs, "//")
    files["csrc/registration.cpp"] = render_shared("registration.cpp.j2", specs, "//")
    files["csrc/plan_bindings.cpp"] = render_shared("plan_bindings.cpp.j2", specs, "//")
    generated = "torch_metalgen/_generated"
    for module in ("registry", "fake_impls", "references", "functional", "samples"):
        files[f"{generated}/{module}.py"] = render_shared(f"{module}.py.j2", specs, "#")
    return dict(sorted(files.items()))
