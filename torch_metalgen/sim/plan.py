"""Runs the project's LaunchPlans (torch_metalgen._C.plan_<op>) on the simulator."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import LaunchArgumentError, OrderDependenceError
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


def _describe_difference(name: str, first: torch.Tensor, second: torch.Tensor) -> str:
    a = first.reshape(-1)
    b = second.reshape(-1)
    bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    differs = torch.nonzero(a.view(bits) != b.view(bits)).reshape(-1)
    i = int(differs[0])
    return (f"{name}: {differs.numel()} of {a.numel()} elements differ; first at flat index {i}: "
            f"{a[i].item()!r} vs {b[i].item()!r}")


def run_plan(plan, *, order: str = "forward", seed: int = 0, check_unwritten: bool = True,
             check_orders: bool = False) -> None:
    """Executes a LaunchPlan: compiles metal/<plan.library>.metal and launches
    plan.kernel on the plan's tensors (outputs are written in place).

    check_orders: run forward, then again in reverse from the same inputs, and require
    bit-identical buffers (OrderDependenceError otherwise).
    """
    source_dir = metal_source_dir()
    source = source_dir / f"{plan.library}.metal"
    if not source.is_file():
        raise LaunchArgumentError(
            f"LaunchPlan names library {plan.library!r}, but {source} does not exist"
        )
    library = compile_library(source, include_dirs=(source_dir,))
    buffers = {int(index): tensor for index, tensor, _ in plan.buffers}
    outputs = [int(index) for index, _, is_output in plan.buffers if is_output]
    arguments = dict(
        buffers=buffers,
        bytes={int(index): bytes(data) for index, data in plan.bytes},
        threadgroup_memory={int(index): int(length) for index, length in plan.threadgroup_memory},
        grid=tuple(plan.grid),
        threadgroup=tuple(plan.threadgroup),
        dispatch=plan.dispatch,
        outputs=outputs if check_unwritten else (),
    )
    if not check_orders:
        library.launch(plan.kernel, order=order, seed=seed, **arguments)
        return
    before = {index: tensor.clone() for index, tensor in buffers.items()}
    library.launch(plan.kernel, order=order, seed=seed, **arguments)
    first = {index: tensor.clone() for index, tensor in buffers.items()}
    for index, tensor in buffers.items():
        tensor.copy_(before[index])
    second_order = "reverse" if order != "reverse" else "forward"
    library.launch(plan.kernel, order=second_order, seed=seed + 1, **arguments)
    differences = [
        _describe_difference(f"buffer({index})", first[index], tensor)
        for index, tensor in buffers.items()
        if not torch.equal(first[index].view(torch.uint8) if first[index].numel() else first[index],
                           tensor.view(torch.uint8) if tensor.numel() else tensor)
    ]
    if differences:
        raise OrderDependenceError(
            f"kernel '{plan.kernel}' gives different results when its threads run in "
            f"{order} and {second_order} order: " + "; ".join(differences) + ". A thread reads "
            "memory another thread writes without a threadgroup_barrier between them, or "
            "threads race on device memory."
        )
