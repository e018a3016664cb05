"""Finds kernels and their parameter attributes in clang's JSON AST.

The rewrite turned Metal attributes into ``clang::annotate("metal", kind, args...)``;
clang keeps them on the declarations, with their arguments evaluated. Parameter
*types* are not interpreted here: the generated launcher checks them in C++.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import MetalCompileError

# Layout of the shadow tree written by build.py: <dir>/shadow/<absolute original path>,
# each file starting with `#line 1 "<original>"`, the main file also with an #include.
SHADOW_MARKER = "/shadow/"
SHADOW_PRELUDE_LINES = 1
SHADOW_MAIN_PRELUDE_LINES = 2


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    kind: str  # "buffer" | "threadgroup" | "builtin"
    index: int = -1  # binding index for buffer / threadgroup
    builtin: str = ""


@dataclass(frozen=True)
class FunctionConstant:
    """`constant T name [[function_constant(index)]];` of the translation unit."""

    name: str
    type: str
    index: int
    file: str
    line: int


@dataclass(frozen=True)
class Kernel:
    host_name: str
    callee: str  # C++ expression naming the function (or instance pointer)
    parameters: tuple[Parameter, ...]
    file: str
    line: int
    max_total_threads_per_threadgroup: int = 0


@dataclass
class _Location:
    """Tracks the current source position while walking the JSON dump, which omits
    file/line when they equal the last printed ones. Positions in the shadow tree
    (rewritten copies, see build.py) are mapped back to the original file and line."""

    main_file: str = ""
    actual_file: str = ""
    actual_line: int = 0

    def update(self, loc: dict | None) -> None:
        if not loc:
            return
        for nested in ("spellingLoc", "expansionLoc"):
            if nested in loc:
                self.update(loc[nested])
        if "file" in loc:
            self.actual_file = loc["file"]
        if "line" in loc:
            self.actual_line = loc["line"]

    @property
    def file(self) -> str:
        if SHADOW_MARKER in self.actual_file:
            return "/" + self.actual_file.split(SHADOW_MARKER, 1)[1]
        return self.actual_file

    @property
    def line(self) -> int:
        if SHADOW_MARKER not in self.actual_file:
            return self.actual_line
        offset = SHADOW_MAIN_PRELUDE_LINES if self.file == self.main_file else SHADOW_PRELUDE_LINES
        return self.actual_line - offset


@dataclass
class _Function:
    name: str
    qualified: str
    annotations: list[list]
    parameters: list[tuple[str, str, list[list], str, int]]
    file: str
    line: int
    is_pattern: bool


@dataclass
class _Collected:
    functions: dict[str, _Function] = field(default_factory=dict)
    by_name: dict[str, list[_Function]] = field(default_factory=dict)
    instances: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    constants: list[FunctionConstant] = field(default_factory=list)


_METAL_ANNOTATIONS = {
    "kernel",
    "host_name",
    "buffer",
    "threadgroup",
    "builtin",
    "max_total_threads_per_threadgroup",
    "unsupported",
    "function_constant",
}


def _literal(node: dict):
    """Value of an annotate argument: a string literal or an evaluated constant."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.get("kind") == "StringLiteral":
            return json.loads(current["value"])
        stack.extend(reversed(current.get("inner", [])))
    value = node.get("value")
    if value is not None:
        try:
            return int(value)
        except ValueError:
            return value
    return None


def _annotations(node: dict) -> list[list]:
    found = []
    for child in node.get("inner", []):
        if child.get("kind") != "AnnotateAttr":
            continue
        # The annotation string itself ("metal") is not in the dump; the arguments are.
        args = [_literal(arg) for arg in child.get("inner", [])]
        if args and args[0] in _METAL_ANNOTATIONS:
            found.append(args)
    return found


