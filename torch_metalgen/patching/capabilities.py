"""What the op registry can serve: the one place patching reads the generated registry.

The registry (``torch_metalgen._generated.registry``) lists each op with its schema and
dtypes. An option a module declares is served only when the op's schema has the argument
for it; a changed registry layout is fixed here and nowhere else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from torch_metalgen.patching.semantics import CASTING_MODES, GEMMA

# Schema argument names patching passes options through (Liger's names and values).
OFFSET_ARGUMENT = "offset"  # float: the output is normalized * (offset + weight)
CASTING_ARGUMENT = "casting_mode"  # str: one of semantics.CASTING_MODES
# The rounding of an op that has no casting argument: rms_norm multiplies by the weight in
# fp32 and rounds once (its spec's torch reference); so do the norms written after it.
NATIVE_CASTING = GEMMA
HALF_DTYPES = (torch.float16, torch.bfloat16)


def _registry() -> dict:
    from torch_metalgen._generated.registry import OPS

    return OPS


def has_op(op: str) -> bool:
    return op in _registry()


def op_dtypes(op: str) -> tuple[torch.dtype, ...]:
    return tuple(getattr(torch, name) for name in _registry()[op]["dtypes"])


@functools.cache
def op_arguments(op: str) -> dict[str, bool]:
    """Schema argument name -> has a default, in schema order."""
    schema = torch._C.parse_schema(_registry()[op]["schema"])
    return {argument.name: argument.has_default_value() for argument in schema.arguments}


def missing(op: str, dtype: torch.dtype, options: dict[str, object]) -> str:
    """Why ``op`` cannot serve ``options`` (schema argument -> value) at ``dtype``; "" if it can.

    An option at its neutral value (offset 0, the op's native casting) needs no argument.
    """
    if not has_op(op):
        return f"no kernel: the op registry has no {op} yet"
    if dtype not in op_dtypes(op):
        return f"no {op} kernel for {str(dtype).removeprefix('torch.')}"
    arguments = op_arguments(op)
    for name, value in options.items():  # options with no neutral value need their argument
        if name not in (OFFSET_ARGUMENT, CASTING_ARGUMENT) and name not in arguments:
            return f"{op} has no '{name}' argument (needed for {name}={value!r})"
    offset = options.get(OFFSET_ARGUMENT, 0.0)
    if offset and OFFSET_ARGUMENT not in arguments:
        return f"no kernel for the ({offset:g} + weight) offset yet ({op} has no {OFFSET_ARGUMENT})"
    if dtype in HALF_DTYPES and CASTING_ARGUMENT in options:
        casting = options[CASTING_ARGUMENT]
        if casting is None:
            return (
                "casting mode not declared for this class; only float32 (where the modes "
                "agree) is served"
            )
        if casting != NATIVE_CASTING and CASTING_ARGUMENT not in arguments:
            return f"no kernel for {CASTING_MODES[casting]} yet"
    return ""


@dataclass(frozen=True)
class CallPlan:
    """What a patched forward needs at call time, computed once when patching (a forward
    traced by torch.compile then only reads plain data: no registry, no schema parsing)."""

    op: str
    unservable: dict[torch.dtype, str]  # dtype -> why the op cannot serve it; absent: can
    arguments: tuple[tuple[str, bool], ...]  # schema arguments to pass: (name, has_default)
    differentiable: bool  # has an autograd formula (else calls that need grad fall back)

    def refuses_grad(self, *tensors) -> bool:
        """True when autograd would need a backward this op does not have."""
        return (
            not self.differentiable
            and torch.is_grad_enabled()
            and any(t is not None and t.requires_grad for t in tensors)
        )

    def kwargs(self, values: dict[str, object]) -> dict[str, object]:
        """Keyword arguments from ``values``; None for an argument with a default means
        "use the default" (e.g. an undeclared casting mode in float32)."""
        return {
            name: values[name]
            for name, has_default in self.arguments
            if values[name] is not None or not has_default
        }


SERVED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def plan(op: str, options: dict[str, object], value_names: set[str]) -> tuple[CallPlan | None, str]:
    """The call plan for ``op`` given the values an adapter can supply, or (None, why).

    A schema argument without a default that the adapter cannot supply means the op is not
    the one the adapter was written for.
    """
    if not has_op(op):
        return None, missing(op, torch.float32, options)
    if not registered(op):
        return None, f"the registry lists {op} but this build does not register it (rebuild)"
    arguments = []
    for name, has_default in op_arguments(op).items():
        if name in value_names:
            arguments.append((name, has_default))
        elif not has_default:
            return None, f"{op}'s schema has an argument '{name}' patching does not know"
    unservable = {dtype: missing(op, dtype, options) for dtype in SERVED_DTYPES}
    unservable = {dtype: why for dtype, why in unservable.items() if why}
    return CallPlan(op, unservable, tuple(arguments), has_autograd(op)), ""


def registered(op: str) -> bool:
    """Whether the loaded extension registers ``op`` (a stale build may not)."""
    return hasattr(torch.ops.metalgen, op)


def has_autograd(op: str) -> bool:
    # Asked of the dispatcher, so it holds whatever the registry records about autograd.
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(f"metalgen::{op}", "Autograd")
    except RuntimeError:  # not registered
        return False


def call(op: str, kwargs: dict[str, object]):
    return getattr(torch.ops.metalgen, op)(**kwargs)
