"""What the op registry can serve: the one place patching reads the generated registry.

The registry (``torch_metalgen._generated.registry``) lists each op with its schema and
dtypes. An option a module declares is served only when the op's schema has the argument
for it; a changed registry layout is fixed here and nowhere else.
"""

from __future__ import annotations

import functools

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


def bind(op: str, values: dict[str, object]) -> tuple[dict[str, object] | None, str]:
    """The keyword arguments for ``op`` from ``values`` (name -> value), or (None, why).

    Values the schema has no argument for are dropped (``missing`` already refused those
    that matter); a schema argument without a default that patching has no value for
    means the op is not the one this adapter was written for.
    """
    kwargs = {}
    for name, has_default in op_arguments(op).items():
        supplied = name in values and (values[name] is not None or not has_default)
        if supplied:
            kwargs[name] = values[name]
        elif not has_default:
            return None, f"{op}'s schema has an argument '{name}' patching does not know"
    return kwargs, ""


def call(op: str, kwargs: dict[str, object]):
    return getattr(torch.ops.metalgen, op)(**kwargs)