def _walk(
    node: dict, scope: list[str], location: _Location, out: _Collected, in_template: bool
) -> None:
    location.update(node.get("loc"))
    start_file, start_line = location.file, location.line  # the declaration's name
    for key in ("begin", "end"):
        location.update(node.get("range", {}).get(key))
    kind = node.get("kind")
    if kind == "FunctionDecl":
        annotations = _annotations(node)
        parameters = []
        for child in node.get("inner", []):
            location.update(child.get("loc"))
            child_file, child_line = location.file, location.line
            for key in ("begin", "end"):
                location.update(child.get("range", {}).get(key))
            if child.get("kind") == "ParmVarDecl":
                parameters.append(
                    (
                        child.get("name", ""),
                        child.get("type", {}).get("qualType", ""),
                        _annotations(child),
                        child_file,
                        child_line,
                    )
                )
            _walk_children(child, scope, location, out, in_template)
        if annotations or any(p[2] for p in parameters):
            name = node.get("name", "")
            function = _Function(
                name=name,
                qualified="::".join([*scope, name]),
                annotations=annotations,
                parameters=parameters,
                file=start_file,
                line=start_line,
                is_pattern=in_template and "templateArgs" not in node,
            )
            out.functions[node["id"]] = function
            out.by_name.setdefault(function.qualified, []).append(function)
        return
    if kind == "VarDecl":
        for annotation in _annotations(node):
            if annotation and annotation[0] == "function_constant":
                out.constants.append(
                    FunctionConstant(
                        str(annotation[2]),
                        node.get("type", {}).get("qualType", ""),
                        int(annotation[1]),
                        start_file,
                        start_line,
                    )
                )
            if annotation and annotation[0] == "host_name":
                target = _referenced_function(node)
                variable = "::".join([*scope, node.get("name", "")])
                out.instances.append(
                    (annotation[1], variable, target or "", start_file, start_line)
                )
    child_scope = scope
    if kind in ("NamespaceDecl", "CXXRecordDecl") and node.get("name"):
        child_scope = [*scope, node["name"]]
    _walk_children(node, child_scope, location, out, in_template or kind == "FunctionTemplateDecl")


def _walk_children(node, scope, location, out, in_template):
    for child in node.get("inner", []):
        _walk(child, scope, location, out, in_template)


def _referenced_function(node: dict) -> str | None:
    stack = list(node.get("inner", []))
    while stack:
        current = stack.pop()
        ref = current.get("referencedDecl")
        if current.get("kind") == "DeclRefExpr" and ref and ref.get("kind") == "FunctionDecl":
            return ref["id"]
        stack.extend(current.get("inner", []))
    return None


# Address spaces as clang prints them in parameter types (include/metalsim/qualifiers.h).
_THREADGROUP_SPACE = "address_space(3)"


def _implicit_kind(type_text: str) -> str | None:
    """The binding Metal gives a parameter declared without an attribute: a pointer or
    reference to threadgroup memory takes a threadgroup index, one to device or constant
    memory (an array parameter decays to a pointer) a buffer index; other parameters need
    an attribute."""
    if not any(c in type_text for c in "*&["):
        return None
    return "threadgroup" if _THREADGROUP_SPACE in type_text else "buffer"


