"""An op's launch plan computed in Python from its spec, with any tuning constants.

The C++ ``plan_<op>`` (generated from ``generator/templates/op.cpp.j2``) bakes the spec's
constants in at build time. A search candidate changes them (threads per threadgroup,
reads per thread, variant thresholds), so its plan is computed here from the same spec
expressions (``torch_metalgen.spec_expressions``) and the same rules: first variant whose
``when`` holds and whose threadgroups fit ``max_threads``; ``requires`` checked for a
forced variant; zero-grid launches dropped; the LaunchPlan limits checked. ``tests/search``
compares this with ``_C.plan_<op>`` for every spec at the shipped constants, launch by
launch and byte by byte, so the two cannot drift apart unnoticed.

``Launch`` has the attributes of ``torch_metalgen._C.LaunchPlan``, so
``torch_metalgen.sim.run_plan`` runs it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import torch

from generator.model import OpSpec, _dims, constants_of, kernel_name, with_constants
from torch_metalgen.spec_expressions import (
    MAX_THREADS_PER_THREADGROUP,
    SIMD_SIZE,
    ExpressionError,
    evaluate,
    schema_values,
)

MAX_THREADGROUP_MEMORY = 32 * 1024
MAX_SET_BYTES = 4096
MAX_GRID_THREADS = 2**32 - 1
TORCH_DTYPE = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
DTYPE_NAME = {v: k for k, v in TORCH_DTYPE.items()}
_PARAM_FORMAT = {"uint": "I", "int": "i", "float": "f"}


@dataclass
class Launch:
    """One dispatch: the fields of ``_C.LaunchPlan`` (library, kernel, buffers as
    ``(index, tensor, is_output)``, bytes, threadgroup memory, grid, threadgroup, dispatch)
    plus the variant it belongs to."""

    library: str
    kernel: str
    variant: str
    buffers: list[tuple[int, torch.Tensor, bool]] = field(default_factory=list)
    bytes: list[tuple[int, bytes]] = field(default_factory=list)
    threadgroup_memory: list[tuple[int, int]] = field(default_factory=list)
    grid: tuple[int, int, int] = (0, 0, 0)
    threadgroup: tuple[int, int, int] = (1, 1, 1)
    dispatch: str = "threadgroups"

    @property
    def threads_per_threadgroup(self) -> int:
        x, y, z = self.threadgroup
        return x * y * z


def _param_bytes(spec: OpSpec, names: dict[str, Any]) -> bytes:
    values = []
    for param in spec.params:
        value = evaluate(param.value, names)
        if param.type == "float":
            values.append(float(value))
        else:  # static_cast<uint32_t / int32_t>: wraps like C++
            integer = int(value) & 0xFFFFFFFF
            if param.type == "int" and integer >= 2**31:
                integer -= 2**32
            values.append(integer)
    return struct.pack("<" + "".join(_PARAM_FORMAT[p.type] for p in spec.params), *values)


def _geometry(value: str | tuple[str, ...], names: dict[str, Any]) -> tuple[int, int, int]:
    dims = [int(evaluate(d, names)) for d in _dims(value)]
    return tuple(dims + [1] * (3 - len(dims)))  # type: ignore[return-value]


def _fits(max_threads: int, threadgroup: tuple[int, int, int]) -> bool:
    if any(d < 1 for d in threadgroup):
        return False
    x, y, z = threadgroup
    return x * y * z <= max_threads


def sizes_of(
    spec: OpSpec, arguments: tuple, outputs: tuple, constants: dict[str, Any] | None = None
) -> dict[str, int]:
    """The spec's named sizes for these arguments (``n``, ``rows``, ...)."""
    names: dict[str, Any] = dict(constants_of(spec, constants))
    names["SIMD_SIZE"] = SIMD_SIZE
    names.update(schema_values(spec.schema, tuple(arguments)))
    names.update({o.name: t for o, t in zip(spec.all_outputs, outputs, strict=True)})
    sizes = {}
    for size_name, expression in spec.sizes:
        names[size_name] = sizes[size_name] = int(evaluate(expression, names))
    return sizes


