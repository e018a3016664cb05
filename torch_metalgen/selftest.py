"""``python -m torch_metalgen selftest``: every kernel variant of every op (x dtype) once
through the MSL simulator against its float64 reference, as a quick health check of a
machine. Ops, samples and references all come from the generated registry."""

from __future__ import annotations

import torch

from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS
from torch_metalgen._generated.samples import SAMPLES
from torch_metalgen.tolerances import float64_inputs, mismatch


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def run_selftest() -> int:
    from torch_metalgen import sim

    failures = 0
    for op, info in OPS.items():
        plan_function = getattr(_ops._C, f"plan_{op}")
        for variant in info["variants"]:
            for dtype_name in info["dtypes"]:
                dtype = getattr(torch, dtype_name)
                args = SAMPLES[op](dtype, torch.Generator().manual_seed(0))
                try:
                    plans, outputs = plan_function(*args, variant=variant)
                except ValueError as error:  # the spec's samples do not fit this variant
                    failures += 1
                    print(f"FAIL {op}/{variant}/{dtype_name:<9} sample not plannable: {error}")
                    continue
                sim.run_plan(plans)
                expected = REFERENCES[op](*float64_inputs(args))
                problems = [
                    mismatch(actual, reference)
                    for actual, reference in zip(
                        _as_tuple(outputs), _as_tuple(expected), strict=True
                    )
                ]
                problem = "; ".join(p for p in problems if p)
                failures += bool(problem)
                kernels = "+".join(plan.kernel for plan in plans)
                status = "FAIL" if problem else "ok  "
                print(f"{status} {op}/{variant}/{dtype_name:<9} {kernels} {problem}")
    print("selftest passed" if not failures else f"selftest: {failures} kernels failed")
    return 1 if failures else 0
