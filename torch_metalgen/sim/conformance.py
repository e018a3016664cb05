"""Strict MSL conformance: rejects, on clang's AST, what C++ allows and Metal does not.

The simulator compiles MSL as C++, so without this pass recursion, `new`, lambdas,
`printf` and the rest would compile and run here and then fail on a Mac (or, worse,
be found only there). Each check names the construct, the .metal file and line, and
the rule. MSL is C++14-based; the rules cited are the MSL specification's (Apple,
"Metal Shading Language Specification", version 3.2): section 1.4 "Metal and C++14"
lists the C++ features Metal does not support (lambda expressions, recursive function
calls, dynamic_cast, type identification, new and delete, noexcept, goto, register and
thread_local, virtual functions, exceptions, the C++ standard library), section 2.5
its atomic types, section 4 its address spaces (program-scope variables must be in
the constant address space), section 5.1 its function qualifiers (kernels return
void), section 6.15 its atomic functions.

Only the user's code is checked: nodes whose location is in the rewritten shadow tree
and not spelled inside one of the simulator's own macros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import MetalCompileError
from .frontend import SHADOW_MAIN_PRELUDE_LINES, SHADOW_MARKER, SHADOW_PRELUDE_LINES, Kernel

RESTRICTIONS = "MSL specification 1.4 (Metal and C++14): Metal does not support {what}"
ADDRESS_SPACES = "MSL specification 4 (address spaces): {what}"
KERNELS = "MSL specification 5.1 (function qualifiers): {what}"
ATOMICS = "MSL specification 2.5 and 6.15 (atomic types and functions): {what}"

# C library and compiler built-ins that would run on the host CPU; Metal has none.
_HOST_FUNCTIONS = {
    "printf",
    "fprintf",
    "sprintf",
    "snprintf",
    "puts",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "alloca",
    "abort",
    "exit",
    "getpid",
    "time",
    "rand",
}
# Built-ins the simulator's own headers need are called only there; from user code a
# __builtin_ call is a host facility unless listed here (clang lowers these inline).
_ALLOWED_BUILTINS = {"__builtin_expect", "__builtin_assume", "__builtin_unreachable"}
_ALLOWED_BUILTINS |= {
    f"__builtin_{op}{w}" for op in ("ctz", "clz", "popcount") for w in ("", "l", "ll")
}
_FUNCTION_POINTER = re.compile(r"\(\s*[*&]+\s*(?:const\s*)?\)\s*\(")
_ATOMIC_ELEMENT = re.compile(r"\batomic<\s*([^<>]+?)\s*>")
_ALLOWED_ATOMICS = {"int", "uint", "unsigned int", "float", "bool", "ulong", "unsigned long"}
# Operations each atomic element type supports (MSL 6.15): float only add/sub (and
# exchange, load, store, compare-exchange); 64-bit ulong only min/max (MSL 3.1+).
_FLOAT_ATOMIC_OPS = {"load", "store", "exchange", "compare_exchange_weak"}
_FLOAT_ATOMIC_OPS |= {"compare_exchange_strong", "fetch_add", "fetch_sub"}
_ULONG_ATOMIC_OPS = {"load", "store", "fetch_min", "fetch_max"}
_ATOMIC_CALL = re.compile(r"^atomic_(\w+?)_explicit$")


@dataclass
class Tracker:
    """Current position in the JSON dump, which omits file and line when unchanged."""

    main_file: str
    file: str = ""
    line: int = 0
    spelled_in_macro_file: str = ""
    node_where: str = ""  # where the node being checked is

    def _bare(self, loc: dict) -> None:
        # clang prints a file (and line) only when it differs from the last one it
        # printed, spelling and expansion locations alike: one state for both.
        if "file" in loc:
            self.file = loc["file"]
        if "line" in loc:
            self.line = loc["line"]

    def update(self, loc: dict | None) -> None:
        if not loc:
            return
        if "spellingLoc" in loc or "expansionLoc" in loc:
            self._bare(loc.get("spellingLoc", {}))
            spelled = self.file
            self._bare(loc.get("expansionLoc", {}))
            self.spelled_in_macro_file = spelled
            return
        self._bare(loc)
        self.spelled_in_macro_file = self.file

    def enter(self, node: dict) -> tuple[bool, str]:
        """Advance past `node`'s own position (its `loc`, a declaration's name, else its
        range's start; both update the dump's running state, in the order clang prints
        them) and its range's end. Returns whether the node is the user's code and where
        it is."""
        loc, span = node.get("loc"), node.get("range", {})
        self.update(loc if loc else span.get("begin"))
        user, where = self.user, self.where()
        if loc:
            self.update(span.get("begin"))
        self.update(span.get("end"))
        return user, where

    @property
    def user(self) -> bool:
        """In the user's source, not spelled in one of the simulator's macros."""
        return SHADOW_MARKER in self.file and (
            SHADOW_MARKER in self.spelled_in_macro_file or not self.spelled_in_macro_file
        )

    def where(self) -> str:
        original = "/" + self.file.split(SHADOW_MARKER, 1)[1] if SHADOW_MARKER in self.file else ""
        offset = SHADOW_MAIN_PRELUDE_LINES if original == self.main_file else SHADOW_PRELUDE_LINES
        return f"{original or self.file}:{self.line - offset if original else self.line}"


@dataclass
class _State:
    tracker: Tracker
    in_kernel: bool = False
    violations: list[str] = field(default_factory=list)
    kernel_ids: set[str] = field(default_factory=set)
    calls: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # caller -> callees
    names: dict[str, str] = field(default_factory=dict)  # function id -> name
    defined: set[str] = field(default_factory=set)  # names of functions with a body
    declared_only: dict[str, str] = field(default_factory=dict)  # id -> where declared
    first_declaration: dict[str, str] = field(default_factory=dict)  # redeclaration -> first
    # Names of template type parameters: `atomic<T>` in a template is checked in its
    # instantiations, where T is a type.
    template_parameters: set[str] = field(default_factory=set)
    msl4: bool = False  # MSL 4.0 code (build.uses_msl4): lambdas are allowed

    def canonical(self, function_id: str) -> str:
        return self.first_declaration.get(function_id, function_id)

    def report(self, construct: str, rule: str) -> None:
        entry = f"{self.tracker.node_where}: {construct} ({rule})"
        if entry not in self.violations:
            self.violations.append(entry)


def _type(node: dict) -> str:
    t = node.get("type", {})
    return f"{t.get('qualType', '')} {t.get('desugaredQualType', '')}"


def _is_kernel(node: dict) -> bool:
    for child in node.get("inner", []):
        if child.get("kind") == "AnnotateAttr":
            for arg in child.get("inner", []):
                stack = [arg]
                while stack:
                    current = stack.pop()
                    if (
                        current.get("kind") == "StringLiteral"
                        and current.get("value") == '"kernel"'
                    ):
                        return True
                    stack.extend(current.get("inner", []))
    return False


def _has_body(node: dict) -> bool:
    return any(c.get("kind") == "CompoundStmt" for c in node.get("inner", []))


def _check_types(node: dict, state: _State) -> None:
    kind = node.get("kind", "")
    type_text = _type(node)
    name = node.get("name", "")
    declaration = kind.endswith("Decl")
    if declaration and "__int128" in type_text:
        state.report(
            f"'{name or kind}' uses __int128", RESTRICTIONS.format(what="128-bit integers")
        )
    if declaration and "long double" in type_text:
        state.report(
            f"'{name or kind}' uses long double", RESTRICTIONS.format(what="double precision")
        )
    # Objects only: a function pointer as a template argument is resolved at compile time
    # (MLX's FFT passes its radix codelets so), and so is an alias naming its type.
    if kind in ("VarDecl", "ParmVarDecl", "FieldDecl"):
        if _FUNCTION_POINTER.search(type_text) and not name.startswith("metalsim_"):
            state.report(
                f"'{name}' is a function pointer or reference ({node['type']['qualType']})",
                RESTRICTIONS.format(what="function pointers (outside [[visible]] functions)"),
            )
        for element in _ATOMIC_ELEMENT.findall(type_text):
            element_type = element.replace("const", "").strip()
            if element_type in state.template_parameters:
                continue
            if element_type not in _ALLOWED_ATOMICS:
                state.report(
                    f"'{name}' is an atomic<{element}>",
                    ATOMICS.format(what="atomic types are int, uint, bool, float and ulong"),
                )


def _check_variable(node: dict, state: _State, function: str | None, record: bool) -> None:
    name = node.get("name", "")
    if name.startswith("metalsim_"):
        return
    type_text = _type(node)
    constant = (
        "address_space(2)" in type_text or node.get("constexpr") or type_text.startswith("const ")
    )
    if node.get("tls"):
        state.report(f"'{name}' is thread_local", RESTRICTIONS.format(what="thread_local"))
    elif function is not None and node.get("storageClass") == "static" and not constant:
        state.report(
            f"static local variable '{name}' in '{function}'",
            ADDRESS_SPACES.format(
                what="function-scope static variables must be in the constant address space"
            ),
        )
    elif function is None and not record and not constant and node.get("storageClass") != "extern":
        state.report(
            f"mutable program-scope variable '{name}' ({node['type']['qualType']})",
            ADDRESS_SPACES.format(
                what="program-scope variables must be declared in the constant address space"
            ),
        )


def _callee(node: dict) -> dict | None:
    stack = list(node.get("inner", [])[:1])
    while stack:
        current = stack.pop()
        ref = current.get("referencedDecl")
        if current.get("kind") in ("DeclRefExpr", "MemberExpr") and ref:
            if ref.get("kind") in ("FunctionDecl", "CXXMethodDecl"):
                return ref
        stack.extend(current.get("inner", []))
    return None


def _check_atomic_call(node: dict, name: str, state: _State) -> None:
    found = _ATOMIC_CALL.match(name)
    arguments = node.get("inner", [])[1:]
    if not found or not arguments:
        return
    operation = found.group(1)
    object_type = _type(arguments[0])
    elements = _ATOMIC_ELEMENT.findall(object_type) or []
    if "atomic_float" in object_type:
        elements.append("float")
    if "atomic_ulong" in object_type:
        elements.append("ulong")
    for element in elements:
        element = element.strip()
        if element == "float" and operation not in _FLOAT_ATOMIC_OPS:
            state.report(
                f"{name} on an atomic_float",
                ATOMICS.format(what="atomic_float supports only exchange, add and sub"),
            )
        if element in ("ulong", "unsigned long") and operation not in _ULONG_ATOMIC_OPS:
            state.report(
                f"{name} on an atomic_ulong",
                ATOMICS.format(what="64-bit atomics support only min and max (MSL 3.1)"),
            )


def _check_expression(node: dict, state: _State, function: str | None, caller: str | None):
    kind = node.get("kind", "")
    forbidden = {
        "CXXNewExpr": ("new expression", "new and delete"),
        "CXXDeleteExpr": ("delete expression", "new and delete"),
        "LambdaExpr": ("lambda expression", "lambda expressions"),
        "GotoStmt": ("goto statement", "goto"),
        "IndirectGotoStmt": ("computed goto", "goto"),
        "GCCAsmStmt": ("inline assembly", "inline assembly"),
        "MSAsmStmt": ("inline assembly", "inline assembly"),
        "CXXTypeidExpr": ("typeid", "type identification"),
        "CXXNoexceptExpr": ("noexcept operator", "the noexcept operator"),
    }
    if kind == "LambdaExpr" and state.msl4:
        pass  # MSL 4.0 code (Metal 4: MLX's NAX kernels) has lambdas
    elif kind in forbidden:
        construct, what = forbidden[kind]
        state.report(construct, RESTRICTIONS.format(what=what))
    if kind.endswith("CastExpr") and kind != "ImplicitCastExpr":
        if node.get("castKind") == "AddressSpaceConversion":
            state.report(
                f"cast between address spaces ({node['type']['qualType']})",
                ADDRESS_SPACES.format(
                    what="a pointer cannot be cast to another address space (device, constant, "
                    "threadgroup, thread)"
                ),
            )
    if (
        kind == "ImplicitCastExpr"
        and node.get("castKind") == "FloatingCast"
        and not node.get("isPartOfExplicitCast")
    ):
        target = _type(node)
        inner = node.get("inner", [{}])[0]
        source = _type(inner)
        if re.search(r"\b(bfloat|__bf16)\b", target) and re.search(r"\b(float|half)\b", source):
            state.report(
                f"implicit conversion from {source.split()[0]} to bfloat",
                "MSL specification 2.1 (scalar types): bfloat converts from float only "
                "explicitly (bfloat(x), static_cast<bfloat>(x))",
            )
    if kind in ("CallExpr", "CXXMemberCallExpr", "CXXOperatorCallExpr"):
        callee = _callee(node)
        if callee is None:
            return
        name = callee.get("name", "")
        if name in _HOST_FUNCTIONS or (
            name.startswith("__builtin_") and name not in _ALLOWED_BUILTINS
        ):
            state.report(
                f"call to host function '{name}'",
                RESTRICTIONS.format(what="the C and C++ standard libraries (no printf, malloc...)"),
            )
        _check_atomic_call(node, name, state)
        if name == "threadgroup_storage" and function is not None and not state.in_kernel:
            state.report(
                f"threadgroup variable declared in '{function}', which is not a kernel",
                ADDRESS_SPACES.format(
                    what="threadgroup variables can be declared only in kernel functions"
                ),
            )
        if caller is not None:
            state.calls.setdefault(caller, []).append(
                (state.canonical(callee["id"]), state.tracker.node_where)
            )


def _walk(node: dict, state: _State, function: str | None, caller: str | None, record: bool):
    tracker = state.tracker
    user, tracker.node_where = tracker.enter(node)
    kind = node.get("kind", "")
    if node.get("isImplicit"):
        return
    if kind == "TemplateTypeParmDecl" and node.get("name"):
        state.template_parameters.add(node["name"])
    if kind in (
        "FunctionDecl",
        "CXXMethodDecl",
        "CXXConstructorDecl",
        "CXXDestructorDecl",
        "CXXConversionDecl",
    ):
        state.names[node["id"]] = node.get("name", "")
        if "previousDecl" in node:
            state.first_declaration[node["id"]] = state.canonical(node["previousDecl"])
        if user:
            if node.get("virtual") or node.get("pure"):
                state.report(
                    f"virtual function '{node.get('name', '')}'",
                    RESTRICTIONS.format(what="virtual functions"),
                )
            if _is_kernel(node):
                state.kernel_ids.add(state.canonical(node["id"]))
                returns = node.get("type", {}).get("qualType", "").split("(")[0].strip()
                if returns != "void":
                    state.report(
                        f"kernel '{node.get('name', '')}' returns {returns}",
                        KERNELS.format(what="a kernel function must return void"),
                    )
            if _has_body(node):
                state.defined.add(node.get("name", ""))
            elif kind == "FunctionDecl":
                state.declared_only[node["id"]] = tracker.node_where
        outer = state.in_kernel
        state.in_kernel = _is_kernel(node)
        for child in node.get("inner", []):
            _walk(child, state, node.get("name", ""), state.canonical(node["id"]), record)
        state.in_kernel = outer
        return
    if user:
        _check_types(node, state)
        if kind == "VarDecl":
            _check_variable(node, state, function, record)
        _check_expression(node, state, function, caller)
    is_record = kind in ("CXXRecordDecl", "ClassTemplateSpecializationDecl")
    for child in node.get("inner", []):
        _walk(child, state, function, caller, record or is_record)


def _recursion(state: _State) -> None:
    """Cycles in the call graph of the user's functions (recursion, direct or mutual)."""
    color: dict[str, int] = {}

    def visit(caller: str, path: list[str]) -> None:
        color[caller] = 1
        for callee, where in state.calls.get(caller, []):
            if color.get(callee) == 1:
                cycle = [*path[path.index(callee) :], callee] if callee in path else [callee]
                names = " -> ".join(state.names.get(f, "?") for f in cycle)
                entry = (
                    f"{where}: recursive call ({names})"
                    f" ({RESTRICTIONS.format(what='recursive function calls')})"
                )
                if entry not in state.violations:
                    state.violations.append(entry)
            elif color.get(callee) is None and callee in state.calls:
                visit(callee, [*path, callee])
        color[caller] = 2

    for caller in list(state.calls):
        if color.get(caller) is None:
            visit(caller, [caller])


