"""simulate(): a dispatch mode under which torch.ops.metalgen.* calls on CPU tensors run
the real Metal kernels (through _C.plan_<op> and the simulator) instead of the CPU
reference, so a patched model runs the project's Metal code end to end on Linux."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..op_calls import NAMESPACE, schema_arguments
from .errors import SimulatorError
from .plan import run_plan


def _planner(op_name: str):
    try:
        from torch_metalgen import _C
    except ImportError as error:
        raise SimulatorError(
            "torch_metalgen._C is not built, so there are no launch plans to simulate; build "
            f"the extension (`pip install --no-build-isolation -e .`). ({error})"
        ) from error
    planner = getattr(_C, f"plan_{op_name}", None)
    if planner is None:
        raise SimulatorError(
            f"torch_metalgen._C has no plan_{op_name}: the op metalgen::{op_name} has no launch "
            "plan to simulate (regenerate and rebuild the extension)."
        )
    return planner


def _all_cpu(values) -> bool:
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    return all(t.device.type == "cpu" and not t.is_meta for t in tensors)


class simulate(TorchDispatchMode):  # noqa: N801 - used as a function-like context manager
    """Context manager: ``with torch_metalgen.sim.simulate(): model(x)``.

    order: thread scheduling order of every launch ("forward", "reverse", "random").
    check_unwritten: poison outputs and fail on elements the kernel did not write.
    check_orders: run every launch in two orders and require bit-identical results.
    Ops of other namespaces, and metalgen ops on non-CPU tensors, run as usual.
    """

    def __init__(
        self,
        order: str = "forward",
        check_unwritten: bool = True,
        check_orders: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.order = order
        self.check_unwritten = check_unwritten
        self.check_orders = check_orders
        self.seed = seed
        self.launches: list[str] = []  # kernels launched, in order (for tests and reports)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace != NAMESPACE:
            return func(*args, **kwargs)
        values = schema_arguments(func, args, kwargs)
        if not _all_cpu(values):
            return func(*args, **kwargs)
        op_name = func._schema.name.split("::", 1)[1]
        # A list of launches, run in order (an empty tensor plans none).
        plans, outputs = _planner(op_name)(*values)
        run_plan(
            plans,
            order=self.order,
            seed=self.seed,
            check_unwritten=self.check_unwritten,
            check_orders=self.check_orders,
        )
        self.launches.extend(plan.kernel for plan in plans)
        return outputs
