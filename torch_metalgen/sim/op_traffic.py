"""Memory traffic of every kernel variant of every generated op, measured by the
simulator's memory checks, against its compulsory bytes (each input element read once,
each output element written once). Ops, variants, dtypes and sample arguments come from
the generated registry, so an op a branch adds is measured without changes here.

    python -m torch_metalgen.sim.benchmark      # prints this table at the end

A ratio above 1 is traffic a GPU may serve from cache or not (a weight vector every row
re-reads, a second pass over the input); `distinct` is the share of the compulsory bytes
the kernels touched at least once (1.00 for a kernel that reads all its input and writes
all its output).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .traffic import bytes_moved, record_launches, tensor_bytes


@dataclass(frozen=True)
class OpTraffic:
    op: str
    variant: str
    dtype: str
    kernels: str  # "+"-joined kernel names of the plan's launches
    shape: str  # the first tensor argument's shape
    moved: int  # bytes read + written by all launches (temporaries included)
    compulsory: int  # input + output tensor bytes
    distinct: int | None  # bytes touched at least once (None: not shadowed)
    launches: int

    @property
    def ratio(self) -> float:
        return self.moved / self.compulsory if self.compulsory else float("nan")

    @property
    def distinct_ratio(self) -> float | None:
        if self.distinct is None or not self.compulsory:
            return None
        return self.distinct / self.compulsory


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    return []


def measure_op(op: str, variant: str, dtype: torch.dtype) -> OpTraffic:
    """Runs the op's registry samples through `variant`'s kernels in the simulator."""
    from torch_metalgen import _ops
    from torch_metalgen._generated.samples import SAMPLES

    from .plan import run_plan

    args = SAMPLES[op](dtype, torch.Generator().manual_seed(0))
    plans, outputs = getattr(_ops._C, f"plan_{op}")(*args, variant=variant)
    plans = plans if isinstance(plans, (list, tuple)) else [plans]
    with record_launches() as launches:
        run_plan(plans)
    moved = bytes_moved(launches)
    distinct: int | None = 0
    for launch in launches:
        for traffic in launch.buffers(tensors_only=True).values():
            if distinct is None or traffic.distinct_read is None:
                distinct = None
                break
            distinct += traffic.distinct_read + traffic.distinct_written
    inputs = _tensors(list(args))
    return OpTraffic(
        op=op,
        variant=variant,
        dtype=str(dtype).replace("torch.", ""),
        kernels="+".join(plan.kernel for plan in plans),
        shape="x".join(str(s) for s in inputs[0].shape) if inputs else "",
        moved=moved,
        compulsory=tensor_bytes(inputs) + tensor_bytes(_tensors(outputs)),
        distinct=distinct,
        launches=len(launches),
    )


def measure_all_ops() -> list[OpTraffic]:
    """Every (op, variant, dtype) of the generated registry."""
    from torch_metalgen._generated.registry import OPS

    rows = []
    for op, info in OPS.items():
        for variant in info["variants"]:
            for dtype_name in info["dtypes"]:
                rows.append(measure_op(op, variant, getattr(torch, dtype_name)))
    return rows


def format_rows(rows: list[OpTraffic]) -> str:
    header = (
        f"{'op/variant/dtype':<34} {'sample':>11} {'traffic':>8} {'moved B':>9} "
        f"{'compulsory B':>12} {'distinct':>8}  kernels"
    )
    lines = [header]
    for row in rows:
        distinct = f"{row.distinct_ratio:.2f}" if row.distinct_ratio is not None else "-"
        name = f"{row.op}/{row.variant}/{row.dtype}"
        lines.append(
            f"{name:<34} {row.shape:>11} {row.ratio:>7.2f}x {row.moved:>9} "
            f"{row.compulsory:>12} {distinct:>8}  {row.kernels}"
        )
    return "\n".join(lines)
