"""enable(): a dispatch mode under which torch.ops.metalgen.* calls on CUDA tensors run the
project's Metal kernels through the CUDA back end: ``_C.plan_<op>`` plans the launches (the
same C++ plans as on a Mac and in the CPU simulator), ``run_plan`` executes them. Every
other op, and metalgen ops on other devices, run as usual."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ...op_calls import NAMESPACE, schema_arguments
from ..mode import _planner
from .plan import run_plan


class VariantNotApplicable(ValueError):
    """The forced kernel variant cannot run this call (the plan rejected it)."""


def _all_cuda(values) -> bool:
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    return bool(tensors) and all(t.device.type == "cuda" for t in tensors)


class enable(TorchDispatchMode):  # noqa: N801 - used as a function-like context manager
    """Context manager: ``with torch_metalgen.sim.cuda.enable(): model(x_cuda)``.

    variant: force this kernel variant of every op ("" or None: the plan picks); a call the
        variant cannot run raises VariantNotApplicable.
    check_unwritten: poison outputs and fail on elements a kernel did not write.
    check: wait for every launch and raise what the kernel recorded (partial SIMD-group
        calls, reads of inactive lanes). False for timing: nothing synchronizes.
    partial_simd: "error" or "allow" (library.CudaLibrary.launch).
    """

    def __init__(
        self,
        variant: str | None = None,
        check_unwritten: bool = True,
        check: bool = True,
        partial_simd: str = "error",
    ):
        super().__init__()
        self.variant = variant or ""
        self.check_unwritten = check_unwritten
        self.check = check
        self.partial_simd = partial_simd
        self.launches: list[str] = []  # kernels launched, in order

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace != NAMESPACE:
            return func(*args, **kwargs)
        values = schema_arguments(func, args, kwargs)
        if not _all_cuda(values):
            return func(*args, **kwargs)
        op_name = func._schema.name.split("::", 1)[1]
        try:
            plans, outputs = _planner(op_name)(*values, variant=self.variant)
        except ValueError as error:
            if self.variant:
                raise VariantNotApplicable(
                    f"metalgen::{op_name} variant {self.variant!r} cannot run this call: {error}"
                ) from error
            raise
        run_plan(
            plans,
            check_unwritten=self.check_unwritten,
            check=self.check,
            partial_simd=self.partial_simd,
        )
        self.launches.extend(plan.kernel for plan in plans)
        return outputs
