"""Runs the project's LaunchPlans (torch_metalgen._C.plan_<op>) on the simulator."""

from __future__ import annotations

from pathlib import Path

from .errors import LaunchArgumentError
from .library import compile_library

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def metal_source_dir() -> Path:
    """Where the .metal sources are: the repository's metal/ next to the package (a
    checkout), else the package's _metal/ (an installed wheel)."""
    for candidate in (_PACKAGE_DIR.parent / "metal", _PACKAGE_DIR / "_metal"):
        if candidate.is_dir() and any(candidate.glob("*.metal")):
            return candidate
    raise FileNotFoundError(
        f"no Metal sources found in {_PACKAGE_DIR.parent / 'metal'} (checkout) or "
        f"{_PACKAGE_DIR / '_metal'} (installed wheel); reinstall torch-metalgen or run from "
        "the repository."
    )


def run_plan(
    plans,
    *,
    order: str = "forward",
    seed: int = 0,
    check_unwritten: bool = True,
    check_orders: bool = False,
    asan: bool = False,
) -> None:
    """Executes one LaunchPlan or a list of them in order (what ``_C.plan_<op>`` returns):
    compiles metal/<plan.library>.metal and launches plan.kernel on the plan's tensors
    (outputs, and temporaries a later launch reads, are written in place).

    check_orders: run forward, then again in reverse from the same inputs, and require
    bit-identical buffers (OrderDependenceError otherwise).
    asan: run the AddressSanitizer build in a subprocess (OutOfBoundsError on a report).
    """
    for plan in plans if isinstance(plans, (list, tuple)) else [plans]:
        _run_one(
            plan,
            order=order,
            seed=seed,
            check_unwritten=check_unwritten,
            check_orders=check_orders,
            asan=asan,
        )


def _run_one(plan, *, order, seed, check_unwritten, check_orders, asan) -> None:
    source_dir = metal_source_dir()
    source = source_dir / f"{plan.library}.metal"
    if not source.is_file():
        raise LaunchArgumentError(
            f"LaunchPlan names library {plan.library!r}, but {source} does not exist"
        )
    library = compile_library(source, include_dirs=(source_dir,), asan=asan)
    # A None tensor is an optional argument the plan leaves unbound.
    buffers = {int(index): tensor for index, tensor, _ in plan.buffers if tensor is not None}
    outputs = [
        int(index) for index, tensor, is_output in plan.buffers if is_output and tensor is not None
    ]
    arguments = dict(
        buffers=buffers,
        bytes={int(index): bytes(data) for index, data in plan.bytes},
        threadgroup_memory={int(index): int(length) for index, length in plan.threadgroup_memory},
        grid=tuple(plan.grid),
        threadgroup=tuple(plan.threadgroup),
        dispatch=plan.dispatch,
        outputs=outputs if check_unwritten else (),
    )
    library.launch(plan.kernel, order=order, seed=seed, check_orders=check_orders, **arguments)
