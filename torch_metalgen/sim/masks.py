"""Stored comparison masks used as numbers: refused, because here they would be -1.

A vector comparison is a `boolN` in Metal and converts to 1 where it holds. Compiled as
C++, it is clang's integer mask, -1 where it holds. The rewrite converts a comparison
converted in place (`float4(a > b)`: `from_mask`), but it cannot see types, so a mask
stored first and converted later (`auto m = a > b; ... float4(m)`, `float(m.x)`, `m.x * 2`)
would silently compute with -1. This pass finds those on clang's AST and makes them a
compile error naming the variable and both lines, so a kernel that relies on Metal's
conversion never runs wrong here. Uses that mean the same in both (`select(a, b, m)`,
`all(m)`, `any(m)`, `!m`, `m.x && ...`, `if (m.x)`, masks combined with `&`/`|`/`^`) pass.
The same pass is the safety net for conversions made in place in a form the rewrite does
not see (a vector alias from another header, `static_cast<vec<float, 4>>(a > b)`).
"""

from __future__ import annotations

from .conformance import Tracker
from .errors import MetalCompileError

_MASK_OPCODES = {"<", ">", "<=", ">=", "==", "!=", "&&", "||"}
# Operators that keep a mask a mask: the consumer is whatever takes their result.
_MASK_PRESERVING = {"&", "|", "^"}
_ARITHMETIC = {"+", "-", "*", "/", "%", "<<", ">>"}
# The rewrite's conversions (sim/rewrite.py): each turns the mask's -1 into a number.
_CONVERSIONS = {"make_vec", "vector_cast", "static_cast_"}
_TRANSPARENT_CASTS = {"LValueToRValue", "NoOp"}


def _is_vector(node: dict) -> bool:
    t = node.get("type", {})
    return "ext_vector_type" in f"{t.get('qualType', '')} {t.get('desugaredQualType', '')}"


def _peel(node: dict) -> dict:
    while True:
        kind = node.get("kind")
        inner = node.get("inner", [])
        if not inner:
            return node
        if kind in ("ParenExpr", "ExprWithCleanups", "ConstantExpr", "MaterializeTemporaryExpr"):
            node = inner[0]
        elif kind == "ImplicitCastExpr" and node.get("castKind") in _TRANSPARENT_CASTS:
            node = inner[0]
        else:
            return node


def _is_mask_expression(node: dict) -> bool:
    node = _peel(node)
    kind = node.get("kind")
    if kind == "BinaryOperator" and node.get("opcode") in _MASK_OPCODES:
        return _is_vector(node)
    if kind == "UnaryOperator" and node.get("opcode") == "!":
        return _is_vector(node)
    return False


def _initializer(node: dict) -> dict | None:
    expressions = [c for c in node.get("inner", []) if not c.get("kind", "").endswith("Attr")]
    return expressions[-1] if expressions else None


def _callee_name(call: dict) -> str:
    stack = list(call.get("inner", [])[:1])
    while stack:
        current = stack.pop()
        if current.get("kind") == "DeclRefExpr" and current.get("referencedDecl"):
            return current["referencedDecl"].get("name", "")
        stack.extend(current.get("inner", []))
    return ""


def _numeric_use(parents: list[dict], child: dict) -> str | None:
    """How the mask reference `child` (whose ancestors are `parents`, innermost last) is
    used as a number, or None when its use means the same in Metal."""
    for parent in reversed(parents):
        kind = parent.get("kind", "")
        if kind in ("ParenExpr", "ExtVectorElementExpr", "ExprWithCleanups", "ConstantExpr"):
            child = parent
            continue
        if kind == "ImplicitCastExpr":
            cast = parent.get("castKind")
            if cast in _TRANSPARENT_CASTS:
                child = parent
                continue
            if cast in ("IntegralToFloating", "IntegralCast"):
                return "converted to a number"
            return None
        if kind in ("CStyleCastExpr", "CXXFunctionalCastExpr", "CXXStaticCastExpr"):
            return "converted to a number"
        if kind == "CallExpr":
            name = _callee_name(parent)
            return "converted to a number" if name in _CONVERSIONS else None
        if kind in ("BinaryOperator", "CompoundAssignOperator"):
            opcode = parent.get("opcode")
            if opcode in _MASK_PRESERVING and kind == "BinaryOperator":
                child = parent
                continue
            if opcode in _ARITHMETIC or opcode.removesuffix("=") in _ARITHMETIC:
                return f"an operand of '{opcode}'"
            if opcode == "=" and parent.get("inner", [None])[-1] is child:
                target = parent.get("inner", [{}])[0]
                return None if _is_vector(target) else "stored into a number"
            return None
        if kind == "VarDecl":
            return None if _is_vector(parent) else f"stored into '{parent.get('name', '')}'"
        return None
    return None


