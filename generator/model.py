"""Op specs as data.

An ``OpSpec`` is everything the generator needs to write one op family: the schema, the
dtypes, the argument checks, the kernel variants with their launch geometry, the tuning
constants shared by the Metal kernel and the host, the params struct laid out for both,
the torch reference and the modules a patch may swap. Specs are frozen dataclasses; each
remembers the file and line it was declared at, so every error points at the spec.

Expressions inside a spec (``when``, ``grid``, ``value`` ...) are small C++ expressions over
the op's arguments and the spec's named ``sizes``; the generator pastes them into the
launch plan verbatim, so the only language a kernel author writes host logic in is C++.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

DTYPES = ("float32", "float16", "bfloat16")

# Storage dtype name -> (Metal type, ATen scalar type). One table for every template.
METAL_TYPE = {"float32": "float", "float16": "half", "bfloat16": "bfloat"}
ATEN_SCALAR_TYPE = {"float32": "at::kFloat", "float16": "at::kHalf", "bfloat16": "at::kBFloat16"}

# Params-struct field types: spec name -> (Metal type, C++ type). 4-byte scalars only, so
# both compilers lay the struct out identically without any packing pragmas.
PARAM_TYPES = {"uint": ("uint", "uint32_t"), "int": ("int", "int32_t"), "float": ("float", "float")}


class SpecError(ValueError):
    """A spec is malformed. The message starts with the spec's file and line."""


@dataclass(frozen=True)
class Location:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @staticmethod
    def of_caller(depth: int = 2) -> Location:
        frame = inspect.stack()[depth]
        return Location(frame.filename, frame.lineno)


@dataclass(frozen=True)
class Check:
    """One argument check: ``condition`` (C++) must hold, else ``message`` names the argument.

    ``kind`` picks the exception: "value" -> ValueError, "type" -> TypeError (via
    TORCH_CHECK_VALUE / TORCH_CHECK_TYPE), so Python callers can catch them precisely.
    ``only_if`` guards checks on optional arguments. ``before_sizes`` checks run before the
    spec's ``sizes`` are computed (e.g. the rank check that makes ``x.size(-1)`` safe).
    """

    condition: str
    message: str
    kind: str = "value"
    only_if: str = ""
    before_sizes: bool = False


@dataclass(frozen=True)
class Buffer:
    """A ``[[buffer(index)]]`` binding: an argument tensor or the output.

    ``fallback`` names the tensor to bind when an optional argument is absent (the kernel
    is told through a params field and never reads it).
    """

    index: int
    tensor: str
    output: bool = False
    fallback: str = ""


@dataclass(frozen=True)
class Param:
    """A field of the op's params struct, passed with ``setBytes`` at ``Params.index``."""

    name: str
    type: str
    value: str


@dataclass(frozen=True)
class Variant:
    """A kernel variant: its Metal function, when the host picks it, and its geometry.

    ``grid`` counts threadgroups (``dispatchThreadgroups``); ``threadgroup`` counts threads.
    ``when`` is tried in declaration order; the first variant whose condition holds wins.
    ``requires`` is what the variant needs to be correct at all (checked when forced).
    """

    name: str
    doc: str
    when: str
    requires: str
    grid: str
    threadgroup: str


@dataclass(frozen=True)
class PatchTarget:
    """A module class known to compute this op, by qualified name. The patch helper still
    probes every candidate's behaviour; this list names the classes tests must cover."""

    qualname: str


@dataclass(frozen=True)
class OpSpec:
    name: str
    schema: str
    doc: str
    sizes: tuple[tuple[str, str], ...]
    checks: tuple[Check, ...]
    buffers: tuple[Buffer, ...]
    params: tuple[Param, ...]
    params_index: int
    tuning: tuple[tuple[str, int], ...]
    variants: tuple[Variant, ...]
    output_like: str
    cpu_reference: str
    torch_reference: Callable
    dtypes: tuple[str, ...] = DTYPES
    patch_targets: tuple[PatchTarget, ...] = ()
    location: Location = field(default_factory=lambda: Location.of_caller(3))

    def __post_init__(self) -> None:
        validate(self)

    # Names derived in one place, for every template and for the host.
    @property
    def params_struct(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + "Params"

    @property
    def arguments(self) -> list[tuple[str, str]]:
        """(type, name) pairs parsed from the schema, e.g. [("Tensor", "x"), ("Tensor?", "w")]."""
        return parse_schema(self.schema, self.location)[1]

    def kernel_names(self) -> list[tuple[str, str, str]]:
        """(variant, dtype, host name) for every instantiated kernel, in a fixed order."""
        return [
            (variant.name, dtype, kernel_name(self.name, variant.name, dtype))
            for variant in self.variants
            for dtype in self.dtypes
        ]


def kernel_name(op: str, variant: str, dtype: str) -> str:
    """The one function that names kernels: the Metal instantiations and the host's table
    are both generated from it, so they cannot disagree."""
    return f"{op}_{variant}_{dtype}"


_SCHEMA = re.compile(r"^(?P<name>\w+)\((?P<args>[^)]*)\)\s*->\s*(?P<ret>.+)$")
_ARG_TYPES = {"Tensor", "Tensor?", "float", "int", "bool"}


def parse_schema(schema: str, where: Location) -> tuple[str, list[tuple[str, str]], str]:
    match = _SCHEMA.match(schema.strip())
    if not match:
        raise SpecError(f"{where}: schema {schema!r} is not of the form 'name(args) -> ret'")
    arguments = []
    for piece in filter(None, (p.strip() for p in match["args"].split(","))):
        parts = piece.split()
        if len(parts) != 2 or parts[0] not in _ARG_TYPES:
            raise SpecError(
                f"{where}: schema argument {piece!r} must be '<type> <name>' with type one of "
                f"{sorted(_ARG_TYPES)}"
            )
        arguments.append((parts[0], parts[1]))
    return match["name"], arguments, match["ret"].strip()


def validate(spec: OpSpec) -> None:
    where = spec.location
    name, arguments, returns = parse_schema(spec.schema, where)
    if name != spec.name:
        raise SpecError(f"{where}: schema names op {name!r} but the spec is {spec.name!r}")
    if returns != "Tensor":
        raise SpecError(f"{where}: only single-Tensor returns are supported, got {returns!r}")
    unknown = [d for d in spec.dtypes if d not in DTYPES]
    if unknown:
        raise SpecError(f"{where}: unknown dtypes {unknown}; expected a subset of {DTYPES}")
    tensors = {n for t, n in arguments if t.startswith("Tensor")} | {"out"}
    indices = [b.index for b in spec.buffers] + [spec.params_index]
    if len(set(indices)) != len(indices):
        raise SpecError(f"{where}: buffer indices {indices} must be distinct")
    for buffer in spec.buffers:
        if buffer.tensor not in tensors:
            raise SpecError(
                f"{where}: buffer {buffer.index} binds unknown tensor {buffer.tensor!r}"
            )
    if sum(b.output for b in spec.buffers) != 1:
        raise SpecError(f"{where}: exactly one buffer must be the output")
    for param in spec.params:
        if param.type not in PARAM_TYPES:
            raise SpecError(
                f"{where}: param {param.name!r} has type {param.type!r}; expected one of "
                f"{sorted(PARAM_TYPES)}"
            )
    if not spec.variants:
        raise SpecError(f"{where}: an op needs at least one kernel variant")
    names = [v.name for v in spec.variants]
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: variant names {names} must be distinct")
    if spec.output_like not in tensors:
        raise SpecError(f"{where}: output_like {spec.output_like!r} is not a tensor argument")
