"""Calls of torch.ops.metalgen.* seen from a dispatch mode: their arguments in schema order
(what ``_C.plan_<op>`` and the float64 references take), and a mode that records them.

The simulator's and the CUDA back end's dispatch modes run the calls; tuning and the kernel
search record what a problem's model passes to an op, to size their runs from it."""

from __future__ import annotations

from torch.utils._python_dispatch import TorchDispatchMode

NAMESPACE = "metalgen"


def schema_arguments(func, args, kwargs) -> list:
    """The op's arguments in schema order, defaults filled in (TypeError for a missing one)."""
    values = list(args)
    for argument in func._schema.arguments[len(args) :]:
        if argument.name in kwargs:
            values.append(kwargs[argument.name])
        elif argument.has_default_value():
            values.append(argument.default_value)
        else:
            raise TypeError(f"{func} is missing argument '{argument.name}'")
    return values


class CaptureCalls(TorchDispatchMode):
    """Records the arguments (``schema_arguments``) of every ``metalgen::<op>`` call made
    under it in ``calls``; the calls still run (on the CPU: the op's reference)."""

    def __init__(self, op: str):
        super().__init__()
        self.op, self.calls = op, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace == NAMESPACE and func._schema.name == f"{NAMESPACE}::{self.op}":
            self.calls.append(schema_arguments(func, args, kwargs))
        return func(*args, **kwargs)
