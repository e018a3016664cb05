"""Line-preserving rewrite of MSL into C++ that the compatibility headers can compile.

Only what C++ cannot express is rewritten, on tokens (tokens.py), never on regular
expressions over the text. Every replacement keeps the line breaks of what it replaces
(escaped ones inside macro bodies), so clang's diagnostics, ``__LINE__`` and debug info
point at the original .metal line, and the rewrite cannot change the line count:

- Metal attributes become ``[[clang::annotate("metal", kind, args...)]]``, which C++
  accepts after a parameter and which clang's JSON AST keeps (the front end reads them).
- Kernel instantiations, in every form Metal code uses (C++ allows no attributes there)::

      template [[host_name("k")]] [[kernel]] decltype(f<T>) f<T>;
      template [[host_name("k")]] kernel void f<T>(device T* x [[buffer(0)]], ...);
      template [[host_name("k")]] kernel kernel_t f<T>;          // typedef of decltype(f<T>)

  become ``template <declaration>; METALSIM_KERNEL_INSTANCE("k", f<T>)``.
- ``constant T name [[function_constant(i)]];`` becomes ``METALSIM_FUNCTION_CONSTANT(T,
  name, i)``: a constexpr whose value the build supplies (build.py), and
  ``is_function_constant_defined(name)`` reads whether it was supplied.
- ``threadgroup T a[N], b;`` in a function body becomes references into the
  per-threadgroup arena (one copy per threadgroup, poisoned, counted against 32 KiB).
- C-style vector casts ``(int4)v`` convert element-wise, as in Metal (clang would
  reinterpret the bits): they become ``::metalsim::vector_cast<int4>(v)``.
- ``float4(a, b, c, d)`` becomes ``::metalsim::make_vec<float4>(a, b, c, d)``.
- ``0.5h`` and ``0.5bf`` become ``((half)0.5f)`` and ``((bfloat)0.5f)``; unsuffixed
  floating literals get an ``f`` (Metal has no double, its literals are float).
"""

from __future__ import annotations

import re

from .errors import MetalCompileError
from .tokens import Token, code_indices, matching, newlines_of, tokenize

BUILTINS = (
    "thread_position_in_grid",
    "thread_position_in_threadgroup",
    "threadgroup_position_in_grid",
    "threads_per_threadgroup",
    "threadgroups_per_grid",
    "threads_per_grid",
    "thread_index_in_threadgroup",
    "thread_index_in_simdgroup",
    "simdgroup_index_in_threadgroup",
    "threads_per_simdgroup",
    "simdgroups_per_threadgroup",
    "thread_execution_width",
    "dispatch_threads_per_threadgroup",
    "thread_index_in_quadgroup",
    "quadgroup_index_in_threadgroup",
    "quadgroups_per_threadgroup",
    "dispatch_simdgroups_per_threadgroup",
    "dispatch_quadgroups_per_threadgroup",
    "grid_origin",
    "grid_size",
)
_BINDING_ATTRIBUTES = ("buffer", "threadgroup")
_UNSUPPORTED_ATTRIBUTES = (
    "texture",
    "sampler",
    "stage_in",
    "visible",
    "stitchable",
    "vertex",
    "fragment",
    "position",
    "user",
    "color",
    "raster_order_group",
    "payload",
    "mesh",
    "object",
    "imageblock_data",
    "intersection",
    "indirect_return",
    "vertex_id",
    "instance_id",
)
_SCALARS = ("float", "half", "bfloat", "int", "uint", "short", "ushort", "char", "uchar")
_SCALARS += ("long", "ulong", "bool")
VECTOR_TYPES = frozenset(f"{s}{n}" for s in _SCALARS for n in (2, 3, 4))
# Identifiers after which `(` `type` `)` is not a cast but an operand of the keyword.
_NOT_CAST_AFTER = {"sizeof", "alignof", "decltype", "alignas", "noexcept", "typeof"}
# Identifiers after which an expression may start (so `(float4)x` there is a cast).
_EXPRESSION_KEYWORDS = {"return", "case", "else", "do", "co_return", "throw"}
_PREFIX_OPERATORS = {"-", "+", "!", "~", "*", "&", "++", "--"}
# Tokens before `{` that open a block of statements (a function or control body).
_CODE_BLOCK_OPENERS = {")", "else", "do", "try", "const", "threadgroup", "device", "constant"}
_CODE_BLOCK_OPENERS |= {"thread", "noexcept", "mutable", "override", "final", "volatile"}


class _Edits:
    """Non-overlapping replacements of source spans; each keeps the replaced newlines."""

    def __init__(self, text: str):
        self.text = text
        self.items: list[tuple[int, int, int, str]] = []

    def replace(self, start: int, end: int, new: str) -> None:
        self.items.append((start, end, len(self.items), new))

    def apply(self) -> str:
        out, position = [], 0
        for start, end, _, new in sorted(self.items):
            if start < position:
                raise MetalCompileError(
                    f"simulator rewrite bug: overlapping edits at offset {start} "
                    f"(line {self.text.count(chr(10), 0, start) + 1})"
                )
            out.append(self.text[position:start])
            out.append(new.replace("\n", " ") + newlines_of(self.text[start:end]))
            position = end
        out.append(self.text[position:])
        return "".join(out)


