"""Runs the project's LaunchPlans (torch_metalgen._C.plan_<op>) on CUDA tensors.

The plan is the same C++ object the MPS glue encodes and the CPU simulator executes: no plan
is ported to Python. Each launch compiles metal/<plan.library>.metal for CUDA (cached) and
dispatches plan.kernel with the plan's bindings and geometry on PyTorch's current stream.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LaunchArgumentError
from ..plan import metal_source_dir
from .library import LaunchStatus, compile_library


def run_plan(
    plans,
    *,
    check_unwritten: bool = True,
    check: bool = True,
    partial_simd: str = "error",
    source_dir: str | Path | None = None,
) -> list[LaunchStatus | None]:
    """Executes one LaunchPlan or a list of them in order on CUDA (the plans' tensors must
    be on the current CUDA device; outputs and temporaries are written in place).

    check_unwritten: poison each launch's outputs before it and fail on elements it left.
    check: wait for each launch and raise what its kernel recorded (library.CudaLibrary.launch).
    source_dir: where <plan.library>.metal is (default: the project's metal/ sources).
    """
    directory = Path(source_dir) if source_dir is not None else metal_source_dir()
    statuses = []
    for plan in plans if isinstance(plans, (list, tuple)) else [plans]:
        source = directory / f"{plan.library}.metal"
        if not source.is_file():
            raise LaunchArgumentError(
                f"LaunchPlan names library {plan.library!r}, but {source} does not exist"
            )
        library = compile_library(source, include_dirs=(directory,))
        # A None tensor is an optional argument the plan leaves unbound.
        buffers = {int(i): t for i, t, _ in plan.buffers if t is not None}
        outputs = [int(i) for i, t, out in plan.buffers if out and t is not None]
        statuses.append(
            library.launch(
                plan.kernel,
                buffers=buffers,
                bytes={int(i): bytes(data) for i, data in plan.bytes},
                threadgroup_memory={int(i): int(n) for i, n in plan.threadgroup_memory},
                grid=tuple(plan.grid),
                threadgroup=tuple(plan.threadgroup),
                dispatch=plan.dispatch,
                outputs=outputs if check_unwritten else (),
                check=check,
                partial_simd=partial_simd,
            )
        )
    return statuses