def _parameters(function: _Function, kernel_name: str) -> tuple[Parameter, ...]:
    """Parameters with their bindings. Parameters without an attribute get the lowest
    index of their kind that no parameter of the kernel uses, in declaration order (Metal
    assigns unattributed buffer and threadgroup arguments in order; ggml binds every
    argument this way)."""
    explicit = {"buffer": set(), "threadgroup": set()}
    for _, _, attributes, _, _ in function.parameters:
        for a in attributes:
            if a and a[0] in explicit and a[1:] and isinstance(a[1], int):
                explicit[a[0]].add(a[1])
    taken = {kind: set(indices) for kind, indices in explicit.items()}
    result = []
    for name, type_text, attributes, file, line in function.parameters:
        where = f"{file}:{line}"
        bindings = [a for a in attributes if a and a[0] in ("buffer", "threadgroup", "builtin")]
        unsupported = [a for a in attributes if a and a[0] == "unsupported"]
        if unsupported:
            raise MetalCompileError(
                f"{where}: kernel '{kernel_name}' parameter '{name}' uses [[{unsupported[0][1]}]], "
                "which the simulator does not support (textures, samplers, stage_in and "
                "function constants are not simulated)."
            )
        implicit = _implicit_kind(type_text) if not bindings else None
        if implicit:
            index = min(set(range(31)) - taken[implicit])
            taken[implicit].add(index)
            result.append(Parameter(name, type_text, implicit, index=index))
            continue
        if len(bindings) != 1:
            raise MetalCompileError(
                f"{where}: kernel '{kernel_name}' parameter '{name}' ({type_text}) needs exactly "
                "one of [[buffer(i)]], [[threadgroup(i)]] or a builtin attribute such as "
                "[[thread_position_in_grid]]."
            )
        kind, *args = bindings[0]
        if kind == "builtin":
            result.append(Parameter(name, type_text, "builtin", builtin=str(args[0])))
        else:
            index = args[0] if args else None
            if not isinstance(index, int) or not 0 <= index < 31:
                raise MetalCompileError(
                    f"{where}: kernel '{kernel_name}' parameter '{name}': [[{kind}(i)]] needs a "
                    f"constant index 0..30, got {index!r}."
                )
            result.append(Parameter(name, type_text, kind, index=index))
    return tuple(result)


def _is_kernel(function: _Function) -> bool:
    return any(a[0] == "kernel" for a in function.annotations)


def _max_threads(function: _Function) -> int:
    for annotation in function.annotations:
        if annotation and annotation[0] == "max_total_threads_per_threadgroup":
            return int(annotation[1])
    return 0


def kernels_from_ast(ast_json: str, main_file: str) -> list[Kernel]:
    """Kernels of a translation unit: plain `kernel` functions and host_name instances."""
    return read_translation_unit(json.loads(ast_json), main_file)[0]


def read_translation_unit(
    root: dict, main_file: str
) -> tuple[list[Kernel], list[FunctionConstant]]:
    """Kernels (plain `kernel` functions and host_name instances) and function constants
    of a translation unit's JSON AST."""
    collected = _Collected()
    _walk(root, [], _Location(main_file=main_file), collected, False)
    kernels: list[Kernel] = []
    # Template kernels are launched through their [[host_name]] instances only.
    templated = {f.qualified for f in collected.functions.values() if f.is_pattern}
    seen_plain: set[str] = set()
    for function in collected.functions.values():
        if not _is_kernel(function) or function.qualified in templated:
            continue
        if function.qualified in seen_plain:  # a redeclaration
            continue
        seen_plain.add(function.qualified)
        host = next((a[1] for a in function.annotations if a[0] == "host_name"), function.name)
        kernels.append(
            Kernel(
                host,
                "&" + function.qualified,
                _parameters(function, host),
                function.file,
                function.line,
                _max_threads(function),
            )
        )
    for host, variable, target, file, line in collected.instances:
        function = collected.functions.get(target)
        if function is None:
            raise MetalCompileError(
                f'{file}:{line}: kernel instantiation [[host_name("{host}")]] does not name a '
                "function the simulator can find."
            )
        if not _is_kernel(function):
            pattern = next(
                (f for f in collected.by_name.get(function.qualified, []) if f.is_pattern), None
            )
            if pattern is None or not _is_kernel(pattern):
                raise MetalCompileError(
                    f'{file}:{line}: [[host_name("{host}")]] instantiates '
                    f"'{function.qualified}', which is not declared [[kernel]]."
                )
            function = _Function(
                function.name,
                function.qualified,
                pattern.annotations,
                function.parameters,
                function.file,
                function.line,
                False,
            )
        kernels.append(
            Kernel(host, variable, _parameters(function, host), file, line, _max_threads(function))
        )
    names = [k.host_name for k in kernels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MetalCompileError(f"{main_file}: kernel names defined twice: {duplicates}")
    indices = [c.index for c in collected.constants]
    twice = sorted({i for i in indices if indices.count(i) > 1})
    if twice:
        raise MetalCompileError(f"{main_file}: function constant indices used twice: {twice}")
    return kernels, collected.constants