def _converts_a_mask_in_place(node: dict) -> bool:
    """A numeric conversion whose operand is a vector comparison (or `!`, `&&`, `||` of
    vectors) that the rewrite did not route through from_mask: a type it cannot see as a
    vector (an alias from another header, `vec<float, 4>` in a static_cast)."""
    kind = node.get("kind", "")
    if kind == "CallExpr":
        if _callee_name(node) not in _CONVERSIONS:
            return False
    elif kind not in ("CStyleCastExpr", "CXXFunctionalCastExpr", "CXXStaticCastExpr"):
        return False
    if "bool" in node.get("type", {}).get("qualType", ""):
        return False
    operands = node.get("inner", [])[1:] if kind == "CallExpr" else node.get("inner", [])[:1]
    return len(operands) == 1 and _is_mask_expression(operands[0])


def stored_mask_uses(root: dict, main_file: str) -> list[str]:
    """Every use of a vector-comparison mask as a number in the user's code that would
    compute with -1 here (stored masks, and conversions the rewrite did not catch), as
    'file:line: ...'."""
    masks: dict[str, tuple[str, str]] = {}  # VarDecl id -> (name, where declared)
    found: list[str] = []
    tracker = Tracker(main_file)

    def visit(node: dict, parents: list[dict]) -> None:
        user, where = tracker.enter(node)
        if node.get("isImplicit"):
            return
        kind = node.get("kind")
        if user and kind == "VarDecl" and _is_vector(node):
            initializer = _initializer(node)
            if initializer is not None and _is_mask_expression(initializer):
                masks[node["id"]] = (node.get("name", ""), where)
        if user and _converts_a_mask_in_place(node):
            entry = (
                f"{where}: a vector comparison converted to a number where it is made, in a "
                "form the simulator does not rewrite: Metal's boolN converts its true lanes to "
                "1, the simulator's integer mask to -1. Write it as float4(a > b), "
                "(float4)(a > b) or static_cast<float4>(a > b), or use select()"
            )
            if entry not in found:
                found.append(entry)
        if user and kind == "DeclRefExpr":
            declaration = node.get("referencedDecl", {})
            if declaration.get("id") in masks:
                use = _numeric_use(parents, node)
                if use:
                    name, declared = masks[declaration["id"]]
                    entry = (
                        f"{where}: the vector comparison stored in '{name}' (at {declared}) is "
                        f"{use}: Metal's boolN converts its true lanes to 1, the simulator's "
                        "integer mask to -1. Convert the comparison where it is made "
                        "(float4(a > b)) or use select()"
                    )
                    if entry not in found:
                        found.append(entry)
        parents.append(node)
        for child in node.get("inner", []):
            visit(child, parents)
        parents.pop()

    visit(root, [])
    return found


def check_stored_masks(root: dict, main_file: str) -> None:
    """Raises MetalCompileError listing the uses (see stored_mask_uses)."""
    uses = stored_mask_uses(root, main_file)
    if uses:
        raise MetalCompileError(
            f"{main_file} uses stored comparison masks as numbers, which the simulator "
            "cannot run as Metal does (docs/simulator.md, Fidelity limits):\n  "
            + "\n  ".join(uses[:40])
        )