class _View:
    """Tokens of one pass, with helpers over the code tokens (no whitespace/comments)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[Token] = tokenize(text)
        self.code = code_indices(self.tokens)

    def __len__(self) -> int:
        return len(self.code)

    def tok(self, k: int) -> Token | None:
        return self.tokens[self.code[k]] if 0 <= k < len(self.code) else None

    def text_at(self, k: int) -> str:
        token = self.tok(k)
        return token.text if token else ""

    def close(self, k: int) -> int:
        return matching(self.tokens, self.code, k)

    def span(self, first: int, last: int) -> str:
        """Source text from code token `first` through `last`, comments included."""
        return self.text[self.tok(first).start : self.tok(last).end]

    def is_attribute_open(self, k: int) -> bool:
        a, b = self.tok(k), self.tok(k + 1)
        return bool(a and b and a.text == "[" and b.text == "[" and a.end == b.start)


# ---- attributes ----------------------------------------------------------------------


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _flat(text: str) -> str:
    """Text on one line: comments dropped, continuations and newlines made spaces."""
    return "".join(" " if t.kind in ("ws", "comment") else t.text for t in tokenize(text)).strip()


def _annotate(kind: str, *args: str) -> str:
    """clang::annotate in the front-end pass; nothing when generating code (qualifiers.h:
    an annotated parameter would stay in memory)."""
    extra = "".join(f", {a}" for a in args)
    return f'METALSIM_ANNOTATE("metal", "{kind}"{extra})'


def _rewrite_attribute(item: str) -> str:
    name_match = re.match(r"^([A-Za-z_][\w:]*)\s*(?:\((.*)\))?$", item, re.S)
    if not name_match:
        return item
    name, args = name_match.group(1), name_match.group(2)
    if name == "kernel":
        return _annotate("kernel")
    if name == "host_name" and args is not None:
        return _annotate("host_name", args.strip())
    if name in _BINDING_ATTRIBUTES and args is not None:
        return _annotate(name, args.strip())
    if name in BUILTINS and args is None:
        return _annotate("builtin", f'"{name}"')
    if name == "max_total_threads_per_threadgroup" and args is not None:
        return _annotate(name, args.strip())
    if name in _UNSUPPORTED_ATTRIBUTES or name == "function_constant":
        text = item.replace("\\", "\\\\").replace('"', '\\"')
        return _annotate("unsupported", f'"{text}"')
    return item  # a C++ attribute (maybe_unused, clang::...) stays as written


def _attribute_items(view: _View, k: int) -> tuple[list[str], int]:
    """Items of the attribute list opening at code token k, and the index after `]]`."""
    end = view.close(k)  # the outer `]`
    if end >= len(view):
        raise MetalCompileError(_where(view, k) + "unterminated attribute list `[[`")
    inner = view.text[view.tok(k + 1).end : view.tok(end - 1).start]
    return _split_top_level(_flat(inner)), end + 1


def _where(view: _View, k: int) -> str:
    token = view.tok(k)
    line = view.text.count("\n", 0, token.start) + 1 if token else 0
    return f"line {line}: "


def _qualified_name_before(view: _View, end: int) -> int:
    """First code token of the qualified template-id ending just before code token `end`
    (``ns::f<T, 2>``)."""
    k = end - 1
    while k >= 0:
        text = view.text_at(k)
        if text == ">":
            depth = 0
            while k >= 0:
                t = view.text_at(k)
                depth += t == ">"
                depth -= t == "<"
                depth += 2 * (t == ">>")
                if depth == 0:
                    break
                k -= 1
            k -= 1
            continue
        if view.tok(k).kind == "ident":
            if view.text_at(k - 1) == "::":
                k -= 2
                continue
            return k
        if text == "::":
            k -= 1
            continue
        break
    return end


def _rewrite_instantiation(view: _View, edits: _Edits, k: int) -> int:
    """`template [[host_name(...)]] ... ;` at code token k; returns the next index."""
    j, host = k + 1, None
    while view.is_attribute_open(j):
        items, j = _attribute_items(view, j)
        for item in items:
            found = re.match(r"^host_name\s*\((.*)\)$", item, re.S)
            if found:
                host = found.group(1).strip()
    if host is None:
        return j  # an explicit instantiation with other attributes: leave it
    semicolon = j
    while semicolon < len(view) and view.text_at(semicolon) != ";":
        if view.text_at(semicolon) in "([{":
            semicolon = view.close(semicolon)
        semicolon += 1
    if semicolon >= len(view):
        raise MetalCompileError(_where(view, k) + f"kernel instantiation {host} has no `;`")
    # The declaration without Metal's `kernel` keyword and attributes, on one line.
    parts: list[str] = []
    body: list[int] = []
    m = j
    while m < semicolon:
        if view.is_attribute_open(m):
            m = view.close(m) + 1
            continue
        if view.text_at(m) in ("kernel", "[[kernel]]"):
            m += 1
            continue
        parts.append(view.text_at(m))
        body.append(m)
        m += 1
    if not body:
        raise MetalCompileError(_where(view, k) + f"kernel instantiation {host} declares nothing")
    # The function: after `decltype(...)`, before a parameter list, or at the end.
    function = None
    if view.text_at(body[0]) == "decltype":
        after = view.close(body[0] + 1) + 1
        function = _flat_join(view, [i for i in body if i >= after])
    else:
        for i in body:
            if view.text_at(i) == "(" and view.text_at(i - 1) == ">":
                first = _qualified_name_before(view, i)
                function = _flat_join(view, [x for x in body if first <= x < i])
                break
        if function is None:
            first = _qualified_name_before(view, semicolon)
            function = _flat_join(view, [x for x in body if x >= first])
    if not function:
        raise MetalCompileError(
            _where(view, k) + f"kernel instantiation {host}: cannot tell which function it names"
        )
    declaration = _flat_join(view, body)
    edits.replace(
        view.tok(k).start,
        view.tok(semicolon).end,
        f"template {declaration}; METALSIM_KERNEL_INSTANCE({host}, {function})",
    )
    return semicolon + 1


def _flat_join(view: _View, indices: list[int]) -> str:
    out = []
    for n, i in enumerate(indices):
        if n and view.tok(i).start != view.tok(indices[n - 1]).end:
            out.append(" ")
        out.append(view.text_at(i))
    return "".join(out)


def _rewrite_function_constant(view: _View, edits: _Edits, k: int, items: list[str], after: int):
    """`constant T name [[function_constant(i)]];` with the attribute at code token k."""
    index = next(
        re.match(r"^function_constant\s*\((.*)\)$", i, re.S).group(1)
        for i in items
        if i.startswith("function_constant")
    )
    name_at = k - 1
    start = name_at - 1
    while (
        start >= 0 and view.text_at(start) not in (";", "{", "}") and not _in_directive(view, start)
    ):
        start -= 1
    # The specifiers before the type: `constant`, `static`, `constexpr`, `const`, or a
    # macro spelling them (MLX's `STEEL_CONST bool inv_ [[function_constant(0)]];`).
    first = start + 1
    specifiers = []
    while first < name_at and (
        view.text_at(first) in _CONSTANT_SPECIFIERS or _MACRO_NAME.match(view.text_at(first))
    ):
        specifiers.append(view.text_at(first))
        first += 1
    if (
        not specifiers
        or set(specifiers) <= {"static", "constexpr", "const"}
        or first >= name_at
        or view.tok(name_at).kind != "ident"
        or view.text_at(after) != ";"
    ):
        raise MetalCompileError(
            _where(view, k) + "[[function_constant(i)]] must follow the name in a program-scope "
            "declaration `constant T name [[function_constant(i)]];`"
        )
    type_text = _flat_join(view, list(range(first, name_at)))
    name = view.text_at(name_at)
    edits.replace(
        view.tok(start + 1).start,
        view.tok(after).end,
        f"METALSIM_FUNCTION_CONSTANT({type_text}, {name}, {_flat(index)})",
    )


def _in_directive(view: _View, k: int) -> bool:
    """Whether code token k is on a preprocessor line (`#include`, `#define` ...)."""
    text, position = view.text, view.tok(k).start
    line_start = text.rfind("\n", 0, position) + 1
    return text[line_start:position].lstrip().startswith("#")


_CONSTANT_SPECIFIERS = {"constant", "static", "constexpr", "const"}
_MACRO_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _attribute_pass(text: str) -> str:
    view, edits = _View(text), _Edits(text)
    k = 0
    while k < len(view):
        token = view.tok(k)
        if token.text == "template" and view.is_attribute_open(k + 1):
            k = _rewrite_instantiation(view, edits, k)
            continue
        if view.is_attribute_open(k):
            items, after = _attribute_items(view, k)
            is_constant = [bool(re.match(r"^function_constant\s*\(", i)) for i in items]
            if any(is_constant) and len(items) > 1:
                # `[[buffer(i), function_constant(c)]]`: an argument present only when c
                # is true; the simulator binds it like any other (the host may bind a
                # placeholder when c is false).
                kept = [
                    _rewrite_attribute(i)
                    for i, fc in zip(items, is_constant, strict=True)
                    if not fc
                ]
                edits.replace(token.start, view.tok(after - 1).end, f"[[{', '.join(kept)}]]")
            elif any(is_constant):
                _rewrite_function_constant(view, edits, k, items, after)
            else:
                rewritten = ", ".join(_rewrite_attribute(i) for i in items)
                edits.replace(token.start, view.tok(after - 1).end, f"[[{rewritten}]]")
            k = after
            continue
        if token.text == "is_function_constant_defined" and view.text_at(k + 1) == "(":
            close = view.close(k + 1)
            if close == k + 3 and view.tok(k + 2).kind == "ident":
                edits.replace(
                    token.start,
                    view.tok(close).end,
                    f"(metalsim_fc_defined_{view.text_at(k + 2)})",
                )
                k = close + 1
                continue
        k += 1
    return edits.apply()


# ---- threadgroup declarations --------------------------------------------------------


def _code_blocks(view: _View) -> list[bool]:
    """For each code token: is it inside a block of statements (a function body)?"""
    inside, stack = [], []
    for k in range(len(view)):
        text = view.text_at(k)
        if text == "{":
            prev = view.text_at(k - 1)
            stack.append(
                bool(stack and stack[-1] and prev not in ("=", ",")) or prev in _CODE_BLOCK_OPENERS
            )
        elif text == "}" and stack:
            stack.pop()
        inside.append(bool(stack and stack[-1]))
    return inside


def _declarators(view: _View, first: int, semicolon: int) -> list[tuple[int, int]]:
    """(start, end) code-token ranges of the comma-separated declarators."""
    ranges, start, k = [], first, first
    while k < semicolon:
        text = view.text_at(k)
        if text in "([{":
            k = view.close(k) + 1
            continue
        if text == ",":
            ranges.append((start, k))
            start = k + 1
        k += 1
    ranges.append((start, semicolon))
    return ranges


def _threadgroup_declaration(view: _View, edits: _Edits, k: int) -> int:
    semicolon = k + 1
    while semicolon < len(view) and view.text_at(semicolon) != ";":
        if view.text_at(semicolon) in "([{":
            semicolon = view.close(semicolon)
        semicolon += 1
    if semicolon >= len(view):
        return k + 1
    # The first declarator's name: the identifier before the first `[`, `=`, `,` or `;`
    # outside template arguments.
    angle, name_at = 0, None
    for m in range(k + 1, semicolon + 1):
        text = view.text_at(m)
        angle += (text == "<") - (text == ">") - 2 * (text == ">>")
        if angle == 0 and text in ("[", "=", ",", ";") and view.tok(m - 1).kind == "ident":
            name_at = m - 1
            break
        if text in ("(", "*", "&", "&&"):
            return k + 1  # a pointer, reference or function: not threadgroup storage
    if name_at is None or name_at == k + 1:
        return k + 1
    type_text = _flat_join(view, list(range(k + 1, name_at)))
    pieces = []
    for start, end in _declarators(view, name_at, semicolon):
        if view.tok(start).kind != "ident":
            return k + 1
        name, dims, m = view.text_at(start), "", start + 1
        while m < end and view.text_at(m) == "[":
            close = view.close(m)
            dims += _flat(view.span(m, close)).replace(" ", "")
            m = close + 1
        if m != end:  # an initializer
            raise MetalCompileError(
                _where(view, start) + f"threadgroup variable '{name}' has an initializer; "
                "threadgroup memory cannot be initialized in its declaration (MSL "
                "specification 4.4, threadgroup address space): assign it after the declaration"
            )
        storage = f"::metalsim::threadgroup_storage<threadgroup {type_text}{dims}>"
        # `auto&`: the type is spelled once, inside the template argument list, where no
        # later pass reads it as an expression (`vec<T, 2> (&x)[N]` would look like a
        # vector constructor call).
        pieces.append(f"auto& {name} = {storage}(METALSIM_THREADGROUP_SITE);")
    edits.replace(view.tok(k).start, view.tok(semicolon).end, " ".join(pieces))
    return semicolon + 1


_ADDRESS_SPACES = {"device", "constant", "threadgroup", "threadgroup_imageblock"}
_METHOD_QUALIFIERS = _ADDRESS_SPACES | {"const", "volatile", "thread", "&", "&&", "noexcept"}


def _address_space_method(view: _View, inside: list[bool], k: int) -> tuple[int, int] | None:
    """A member function qualified with an address space, `T f() const threadgroup {...}`
    (MSL overloads on the address space of `this`; C++ cannot): the code-token range of
    the declaration when the `)` at k closes its parameter list, else None."""
    m = k + 1
    while view.text_at(m) in _METHOD_QUALIFIERS:
        m += 1
    qualifiers = {view.text_at(q) for q in range(k + 1, m)}
    if not qualifiers & _ADDRESS_SPACES or inside[k]:
        return None
    if view.text_at(m) == ":":  # a constructor's member initializers
        while m < len(view) and view.text_at(m) != "{":
            m = view.close(m) + 1 if view.text_at(m) in "([" else m + 1
    if view.text_at(m) == "{":
        end = view.close(m)
    elif view.text_at(m) == ";":
        end = m
    else:
        return None
    start = k
    while (
        start > 0
        and view.text_at(start - 1) not in (";", "{", "}", ":")
        or (start > 1 and view.text_at(start - 1) == ":" and view.text_at(start - 2) == ":")
    ):
        start -= 1
    return start, end


def _array_parameters(view: _View, edits: _Edits) -> None:
    """`constant const int64_t strides[3]` as a parameter (MLX) is a pointer, as every
    array parameter is; clang rejects the address-space-qualified array type, so the
    declarator becomes `*strides`."""
    for k in range(len(view)):
        if view.text_at(k) != "(":
            continue
        close = view.close(k)
        start = k + 1
        for end in [*(m for m in range(k + 1, close) if view.text_at(m) == ","), close]:
            if end - start >= 4 and (
                view.text_at(start) in _ADDRESS_SPACES
                or (view.text_at(start) == "const" and view.text_at(start + 1) in _ADDRESS_SPACES)
            ):
                m = end
                while view.text_at(m - 1) == "]":
                    m = _opening_bracket(view, m - 1)
                if m != end and view.tok(m - 1).kind == "ident":
                    name = view.tok(m - 1)
                    edits.replace(name.start, view.tok(end - 1).end, f"*{name.text}")
            start = end + 1


def _opening_bracket(view: _View, close: int) -> int:
    depth = 0
    for m in range(close, -1, -1):
        depth += (view.text_at(m) == "]") - (view.text_at(m) == "[")
        if depth == 0:
            return m
    return close


def _enclosing_blocks(view: _View) -> list[int]:
    """For each code token: the index of the innermost `{` around it (-1 at file scope)."""
    result, stack = [], []
    for k in range(len(view)):
        text = view.text_at(k)
        result.append(stack[-1] if stack else -1)
        if text == "{":
            stack.append(k)
        elif text == "}" and stack:
            stack.pop()
    return result


def _method_signature(view: _View, close: int, scope: list[int]) -> tuple:
    """What identifies a member function whose parameter list closes at `close`: its
    class body, name and parameter tokens."""
    open_ = _opening_paren(view, close)
    name = view.text_at(open_ - 1)
    if view.text_at(open_ - 2) == "operator":
        name = "operator" + name
    elif view.text_at(open_ - 1) == "operator" or view.text_at(open_ - 2) == "operator":
        name = "operator" + view.text_at(open_ - 1)
    params = tuple(view.text_at(m) for m in range(open_ + 1, close))
    return scope[close], name, params


def _opening_paren(view: _View, close: int) -> int:
    depth = 0
    for m in range(close, -1, -1):
        depth += (view.text_at(m) == ")") - (view.text_at(m) == "(")
        if depth == 0:
            return m
    return close


def _address_space_method_edits(view: _View, edits: _Edits, inside: list[bool]) -> set[int]:
    """MSL overloads member functions on the address space of `this` (`f() threadgroup`,
    `f() const device`); C++ cannot. Of each set of such overloads one is kept: the
    generic (thread) one, or else the first, with its address-space qualifier removed.
    The build then falls back to no address spaces (build.py). Returns the code tokens
    the edits cover."""
    scope = _enclosing_blocks(view)
    methods = []  # (signature, close, qualifier tokens, (start, end) or None)
    for k in range(len(view)):
        if view.text_at(k) != ")" or inside[k] or scope[k] < 0:
            continue
        m = k + 1
        while view.text_at(m) in _METHOD_QUALIFIERS:
            m += 1
        if view.text_at(m) not in ("{", ";", ":", "="):
            continue
        qualifiers = [q for q in range(k + 1, m) if view.text_at(q) in _ADDRESS_SPACES]
        declaration = _address_space_method(view, inside, k) if qualifiers else None
        # const, volatile, & and && overload too (`operator bool() thread` next to
        # `operator bool() const device` is two functions once the address space is gone).
        cv = tuple(
            sorted(
                view.text_at(q)
                for q in range(k + 1, m)
                if view.text_at(q) not in _ADDRESS_SPACES | {"thread", "noexcept"}
            )
        )
        signature = (*_method_signature(view, k, scope), cv)
        methods.append((signature, k, qualifiers, declaration))
    covered: set[int] = set()
    kept: set[tuple] = {sig for sig, _, qualifiers, _ in methods if not qualifiers}
    for signature, _close, qualifiers, declaration in methods:
        if not qualifiers or declaration is None:
            continue
        start, end = declaration
        if signature in kept:  # a generic or already kept overload serves this one
            edits.replace(view.tok(start).start, view.tok(end).end, "")
            covered.update(range(start, end + 1))
        else:
            kept.add(signature)
            for q in qualifiers:
                edits.replace(view.tok(q).start, view.tok(q).end, "")
    return covered


def _threadgroup_pass(text: str) -> str:
    view, edits = _View(text), _Edits(text)
    inside = _code_blocks(view)
    _array_parameters(view, edits)
    dropped = _address_space_method_edits(view, edits, inside)
    k = 0
    while k < len(view):
        if k in dropped:
            k += 1
            continue
        if (
            view.text_at(k) == "threadgroup"
            and inside[k]
            and view.text_at(k - 1) in ("{", "}", ";", ":")
            and view.text_at(k - 2) != "?"
        ):
            k = _threadgroup_declaration(view, edits, k)
            continue
        k += 1
    return edits.apply()


def _free_function_overloads_pass(text: str) -> str:
    """Free functions overloaded on address spaces alone (MLX complex.h: `operator+=` for
    `thread`, `threadgroup` and `device` references) are the same function once the
    address spaces are gone: every overload after the first becomes
    METALSIM_AS_ONLY(...), which the build without address spaces drops (qualifiers.h)."""
    view, edits = _View(text), _Edits(text)
    inside = _code_blocks(view)
    seen: dict[tuple, tuple] = {}
    for k in range(len(view)):
        if inside[k] or view.text_at(k + 1) != "{":
            continue
        if view.text_at(k) == ")":  # a function definition
            body_end = view.close(k + 1)
        elif view.text_at(k) == ">" and _is_class_specialization(view, k):
            body_end = view.close(k + 1)  # `template <class T> struct S<device T*> {...};`
            if view.text_at(body_end + 1) == ";":
                body_end += 1
        else:
            continue
        start = k
        while start > 0 and (
            view.text_at(start - 1) not in (";", "{", "}", ":")
            or (start > 1 and view.text_at(start - 1) == ":" and view.text_at(start - 2) == ":")
        ):
            start -= 1
        raw = tuple(view.text_at(m) for m in range(start, k + 1))
        if not set(raw) & (_ADDRESS_SPACES | {"thread"}):
            continue
        erased = {"thread", "device", "threadgroup", "threadgroup_imageblock"}
        bare = tuple("const" if t == "constant" else t for t in raw if t not in erased)
        if bare in seen and seen[bare] != raw:
            edits.replace(view.tok(start).start, view.tok(start).start, "METALSIM_AS_ONLY(")
            edits.replace(view.tok(body_end).end, view.tok(body_end).end, ")")
        else:
            seen.setdefault(bare, raw)
    return edits.apply()


def _is_class_specialization(view: _View, close: int) -> bool:
    """Whether the `>` at `close` ends `struct Name<...>` (a partial specialization)."""
    depth = 0
    for m in range(close, max(-1, close - 200), -1):
        text = view.text_at(m)
        depth += (text == ">") - (text == "<") + 2 * (text == ">>")
        if depth == 0:
            return view.text_at(m - 2) in ("struct", "class") and view.tok(m - 1).kind == "ident"
        if text in (";", "{", "}"):
            return False
    return False


# ---- vector casts, constructors, literals ---------------------------------------------


def _vector_type_at(view: _View, k: int, names=VECTOR_TYPES) -> tuple[str, int] | None:
    """A vector type name at code token k (``float4`` or ``metal::float4``, or one of
    `names`): its text and the index after it."""
    if view.text_at(k) == "metal" and view.text_at(k + 1) == "::":
        k += 2
    if view.text_at(k) in names:
        return view.text_at(k), k + 1
    return None


def _vector_aliases(view: _View) -> frozenset[str]:
    """Names the file gives vector types: `typedef half4 h4;`, `using complex_T =
    vec<T, 2>;` (MLX), `typedef metal::vec<float, 4> v4;`."""
    names = set()
    for k in range(len(view) - 2):
        text = view.text_at(k)
        if text == "typedef":
            m = k + 1
            if view.text_at(m) == "metal" and view.text_at(m + 1) == "::":
                m += 2
            if view.text_at(m) in VECTOR_TYPES and view.text_at(m + 2) == ";":
                names.add(view.text_at(m + 1))
            elif view.text_at(m) == "vec" and view.text_at(m + 1) == "<":
                end = _template_close(view, m + 1)
                if end and view.text_at(end + 2) == ";":
                    names.add(view.text_at(end + 1))
        elif text == "using" and view.text_at(k + 2) == "=":
            m = k + 3
            if view.text_at(m) == "metal" and view.text_at(m + 1) == "::":
                m += 2
            if view.text_at(m) in VECTOR_TYPES or (
                view.text_at(m) == "vec" and view.text_at(m + 1) == "<"
            ):
                names.add(view.text_at(k + 1))
    return frozenset(names)


def _template_close(view: _View, k: int) -> int | None:
    """The `>` closing the template argument list opening at code token k."""
    depth = 0
    for m in range(k, min(len(view), k + 200)):
        text = view.text_at(m)
        depth += (text == "<") - (text == ">") - 2 * (text == ">>")
        if depth <= 0:
            return m if text == ">" else None
        if text in (";", "{", "}"):
            return None
    return None


def _cast_type_names(view: _View) -> frozenset[str]:
    """Names a C-style cast may use for a vector type: the vector types, template type
    parameters (`typename q4_t`, which may be half4) and the file's vector aliases.
    ::metalsim::vector_cast keeps C semantics for everything that is not a vector."""
    names = set(VECTOR_TYPES) | _vector_aliases(view)
    for k in range(len(view) - 2):
        text = view.text_at(k)
        if text in ("typename", "class") and view.tok(k + 1).kind == "ident":
            if view.text_at(k + 2) in (",", ">", "="):
                names.add(view.text_at(k + 1))
    return frozenset(names)


def _operand_end(view: _View, k: int) -> int:
    """Index after the unary-expression starting at code token k (the operand of a cast),
    or -1 when none starts there."""
    while view.text_at(k) in _PREFIX_OPERATORS:
        k += 1
    token = view.tok(k)
    if token is None:
        return -1
    if token.text == "(":
        cast = _vector_type_at(view, k + 1)
        if cast and view.text_at(cast[1]) == ")":
            return _operand_end(view, cast[1] + 1)
        k = view.close(k) + 1
    elif token.kind == "ident" or token.text == "::":
        while True:
            if view.text_at(k) == "::":
                k += 1
            if view.tok(k) is None or view.tok(k).kind != "ident":
                break
            k += 1
            if view.text_at(k) == "<":  # template arguments, if `>` is followed by ( or ::
                depth, m = 0, k
                while m < len(view) and view.text_at(m) not in (";", "{", "}"):
                    t = view.text_at(m)
                    depth += (t == "<") - (t == ">") - 2 * (t == ">>")
                    if depth <= 0:
                        break
                    m += 1
                if depth <= 0 and view.text_at(m + 1) in ("(", "::"):
                    k = m + 1
            if view.text_at(k) != "::":
                break
    elif token.kind in ("number", "string", "char"):
        k += 1
    else:
        return -1
    while True:  # postfix operators
        text = view.text_at(k)
        if text in (".", "->") and view.tok(k + 1) and view.tok(k + 1).kind == "ident":
            k += 2
        elif text in ("[", "("):
            k = view.close(k) + 1
        elif text in ("++", "--"):
            k += 1
        else:
            return k


def _cast_pass(text: str) -> str:
    view, edits = _View(text), _Edits(text)
    cast_closers: set[int] = set()  # `)` of casts: a cast may follow them, `(float4)(int4)v`
    names = _cast_type_names(view)
    for k in range(len(view)):
        if view.text_at(k) != "(":
            continue
        cast = _vector_type_at(view, k + 1, names)
        if not cast or view.text_at(cast[1]) != ")":
            continue
        prev = view.tok(k - 1)
        if (
            prev
            and (k - 1) not in cast_closers
            and (
                (prev.kind == "ident" and prev.text not in _EXPRESSION_KEYWORDS)
                or prev.text in (")", "]", ">", "::")
            )
        ):
            continue  # a call, sizeof(float4), decltype(...) or template argument
        end = _operand_end(view, cast[1] + 1)
        if end < 0:
            continue
        cast_closers.add(cast[1])
        helper = "vector_cast"
        operand = cast[1] + 1
        if view.text_at(operand) == "(" and view.close(operand) == end - 1:
            if _is_comparison(view, operand + 1, end - 2):
                helper = "from_mask"  # (float4)(a > b): 1 where it holds, as in Metal
        edits.replace(view.tok(k).start, view.tok(cast[1]).end, f"::metalsim::{helper}<{cast[0]}>(")
        position = view.tok(end - 1).end
        edits.replace(position, position, ")")
    return edits.apply()


_FLOAT_NUMBER = re.compile(r"^((?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)([A-Za-z]*)$")


def _literal(token: Token) -> str | None:
    found = _FLOAT_NUMBER.match(token.text)
    if not found:
        return None
    number, suffix = found.groups()
    if suffix in ("h", "H"):
        return f"((half){number}f)"
    if suffix in ("bf", "BF", "bF", "Bf"):
        return f"((bfloat){number}f)"
    if suffix:
        return None
    return number + "f"


# Scalar types whose functional casts `half(x)` go through ::metalsim::static_cast_
# (clang rejects casts between half and bfloat).
_CONVERTED_SCALARS = {"half", "bfloat"}


# Identifiers before `(` that make it no call (a braced list there is no argument).
_NOT_CALLS = {"if", "for", "while", "switch", "return", "sizeof", "alignof", "decltype"}
_NOT_CALLS |= {"static_assert", "noexcept", "alignas", "__attribute__", "_Pragma", "catch"}


def _enclosing_parens(view: _View) -> list[int]:
    """For each code token: the index of the innermost `(` around it (-1 if none)."""
    result, stack = [], []
    for k in range(len(view)):
        text = view.text_at(k)
        if text == ")" and stack:
            stack.pop()
        result.append(stack[-1] if stack else -1)
        if text == "(":
            stack.append(k)
    return result


def _braced_argument(view: _View, k: int, inside: list[bool], parens: list[int]) -> int | None:
    """The `}` closing a braced list at code token k that is a function call's argument
    (`f({x, y, z}, n)`), else None."""
    if not inside[k - 1] or view.text_at(k - 1) not in ("(", ","):
        return None
    open_ = parens[k]
    before = view.tok(open_ - 1) if open_ > 0 else None
    if before is None or not (
        (before.kind == "ident" and before.text not in _NOT_CALLS) or before.text in (">", ")", "]")
    ):
        return None
    close = view.close(k)
    if close <= k + 1 or any(view.text_at(m) == "{" for m in range(k + 1, close)):
        return None
    return close


# Top-level operators whose result is a truth value (Metal: bool or boolN; clang: a -1 mask).
_COMPARISONS = {"==", "!=", ">=", "<=", "&&", "||"}


def _is_comparison(view: _View, first: int, last: int) -> bool:
    """Whether code tokens first..last (an argument) compare at the top level, so the
    value is a truth value (a vector mask): a comparison, `&&`, `||` or a leading `!`.
    `<` ... `>` pairs read as template arguments, not comparisons. A top-level `?` makes
    the value a branch of the conditional (`T(n == 0 ? 0 : x)`), whatever its condition
    compares."""
    depth, angles, closes = 0, 0, 0
    # `!x` alone (not `!x + y`, a number).
    compares = view.text_at(first) == "!" and _operand_end(view, first) == last + 1
    for m in range(first, last + 1):
        text = view.text_at(m)
        if text in "([{":
            depth += 1
        elif text in ")]}":
            depth -= 1
        elif depth == 0:
            if text == "?":
                return False
            if text in _COMPARISONS:
                compares = True
            if text == "<":
                angles += 1
            elif text == ">" and angles:
                angles -= 1
            elif text == ">":
                closes += 1
    return compares or angles > 0 or closes > 0


def _single_argument(view: _View, open_: int) -> int | None:
    """The `)` closing the parenthesis at open_ when it holds one argument, else None."""
    close = view.close(open_)
    if close <= open_ + 1:
        return None
    depth = 0
    for m in range(open_ + 1, close):
        text = view.text_at(m)
        if text in "([{":
            depth += 1
        elif text in ")]}":
            depth -= 1
        elif text == "," and depth == 0:
            return None
    return close


def _template_type_parameters(view: _View) -> frozenset[str]:
    names = set()
    for k in range(len(view) - 2):
        if view.text_at(k) in ("typename", "class") and view.tok(k + 1).kind == "ident":
            if view.text_at(k + 2) in (",", ">", "=") and view.text_at(k - 1) in ("<", ","):
                names.add(view.text_at(k + 1))
    return frozenset(names)


def _code_pass(text: str) -> str:
    view, edits = _View(text), _Edits(text)
    inside = _code_blocks(view)
    parens = _enclosing_parens(view)
    vector_names = VECTOR_TYPES | _vector_aliases(view)
    type_parameters = _template_type_parameters(view) - vector_names
    for k in range(len(view)):
        token = view.tok(k)
        prev = view.text_at(k - 1)
        if (
            (token.text in type_parameters or token.text in vector_names)
            and view.text_at(k + 1) == "("
            and inside[k]
            and prev not in (".", "->", "operator", "::", "typename", "class", "struct")
            and view.tok(k - 1) is not None
            and (view.tok(k - 1).kind != "ident" or prev in _EXPRESSION_KEYWORDS)
        ):
            # `T(x)` with T a template type parameter (may be half4 or bfloat): as
            # static_cast; `T(a > b)` with a comparison inside: from_mask.
            close = _single_argument(view, k + 1)
            if close is not None:
                if _is_comparison(view, k + 2, close - 1):
                    edits.replace(token.start, token.end, f"::metalsim::from_mask<{token.text}>")
                    continue
                if token.text in type_parameters:
                    edits.replace(token.start, token.end, f"::metalsim::static_cast_<{token.text}>")
                    continue
        if token.text == "{":
            close = _braced_argument(view, k, inside, parens)
            if close is not None:
                edits.replace(token.start, token.end, "::metalsim::braced(")
                edits.replace(view.tok(close).start, view.tok(close).end, ")")
            continue
        if token.text == "vec" and view.text_at(k + 1) == "<":
            # `metal::vec<T, 2>(x, y)`: a vector constructor, as `float2(x, y)` is.
            end = _template_close(view, k + 1)
            prev = view.text_at(k - 1)
            if end and view.text_at(end + 1) == "(" and prev not in (".", "->", "operator"):
                if prev != "::" or view.text_at(k - 2) == "metal":
                    start = view.tok(k - 2).start if prev == "::" else token.start
                    edits.replace(start, start, "::metalsim::make_vec<")
                    edits.replace(view.tok(end).end, view.tok(end).end, ">")
            continue
        if token.kind == "number":
            literal = _literal(token)
            if literal is not None:
                edits.replace(token.start, token.end, literal)
            continue
        if token.text == "static_cast" and view.text_at(k + 1) == "<" and prev != "::":
            # static_cast<float4>(a > b) converts a truth value: 1 where it holds.
            end = _template_close(view, k + 1)
            close = (
                _single_argument(view, end + 1) if end and view.text_at(end + 1) == "(" else None
            )
            mask = close is not None and _is_comparison(view, end + 2, close - 1)
            helper = "from_mask" if mask else "static_cast_"
            edits.replace(token.start, token.end, f"::metalsim::{helper}")
            continue
        if (
            token.text in _CONVERTED_SCALARS
            and view.text_at(k + 1) == "("
            and prev not in (".", "->", "operator")
            and (prev != "::" or view.text_at(k - 2) == "metal")
        ):
            start = view.tok(k - 2).start if prev == "::" else token.start
            edits.replace(start, token.end, f"::metalsim::static_cast_<{token.text}>")
            continue
        if (
            token.text in vector_names
            and inside[k]
            and view.tok(k + 1) is not None
            and view.tok(k + 1).kind == "ident"
            and view.text_at(k + 2) == "("
            and prev not in (".", "->", "operator")
        ):
            # `int2 offset(0, row);` in a function body: direct-initialization, which
            # clang reads as a scalar initializer.
            name = view.tok(k + 1)
            edits.replace(name.end, name.end, f" = ::metalsim::make_vec<{token.text}>")
            continue
        if token.text in vector_names and view.text_at(k + 1) == "(":
            if prev in (".", "->", "operator", "using", "typedef"):
                continue
            start = token.start
            if prev == "::":
                if view.text_at(k - 2) != "metal":
                    continue
                start = view.tok(k - 2).start
            edits.replace(start, token.end, f"::metalsim::make_vec<{token.text}>")
    return edits.apply()


def rewrite_metal(text: str) -> str:
    """Rewrites MSL source text; the result has exactly the same number of lines."""
    result = text
    passes = (_attribute_pass, _threadgroup_pass, _free_function_overloads_pass, _cast_pass)
    for rewrite_pass in (*passes, _code_pass):
        result = rewrite_pass(result)
    if result.count("\n") != text.count("\n"):  # every edit keeps its newlines
        raise MetalCompileError("simulator rewrite bug: the line count changed")
    return result
