"""Find the curated problems (shipped in the package, ``torch_metalgen/problems/suite``) and tell
which project ops exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from torch_metalgen.problems.problem import Problem, load_problem

# The suite ships inside the package (package data), so ``verify rms_norm`` and ``bench``
# find it from a wheel as well as from a source checkout.
SUITE_DIR = Path(__file__).resolve().parent / "suite"


def metalgen_ops_available() -> set[str]:
    """Names of ``torch.ops.metalgen.*`` ops registered now (the op list grows over time)."""
    try:
        import torch_metalgen  # noqa: F401  (loads torch_metalgen._C, which registers the ops)
    except Exception:  # the extension may not be built yet: no project ops then
        return set()
    found = set()
    for name in (
        "rms_norm",
        "layer_norm",
        "softmax",
        "gelu",
        "silu",
        "swiglu",
        "rope",
        "rotary_embedding",
        "add_rms_norm",
        "sdpa",
        "gemv",
        "matmul",
        "group_norm",
    ):
        try:
            getattr(torch.ops.metalgen, name)
            found.add(name)
        except (AttributeError, RuntimeError):
            pass
    ops_list = getattr(__import__("torch_metalgen"), "ops_list", None)
    if callable(ops_list):
        found.update(ops_list())
    return found


def find_problems(
    selectors: list[str] | None = None,
    levels: list[int] | None = None,
    root: Path = SUITE_DIR,
    overrides: dict[str, Any] | None = None,
) -> list[Problem]:
    """Problems by path, by name (``rms_norm``, ``level1/rms_norm``) or all of some levels;
    ``overrides`` (``--set``) replace module globals of each, as in ``load_problem``."""
    problems: list[Problem] = []
    for selector in selectors or []:
        path = Path(selector)
        if path.suffix == ".py" and path.exists():
            problems.append(load_problem(path, overrides))
            continue
        matches = sorted(root.glob(f"level*/{selector}.py")) or sorted(root.glob(f"{selector}.py"))
        if not matches:
            known = ", ".join(p.stem for p in sorted(root.glob("level*/*.py")))
            raise ValueError(
                f"problem {selector!r} is neither a .py file nor a suite problem "
                f"under {root}; known: {known}"
            )
        problems += [load_problem(m, overrides) for m in matches]
    if not selectors:
        for level in levels or [1, 2, 3]:
            for path in sorted((root / f"level{level}").glob("*.py")):
                if not path.name.startswith("_"):
                    problems.append(load_problem(path, overrides))
    return problems


def solved_by_project_ops(problems: list[Problem]) -> tuple[list[Problem], list[str]]:
    """(problems whose ``METALGEN_OPS`` are all registered now, names of the others)."""
    available = metalgen_ops_available()
    kept = [p for p in problems if p.metalgen_ops and set(p.metalgen_ops) <= available]
    skipped = sorted({p.name for p in problems} - {p.name for p in kept})
    return kept, skipped
