"""Evaluates the small C++ expressions of an op spec (``when``, ``grid``, ``threadgroup``,
``sizes``, params values) in Python: the kernel search computes a candidate's launch plan
with its own tuning constants without rebuilding the extension (generator/search/plan.py),
and the runtime finds the size bucket of a call from the registry's ``sizes``
(torch_metalgen/tuning.py).

The language is the subset specs use: integer, floating and string literals, names,
``+ - * / %``, comparisons, ``&& || !``, ``?:``, calls (``ceil_div``, ``round_up``,
``tile_x``, ``tile_y``, ``leading_rows``, ``std::min<int64_t>``, ``std::max<int64_t>``,
``std::clamp<int64_t>``, ``std::sqrt``, ``static_cast<T>``, functional casts ``double(x)``),
member calls on tensors
(``x.size(-1)``, ``mask->dim()``, ``up.has_value()``), ``has_value()`` and ``*`` on optional
scalars (``scale.has_value() ? *scale : 1.0``) and ``std::vector<int64_t>{...}``.
Anything else is an ``ExpressionError`` naming the expression: the plan the C++ compiler
builds from the same text is the reference, and tests compare the two on every spec.
Integer arithmetic follows C++ int64 (division truncates toward zero).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch

SIMD_SIZE = 32
MAX_THREADS_PER_THREADGROUP = 1024


Thunk = Callable[[], Any]


class ExpressionError(ValueError):
    """An expression outside the supported subset, or one that fails to evaluate."""


_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[uUlLfF]*)"
    r'|(?P<string>"[A-Za-z0-9_ .-]*")'
    r"|(?P<name>(?:std::|at::)?[A-Za-z_]\w*(?:<\s*[\w:]+\s*>)?)"
    r"|(?P<op>->|&&|\|\||==|!=|<=|>=|[-+*/%<>!?:(),.{}]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot read {text!r} at {text[position : position + 20]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _c_div(a: Any, b: Any) -> Any:
    if isinstance(a, float) or isinstance(b, float):
        return a / b
    if b == 0:
        raise ExpressionError("integer division by zero")
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def _c_mod(a: int, b: int) -> int:
    if b == 0:
        raise ExpressionError("integer modulo by zero")
    return a - _c_div(a, b) * b


def _ceil_div(a: int, b: int) -> int:
    return _c_div(a + b - 1, b)


def _round_up(a: int, b: int) -> int:
    return _ceil_div(a, b) * b


def _tile_x(cols: int, limit: int) -> int:
    return max(1, min(_round_up(cols, SIMD_SIZE), limit))


def _tile_y(cols: int, rows: int, limit: int) -> int:
    return max(1, min(rows, _c_div(limit, _tile_x(cols, limit))))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ceil_div": _ceil_div,
    "round_up": _round_up,
    "tile_x": _tile_x,
    "tile_y": _tile_y,
    "std::min<int64_t>": min,
    "std::max<int64_t>": max,
    "std::min": min,
    "std::max": max,
    "std::clamp<int64_t>": lambda value, low, high: max(low, min(value, high)),
    "std::sqrt": lambda v: math.sqrt(v),
    "std::log2": lambda v: math.log2(v),
    "double": float,
    "float": float,
    "int64_t": int,
    "std::isfinite": lambda v: v == v and abs(v) != float("inf"),
    "is_supported_dtype": lambda dtype: dtype in (torch.float32, torch.float16, torch.bfloat16),
    # csrc/quantized.h: the product of a tensor's leading dimensions (rows of (rows, size(-1))).
    "leading_rows": lambda view: math.prod(view.call("sizes", [])[:-1]),
}
CASTS = {"int64_t": int, "int32_t": int, "uint32_t": int, "uint64_t": int, "int": int}
CASTS |= {"double": float, "float": float, "bool": bool}
NAMES = {"true": True, "false": False, "INT32_MAX": 2**31 - 1, "UINT32_MAX": 2**32 - 1}
NAMES |= {"at::kBool": torch.bool, "at::kFloat": torch.float32, "at::kHalf": torch.float16}
NAMES |= {"at::kBFloat16": torch.bfloat16, "at::kInt": torch.int32, "at::kLong": torch.int64}


class TensorView:
    """The tensor methods spec expressions call, on a torch tensor (or an absent optional:
    ``tensor=None``, where only ``has_value()`` may be asked)."""

    def __init__(self, tensor: torch.Tensor | None):
        self.tensor = tensor

    def _present(self) -> torch.Tensor:
        if self.tensor is None:
            raise ExpressionError("an absent optional tensor was used (guard it with has_value())")
        return self.tensor

    def call(self, method: str, arguments: list[Any]) -> Any:
        if method == "has_value":
            return self.tensor is not None
        tensor = self._present()
        table = {
            "size": lambda i: tensor.size(i),
            "stride": lambda i: tensor.stride(i),
            "dim": lambda: tensor.dim(),
            "numel": lambda: tensor.numel(),
            "storage_offset": lambda: tensor.storage_offset(),
            "element_size": lambda: tensor.element_size(),
            "scalar_type": lambda: tensor.dtype,
            "sizes": lambda: tuple(tensor.shape),
        }
        if method not in table:
            raise ExpressionError(f"tensor method {method}() is not supported")
        return table[method](*arguments)


class _Parser:
    """Parses into thunks (zero-argument callables), so ``?:``, ``&&`` and ``||`` evaluate
    only the side C++ would: ``mask.has_value() && mask->dim() >= 4`` never touches an
    absent mask."""

    def __init__(self, text: str, names: Mapping[str, Any]):
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0
        self.names = names

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise ExpressionError(f"{self.text!r}: expected {expected or 'more'}, got {token}")
        self.position += 1
        return token

    def at(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] in ops

    # Precedence climbing, C++ order: ?: < || < && < == != < < <= > >= < + - < * / % < unary.
    def expression(self) -> Thunk:
        condition = self.binary(0)
        if not self.at("?"):
            return condition
        self.take("?")
        if_true = self.expression()
        self.take(":")
        if_false = self.expression()
        return lambda: if_true() if condition() else if_false()

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Thunk:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.at(*self._LEVELS[level]):
            op = self.take()[1]
            right = self.binary(level + 1)
            if op == "&&":
                left = (lambda a, b: lambda: bool(a()) and bool(b()))(left, right)
            elif op == "||":
                left = (lambda a, b: lambda: bool(a()) or bool(b()))(left, right)
            else:
                left = (lambda o, a, b: lambda: _apply(o, a(), b()))(op, left, right)
        return left

    def unary(self) -> Thunk:
        if self.at("!", "-", "+", "*"):
            op = self.take()[1]
            inner = self.unary()
            if op == "!":
                return lambda: not inner()
            if op == "-":
                return lambda: -inner()
            return inner  # unary + and *optional (the tensor itself)
        return self.postfix()

    def arguments(self, close: str = ")") -> list[Thunk]:
        values = []
        while not self.at(close):
            values.append(self.expression())
            if not self.at(close):
                self.take(",")
        self.take(close)
        return values

    def postfix(self) -> Thunk:
        value = self.primary()
        while self.at(".", "->"):
            self.take()
            kind, method = self.take()
            if kind != "name":
                raise ExpressionError(f"{self.text!r}: expected a method name after '.'")
            self.take("(")
            arguments = self.arguments()

            def call(target=value, method=method, arguments=arguments):
                tensor = target()
                if method == "has_value" and not isinstance(tensor, TensorView):
                    return True  # a present optional scalar (an absent one is a TensorView(None))
                if not isinstance(tensor, TensorView):
                    raise ExpressionError(f"{self.text!r}: {method}() called on a non-tensor")
                return tensor.call(method, [a() for a in arguments])

            value = call
        return value

    def primary(self) -> Thunk:
        kind, value = self.take()
        if kind == "number":
            digits = value.rstrip("uUlLfF")
            number = int(digits) if re.fullmatch(r"\d+", digits) else float(digits)
            return lambda: number
        if kind == "string":
            text = value[1:-1]
            return lambda: text
        if kind == "op" and value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind != "name":
            raise ExpressionError(f"{self.text!r}: unexpected {value!r}")
        if value.startswith("std::vector<") and self.at("{"):
            self.take("{")
            elements = self.arguments("}")
            return lambda: [e() for e in elements]
        if value.startswith("static_cast<"):
            cast = CASTS.get(value[len("static_cast<") : -1].strip(), lambda v: v)
            self.take("(")
            (argument,) = self.arguments()
            return lambda: cast(argument())
        if self.at("("):
            function = FUNCTIONS.get(value)
            if function is None:
                raise ExpressionError(f"{self.text!r}: function {value}() is not supported")
            self.take("(")
            arguments = self.arguments()
            return lambda: function(*(a() for a in arguments))
        if value in self.names:
            found = self.names[value]
            if isinstance(found, torch.Tensor) or found is None:
                view = TensorView(found)
                return lambda: view
            return lambda: found
        if value in NAMES:
            return lambda: NAMES[value]
        raise ExpressionError(f"{self.text!r}: unknown name {value!r}")


def _apply(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return _c_div(left, right)
    if op == "%":
        return _c_mod(left, right)
    comparisons = {
        "==": lambda: left == right,
        "!=": lambda: left != right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
    }
    return comparisons[op]()  # only the one asked for (dtypes have == but no <)


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The value of C++ expression ``text`` with ``names`` in scope (tensors, optionals as
    a tensor or None, numbers). ExpressionError if it is outside the subset."""
    parser = _Parser(text, names)
    thunk = parser.expression()
    if parser.peek() is not None:
        raise ExpressionError(f"{text!r}: unexpected {parser.peek()[1]!r}")
    try:
        value = thunk()
    except (TypeError, ZeroDivisionError, IndexError) as error:
        raise ExpressionError(f"{text!r}: {error}") from None
    if isinstance(value, TensorView):
        raise ExpressionError(f"{text!r} is a tensor, not a value")
    return value


def schema_values(schema: str, arguments: tuple) -> dict[str, Any]:
    """Schema argument name -> value: ``arguments`` in schema order, then the defaults."""
    parsed = torch._C.parse_schema(schema).arguments
    if len(arguments) > len(parsed):
        raise ValueError(f"{schema}: got {len(arguments)} arguments")
    values = {}
    for index, argument in enumerate(parsed):
        if index < len(arguments):
            values[argument.name] = arguments[index]
        elif argument.has_default_value():
            values[argument.name] = argument.default_value
        else:
            raise ValueError(f"{schema}: argument {argument.name!r} is missing")
    return values
