"""Op specs as data.

An ``OpSpec`` is everything the generator needs to write one op family: the schema, the
dtypes, the argument checks, the outputs, the kernel variants with their launches and
geometry, the typed constants shared by the Metal kernel and the host, the params struct
laid out for both, the torch reference (the one definition of the op's math), the selftest
samples and the modules a patch may swap. Specs are frozen dataclasses; each remembers the
file and line it was declared at, so every error names the spec file and the field.

Expressions inside a spec (``when``, ``grid``, ``value``, output ``shape`` ...) are small C++
expressions over the op's arguments, its outputs, the spec's named ``sizes``, its
constants and ``max_threads`` (the pipeline's limit on threads per threadgroup, a multiple
of 32); the generator pastes them into the launch plan verbatim. The only Python
expressions are an output's ``fake_shape`` (symbolic shapes for torch.compile) and the
reference and sample functions.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

DTYPES = ("float32", "float16", "bfloat16")

# Storage dtype name -> (Metal type, ATen scalar type). One table for every template.
METAL_TYPE = {"float32": "float", "float16": "half", "bfloat16": "bfloat"}
ATEN_SCALAR_TYPE = {
    "float32": "at::kFloat",
    "float16": "at::kHalf",
    "bfloat16": "at::kBFloat16",
    "int32": "at::kInt",
    "int64": "at::kLong",
    "uint8": "at::kByte",
    "bool": "at::kBool",
}
# Dtypes an output or a temporary may have besides "like <tensor>".
FIXED_DTYPES = tuple(ATEN_SCALAR_TYPE)

# Params-struct field types: spec name -> (Metal type, C++ type). 4-byte scalars only, so
# both compilers lay the struct out identically without any packing pragmas.
PARAM_TYPES = {"uint": ("uint", "uint32_t"), "int": ("int", "int32_t"), "float": ("float", "float")}

# Constant types: spec name -> (Metal type, host C++ type). Host integers are int64_t so the
# plan's arithmetic on sizes never mixes signed and unsigned.
CONSTANT_TYPES = {
    "uint": ("uint", "int64_t"),
    "int": ("int", "int64_t"),
    "float": ("float", "double"),
    "bool": ("bool", "bool"),
}

DISPATCH_KINDS = ("threadgroups", "threads")
AUTOGRAD_KINDS = ("none", "reference")


class SpecError(ValueError):
    """A spec is malformed. The message starts with the spec's file and line and names
    the field."""


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

    ``message`` is a C++ argument list for TORCH_CHECK (quoted literals and values).
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
class Output:
    """One returned tensor, allocated contiguous before the launches.

    ``like``: the tensor argument whose dtype, device (and by default shape) it takes.
    ``shape``: C++ expression convertible to ``std::vector<int64_t>`` (default:
    ``like``'s sizes); ``fake_shape``: the same shape as a Python expression over the
    arguments, for the fake impl (must be given together with ``shape``).
    ``dtype``: "like" (``like``'s dtype) or a fixed dtype name ("float32", "int32", ...).
    """

    name: str
    like: str
    shape: str = ""
    fake_shape: str = ""
    dtype: str = "like"


@dataclass(frozen=True)
class Temporary:
    """A scratch tensor a multi-launch variant allocates in its plan (e.g. split-K
    partials). It lives in the plans' buffer bindings until the last launch has run."""

    name: str
    shape: str  # C++ expression convertible to std::vector<int64_t>
    dtype: str = "float32"  # a fixed dtype name, or "like <tensor>"


@dataclass(frozen=True)
class Buffer:
    """A ``[[buffer(index)]]`` binding: an argument, an output or a temporary, by name.

    ``fallback`` names the tensor to bind when an optional argument is absent (the kernel
    is told through a params field and never reads it). ``output`` is derived from the
    name (kept as a field so older specs still read).
    """

    index: int
    tensor: str
    output: bool = False
    fallback: str = ""


@dataclass(frozen=True)
class Param:
    """A field of the op's params struct, passed with ``setBytes`` at ``params_index``."""

    name: str
    type: str
    value: str


@dataclass(frozen=True)
class Constant:
    """A compile-time constant shared by the Metal kernel and the host plan.

    The Metal file declares only the constants its kernels use (``-Wall -Werror`` rejects
    unused program-scope constants); the host gets all of them.
    """

    name: str
    value: int | float | bool
    type: str = "uint"


@dataclass(frozen=True)
class Launch:
    """One dispatch of a variant: the kernel function ``<op>_<kernel>`` and its geometry.

    ``kernel`` may be a tuple of kernel functions with the same bindings, one per
    compile-time specialization (decode_attention's head dims): ``select`` is then a C++
    expression giving the index of the one to run (checked at plan time).

    ``grid`` and ``threadgroup`` are one C++ expression or a tuple of up to three (x, y, z).
    ``dispatch`` "threadgroups": ``grid`` counts threadgroups; "threads": it counts threads
    (edge threadgroups partial). ``buffers`` overrides the spec's bindings for this launch.
    ``threadgroup_memory``: (``[[threadgroup(i)]]`` index, C++ byte count) pairs.
    """

    kernel: str | tuple[str, ...]
    grid: str | tuple[str, ...]
    threadgroup: str | tuple[str, ...]
    dispatch: str = "threadgroups"
    buffers: tuple[Buffer, ...] = ()
    threadgroup_memory: tuple[tuple[int, str], ...] = ()
    select: str = ""

    @property
    def kernels(self) -> tuple[str, ...]:
        """The kernel function suffixes this launch may run (one unless ``select``)."""
        return (self.kernel,) if isinstance(self.kernel, str) else tuple(self.kernel)


@dataclass(frozen=True)
class Variant:
    """A kernel variant: when the host picks it, and its launches.

    Single-launch variants give ``grid``/``threadgroup``/``dispatch`` directly (the kernel
    function is ``<op>_<name>``); multi-launch variants give ``launches`` (run in order on
    one stream) and the ``temporaries`` they share. ``when`` is tried in declaration order;
    the first variant whose condition holds *and* whose threadgroups fit ``max_threads``
    wins. ``requires`` is what the variant needs to be correct at all (checked when forced).
    """

    name: str
    doc: str
    when: str
    requires: str = "true"
    grid: str | tuple[str, ...] = ""
    threadgroup: str | tuple[str, ...] = ""
    dispatch: str = "threadgroups"
    launches: tuple[Launch, ...] = ()
    temporaries: tuple[Temporary, ...] = ()

    def all_launches(self) -> tuple[Launch, ...]:
        if self.launches:
            return self.launches
        return (Launch(self.name, self.grid, self.threadgroup, self.dispatch),)


@dataclass(frozen=True)
class PatchTarget:
    """A module class known to compute this op, by qualified name. The patch helper still
    probes every candidate's behaviour; this list names the classes tests must cover."""

    qualname: str


@dataclass(frozen=True)
class OpSpec:
    """One op: see docs/generator.md for every field and where it ends up.

    ``outputs`` defaults to one output named ``out`` like ``output_like``.
    ``tuning`` holds ``Constant``s (or ``(name, int)`` pairs, meaning uint).
    ``samples(dtype, generator)`` returns the op's arguments for the selftest and the
    generic registry-driven tests (odd sizes). ``autograd``: "reference" registers a
    backward computed in float32 from ``torch_reference`` (by ``torch.func.vjp``); "none"
    registers none. ``arg_docs``: argument name -> one line for the wrapper's docstring.
    ``strided``: tensor arguments the kernels read through strides the spec passes in its
    params, so views (transposed, sliced, expanded) reach the plan as they are instead of
    being copied contiguous first.
    """

    name: str
    schema: str
    doc: str
    sizes: tuple[tuple[str, str], ...]
    checks: tuple[Check, ...]
    buffers: tuple[Buffer, ...]
    params: tuple[Param, ...]
    params_index: int
    tuning: tuple[Constant | tuple[str, int], ...]
    variants: tuple[Variant, ...]
    cpu_reference: str
    torch_reference: Callable
    samples: Callable | None = None
    output_like: str = ""
    outputs: tuple[Output, ...] = ()
    dtypes: tuple[str, ...] = DTYPES
    kernel_dtype_of: str = ""  # tensor whose dtype picks the kernel; default first output's like
    autograd: str = "none"
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    arg_docs: tuple[tuple[str, str], ...] = ()
    patch_targets: tuple[PatchTarget, ...] = ()
    # Tensor arguments the kernels read through their own strides (passed in params), so
    # prepare binds them as they are, views included, instead of a contiguous copy.
    strided: tuple[str, ...] = ()
    # Hand-written headers under csrc/ the op's .cpp includes (helpers its cpu_reference or
    # size expressions call, e.g. "quantized.h").
    cpp_includes: tuple[str, ...] = ()
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
        return [(t, n) for t, n, _ in parse_schema(self.schema, self.location)[1]]

    @property
    def defaults(self) -> dict[str, str]:
        """Argument name -> default as written in the schema (``float eps=1e-06``)."""
        return {n: d for _, n, d in parse_schema(self.schema, self.location)[1] if d is not None}

    @property
    def choices_of(self) -> dict[str, tuple[str, ...]]:
        """``str`` argument name -> its allowed values, in spec order."""
        return {name: tuple(values) for name, values in self.choices}

    @property
    def all_outputs(self) -> tuple[Output, ...]:
        if self.outputs:
            return self.outputs
        return (Output("out", like=self.output_like),)

    @property
    def constants(self) -> tuple[Constant, ...]:
        return tuple(
            c if isinstance(c, Constant) else Constant(c[0], c[1], "uint") for c in self.tuning
        )

    @property
    def dtype_tensor(self) -> str:
        return self.kernel_dtype_of or self.all_outputs[0].like

    def kernel_functions(self) -> list[str]:
        """Metal function suffixes, in first-use order (variants may share a pass)."""
        seen: list[str] = []
        for variant in self.variants:
            for launch in variant.all_launches():
                for kernel in launch.kernels:
                    if kernel not in seen:
                        seen.append(kernel)
        return seen

    def kernel_names(self) -> list[tuple[str, str, str]]:
        """(kernel function suffix, dtype, host name) for every instantiated kernel."""
        return [
            (kernel, dtype, kernel_name(self.name, kernel, dtype))
            for kernel in self.kernel_functions()
            for dtype in self.dtypes
        ]


def constants_of(spec: OpSpec, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec's constants by name, with ``overrides`` (ValueError for an unknown name or
    a value of the wrong kind)."""
    values = {c.name: c.value for c in spec.constants}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ValueError(
                f"{spec.name}: tuning constant {name!r} does not exist; the spec declares "
                f"{sorted(values)}"
            )
        kind = next(c.type for c in spec.constants if c.name == name)
        ok = (
            isinstance(value, bool)
            if kind == "bool"
            else isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind == "float"
            else isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok or (kind == "uint" and value < 0):
            raise ValueError(f"{spec.name}: tuning constant {name} is a {kind}, got {value!r}")
        values[name] = value
    return values


def with_constants(spec: OpSpec, overrides: dict[str, Any]) -> OpSpec:
    """The spec with its tuning constants replaced (same types, same order)."""
    values = constants_of(spec, overrides)
    tuning = tuple(Constant(c.name, values[c.name], c.type) for c in spec.constants)
    return replace(spec, tuning=tuning)


def kernel_name(op: str, kernel: str, dtype: str) -> str:
    """The one function that names kernels: the Metal instantiations and the host's table
    are both generated from it, so they cannot disagree."""
    return f"{op}_{kernel}_{dtype}"


_SCHEMA = re.compile(r"^(?P<name>\w+)\((?P<args>[^)]*)\)\s*->\s*(?P<ret>.+)$")
_ARG_TYPES = {"Tensor", "Tensor?", "float", "float?", "int", "bool", "str"}
_RETURNS = re.compile(r"^(Tensor|\(\s*Tensor(\s*,\s*Tensor)*\s*\))$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def parse_schema(
    schema: str, where: Location
) -> tuple[str, list[tuple[str, str, str | None]], str]:
    """(name, [(type, name, default or None)], returns) of ``name(args) -> ret``."""
    match = _SCHEMA.match(schema.strip())
    if not match:
        raise SpecError(f"{where}: schema: {schema!r} is not of the form 'name(args) -> ret'")
    arguments = []
    for piece in filter(None, (p.strip() for p in match["args"].split(","))):
        declaration, _, default = piece.partition("=")
        parts = declaration.split()
        if len(parts) != 2 or parts[0] not in _ARG_TYPES:
            raise SpecError(
                f"{where}: schema: argument {piece!r} must be '<type> <name>[=default]' with "
                f"type one of {sorted(_ARG_TYPES)}"
            )
        arguments.append((parts[0], parts[1], default.strip() if default else None))
    return match["name"], arguments, match["ret"].strip()


def return_count(schema: str, where: Location) -> int:
    returns = parse_schema(schema, where)[2]
    if not _RETURNS.match(returns):
        raise SpecError(
            f"{where}: schema: returns {returns!r}; expected 'Tensor' or '(Tensor, Tensor, ...)'"
        )
    return returns.count("Tensor")


def _dims(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def validate(spec: OpSpec) -> None:
    where = spec.location

    def fail(field_name: str, message: str) -> None:
        raise SpecError(f"{where}: {field_name}: {message}")

    name, arguments, _ = parse_schema(spec.schema, where)
    if name != spec.name:
        fail("schema", f"names op {name!r} but the spec is {spec.name!r}")
    argument_names = [n for _, n, _ in arguments]
    if len(set(argument_names)) != len(argument_names):
        fail("schema", f"argument names {argument_names} must be distinct")
    count = return_count(spec.schema, where)
    if spec.outputs and spec.output_like:
        fail("output_like", "give either outputs or output_like, not both")
    if not spec.outputs and not spec.output_like:
        fail("outputs", "an op needs outputs (or output_like for one output like an argument)")
    outputs = spec.all_outputs
    if len(outputs) != count:
        fail("outputs", f"{len(outputs)} outputs declared but the schema returns {count}")
    tensors = {n for t, n in spec.arguments if t.startswith("Tensor")}
    required_tensors = {n for t, n in spec.arguments if t == "Tensor"}
    output_names = [o.name for o in outputs]
    if len(set(output_names)) != len(output_names) or set(output_names) & set(argument_names):
        fail("outputs", f"output names {output_names} must be distinct and not argument names")
    for output in outputs:
        if output.like not in required_tensors:
            fail(
                "outputs", f"output {output.name!r}: like={output.like!r} is not a Tensor argument"
            )
        if bool(output.shape) != bool(output.fake_shape):
            fail("outputs", f"output {output.name!r}: give shape and fake_shape together")
        if output.dtype != "like" and output.dtype not in FIXED_DTYPES:
            fail(
                "outputs",
                f"output {output.name!r}: dtype {output.dtype!r}; expected 'like' "
                f"or one of {FIXED_DTYPES}",
            )
    for name in spec.strided:
        if name not in tensors:
            fail("strided", f"{name!r} is not a Tensor argument; expected one of {sorted(tensors)}")
    if spec.dtype_tensor not in required_tensors:
        fail("kernel_dtype_of", f"{spec.dtype_tensor!r} is not a Tensor argument")
    unknown = [d for d in spec.dtypes if d not in DTYPES]
    if unknown:
        fail("dtypes", f"unknown dtypes {unknown}; expected a subset of {DTYPES}")
    for check in spec.checks:
        if check.kind not in ("value", "type"):
            fail(
                "checks",
                f"check {check.condition!r} has kind {check.kind!r}; expected 'value' or 'type'",
            )
    for param in spec.params:
        if param.type not in PARAM_TYPES:
            fail(
                "params",
                f"param {param.name!r} has type {param.type!r}; expected one of "
                f"{sorted(PARAM_TYPES)}",
            )
    constant_names = [c.name for c in spec.constants]
    if len(set(constant_names)) != len(constant_names):
        fail("tuning", f"constant names {constant_names} must be distinct")
    for constant in spec.constants:
        if constant.type not in CONSTANT_TYPES:
            fail(
                "tuning",
                f"constant {constant.name!r} has type {constant.type!r}; expected "
                f"one of {sorted(CONSTANT_TYPES)}",
            )
        if not _IDENTIFIER.match(constant.name):
            fail("tuning", f"constant name {constant.name!r} is not an identifier")
    for include in spec.cpp_includes:
        if not re.match(r"^[\w./-]+\.h$", include) or include.startswith(("/", ".")):
            fail("cpp_includes", f"{include!r} is not a header path relative to csrc/")
    if spec.autograd not in AUTOGRAD_KINDS:
        fail("autograd", f"{spec.autograd!r}; expected one of {AUTOGRAD_KINDS}")
    if spec.samples is None:
        fail("samples", "an op needs samples(dtype, generator) -> arguments (selftest, tests)")
    _validate_choices(spec, arguments, fail)
    unknown_docs = [n for n, _ in spec.arg_docs if n not in argument_names]
    if unknown_docs:
        fail("arg_docs", f"{unknown_docs} are not schema arguments")
    if not spec.variants:
        fail("variants", "an op needs at least one kernel variant")
    names = [v.name for v in spec.variants]
    if len(set(names)) != len(names):
        fail("variants", f"variant names {names} must be distinct")
    for variant in spec.variants:
        temporaries = [t.name for t in variant.temporaries]
        bindable = tensors | set(output_names) | set(temporaries)
        for temporary in variant.temporaries:
            if temporary.dtype not in FIXED_DTYPES and not (
                temporary.dtype.startswith("like ") and temporary.dtype[5:] in tensors
            ):
                fail(
                    "variants",
                    f"{variant.name}: temporary {temporary.name!r} has dtype "
                    f"{temporary.dtype!r}; expected 'like <tensor>' or one of {FIXED_DTYPES}",
                )
        if variant.launches and (variant.grid or variant.threadgroup):
            fail("variants", f"{variant.name}: give launches or grid/threadgroup, not both")
        if not variant.launches and not (variant.grid and variant.threadgroup):
            fail("variants", f"{variant.name}: needs grid and threadgroup (or launches)")
        for launch in variant.all_launches():
            label = f"{variant.name}/{'|'.join(launch.kernels)}"
            if not launch.kernels or not all(_IDENTIFIER.match(k) for k in launch.kernels):
                fail("variants", f"{label}: kernel must be a name or a tuple of names")
            if (len(launch.kernels) > 1) != bool(launch.select):
                fail(
                    "variants",
                    f"{label}: a launch gives select (the index of the kernel to run) exactly "
                    "when it names several kernels",
                )
            for geometry in ("grid", "threadgroup"):
                dims = _dims(getattr(launch, geometry))
                if not 1 <= len(dims) <= 3 or not all(dims):
                    fail("variants", f"{label}: {geometry} must be 1 to 3 C++ expressions")
            if launch.dispatch not in DISPATCH_KINDS:
                fail(
                    "variants",
                    f"{label}: dispatch {launch.dispatch!r}; expected one of {DISPATCH_KINDS}",
                )
            buffers = launch.buffers or spec.buffers
            indices = [b.index for b in buffers] + [spec.params_index]
            if len(set(indices)) != len(indices):
                fail(
                    "buffers",
                    f"{label}: buffer indices {indices} (params at "
                    f"params_index={spec.params_index}) must be distinct",
                )
            for buffer in buffers:
                if buffer.tensor not in bindable:
                    fail(
                        "buffers",
                        f"{label}: buffer {buffer.index} binds unknown tensor "
                        f"{buffer.tensor!r}; expected one of {sorted(bindable)}",
                    )
                if buffer.fallback and buffer.fallback not in required_tensors:
                    fail(
                        "buffers",
                        f"buffer {buffer.index}: fallback {buffer.fallback!r} is "
                        "not a Tensor argument",
                    )
            if (
                not any(b.tensor in output_names for b in buffers)
                and len(variant.all_launches()) == 1
            ):
                fail("buffers", f"{label}: no buffer binds an output ({output_names})")


_CHOICE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _validate_choices(spec: OpSpec, arguments, fail) -> None:
    """Every ``str`` argument has a non-empty set of plain-word choices holding its default
    (so the C++ and Python checks can quote them), and choices name only ``str`` arguments."""
    strings = {name: default for type_name, name, default in arguments if type_name == "str"}
    declared = [name for name, _ in spec.choices]
    if len(set(declared)) != len(declared):
        fail("choices", f"arguments {declared} must be distinct")
    for name, values in spec.choices:
        if name not in strings:
            fail("choices", f"{name!r} is not a str argument of the schema")
        if isinstance(values, str) or not values or len(set(values)) != len(values):
            fail("choices", f"{name}: {values!r} must be a non-empty tuple of distinct values")
        bad = [v for v in values if not isinstance(v, str) or not _CHOICE.match(v)]
        if bad:
            fail("choices", f"{name}: {bad} must be plain words (letters, digits, _ . + -)")
    for name, default in strings.items():
        if name not in declared:
            fail("choices", f"str argument {name!r} needs its allowed values in choices")
        if default is not None:
            quoted = len(default) >= 2 and default[0] == default[-1] and default[0] in "\"'"
            value = default[1:-1] if quoted else None
            if value is None or value not in dict(spec.choices)[name]:
                fail(
                    "choices",
                    f"{name}: default {default} is not a quoted one of {dict(spec.choices)[name]}",
                )