def _kernels_calling_kernels(state: _State) -> None:
    for caller, callees in state.calls.items():
        for callee, where in callees:
            if callee in state.kernel_ids:
                state.violations.append(
                    f"{where}: call to kernel '{state.names.get(callee, '?')}' from "
                    f"'{state.names.get(caller, '?')}' "
                    f"({KERNELS.format(what='a kernel function cannot be called')})"
                )


def _undefined_calls(state: _State) -> None:
    for callees in state.calls.values():
        for callee, where in callees:
            if callee in state.declared_only and state.names.get(callee) not in state.defined:
                name = state.names.get(callee, "?")
                state.violations.append(
                    f"{where}: call to '{name}', declared at {state.declared_only[callee]} and "
                    f"defined nowhere: a host function "
                    f"({RESTRICTIONS.format(what='calls into the C and C++ libraries')})"
                )


def conformance_violations(root: dict, main_file: str, msl4: bool = False) -> list[str]:
    """Every MSL rule the translation unit breaks, as 'file:line: construct (rule)'.
    msl4: the code is MSL 4.0 (Metal 4), whose rules allow lambda expressions."""
    state = _State(Tracker(main_file), msl4=msl4)
    _walk(root, state, None, None, False)
    _recursion(state)
    _kernels_calling_kernels(state)
    _undefined_calls(state)
    return state.violations


def check_conformance(
    root: dict, main_file: str, kernels: list[Kernel], msl4: bool = False
) -> None:
    """Raises MetalCompileError listing the violations (see conformance_violations)."""
    violations = conformance_violations(root, main_file, msl4)
    if violations:
        shown = violations[:40]
        more = f"\n  ... and {len(violations) - 40} more" if len(violations) > 40 else ""
        raise MetalCompileError(f"{main_file} is not valid Metal:\n  " + "\n  ".join(shown) + more)