def plan(
    spec: OpSpec,
    arguments: tuple,
    outputs: tuple[torch.Tensor, ...],
    constants: dict[str, Any] | None = None,
    variant: str = "",
    max_threads: int = MAX_THREADS_PER_THREADGROUP,
) -> list[Launch]:
    """The launches ``plan_<op>`` would make for ``arguments`` (schema order, tensors
    contiguous) and the allocated ``outputs``, with ``constants`` overriding the spec's."""
    if max_threads < SIMD_SIZE:
        raise ValueError(
            f"{spec.name}: max_threads must be at least {SIMD_SIZE}, got {max_threads}"
        )
    limit = min(max_threads, MAX_THREADS_PER_THREADGROUP) // SIMD_SIZE * SIMD_SIZE
    names: dict[str, Any] = dict(constants_of(spec, constants))
    names["SIMD_SIZE"] = SIMD_SIZE
    names["max_threads"] = limit
    names.update(schema_values(spec.schema, tuple(arguments)))  # trailing defaults filled in
    output_specs = spec.all_outputs
    names.update({o.name: t for o, t in zip(output_specs, outputs, strict=True)})
    for size_name, expression in spec.sizes:
        names[size_name] = int(evaluate(expression, names))
    variants = {v.name: v for v in spec.variants}
    if variant and variant not in variants:
        raise ValueError(
            f"{spec.name}: unknown variant '{variant}'; expected one of {', '.join(variants)}"
        )
    if all(t.numel() == 0 for t in outputs):
        return []
    fits = {
        v.name: all(_fits(limit, _geometry(la.threadgroup, names)) for la in v.all_launches())
        for v in spec.variants
    }
    if variant:
        chosen = variants[variant]
        if not fits[variant]:
            raise ValueError(
                f"{spec.name}: variant {variant} needs more threads per threadgroup than the "
                f"limit {limit}"
            )
    else:
        chosen = next((v for v in spec.variants if evaluate(v.when, names) and fits[v.name]), None)
        if chosen is None:
            raise RuntimeError(
                f"{spec.name}: no kernel variant accepts these sizes with at most {limit} "
                "threads per threadgroup"
            )
    if chosen.requires != "true" and not evaluate(chosen.requires, names):
        raise ValueError(f"{spec.name}: variant {chosen.name} needs {chosen.requires}")
    params = _param_bytes(spec, names)
    dtype_tensor = names[spec.dtype_tensor]
    dtype = DTYPE_NAME[dtype_tensor.dtype]
    scope = dict(names)
    for temporary in chosen.temporaries:
        shape = evaluate(temporary.shape, names)
        if temporary.dtype.startswith("like "):
            like = names[temporary.dtype[5:]]
            scope[temporary.name] = torch.empty(shape, dtype=like.dtype, device=like.device)
        else:
            scope[temporary.name] = torch.empty(
                shape, dtype=TORCH_DTYPE[temporary.dtype], device=dtype_tensor.device
            )
    output_names = {o.name for o in output_specs}
    launches = []
    for launch in chosen.all_launches():
        bindings = []
        for buffer in launch.buffers or spec.buffers:
            tensor = scope[buffer.tensor]
            if tensor is None:  # an absent optional binds its fallback
                tensor = scope[buffer.fallback or output_specs[0].like]
            bindings.append((buffer.index, tensor, buffer.tensor in output_names or buffer.output))
        kernel = launch.kernels[0]
        if launch.select:  # one of several specializations, by the spec's expression
            choice = int(evaluate(launch.select, names))
            if not 0 <= choice < len(launch.kernels):
                raise RuntimeError(f"{spec.name}: kernel choice {choice} is out of range")
            kernel = launch.kernels[choice]
        made = Launch(
            library=spec.name,
            kernel=kernel_name(spec.name, kernel, dtype),
            variant=chosen.name,
            buffers=bindings,
            bytes=[(spec.params_index, params)],
            threadgroup_memory=[
                (index, int(evaluate(length, names))) for index, length in launch.threadgroup_memory
            ],
            grid=_geometry(launch.grid, names),
            threadgroup=_geometry(launch.threadgroup, names),
            dispatch=launch.dispatch,
        )
        if 0 in made.grid:
            continue
        _check_limits(made, limit)
        launches.append(made)
    return launches


def _check_limits(launch: Launch, limit: int) -> None:
    """LaunchPlan::check_limits (csrc/launch_plan.cpp), same order and kinds of error."""
    threads = launch.threads_per_threadgroup
    if not 1 <= threads <= limit:
        raise RuntimeError(
            f"kernel {launch.kernel} planned {threads} threads per threadgroup; the pipeline "
            f"allows 1 to {limit}"
        )
    memory = sum(length for _, length in launch.threadgroup_memory)
    unaligned = any(length % 16 for _, length in launch.threadgroup_memory)
    if unaligned or memory > MAX_THREADGROUP_MEMORY:
        raise RuntimeError(f"kernel {launch.kernel} plans bad threadgroup memory {memory}")
    for _, data in launch.bytes:
        if len(data) >= MAX_SET_BYTES:
            raise RuntimeError(f"kernel {launch.kernel} passes {len(data)} bytes with setBytes")
    for dim in range(3):
        per_group = launch.threadgroup[dim] if launch.dispatch == "threadgroups" else 1
        if per_group and launch.grid[dim] > MAX_GRID_THREADS // per_group:
            raise ValueError(
                f"input too large for kernel {launch.kernel}: its grid would span "
                f"{launch.grid[dim]} x {per_group} threads along dimension {dim}"
            )


def contiguous_arguments(spec: OpSpec, arguments: tuple) -> tuple:
    """What ``prepare_<op>`` does first: tensor arguments made contiguous, except the
    spec's ``strided`` ones, which its kernels read through their strides."""
    names = [name for _, name in spec.arguments]
    return tuple(
        a.contiguous() if isinstance(a, torch.Tensor) and names[i] not in spec.strided else a
        for i, a in enumerate(arguments)
    )


__all__ = ["ExpressionError", "Launch", "constants_of", "plan", "with_constants"]
