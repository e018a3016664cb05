"""Line-preserving rewrite of MSL into C++ that the compatibility headers can compile.

Only what C++ cannot express is rewritten, and every line stays on its line, so
clang's diagnostics, __LINE__ and debug info point at the original .metal line:

- Metal attributes become ``[[clang::annotate("metal", kind, args...)]]``, which C++
  accepts after a parameter and which clang's JSON AST keeps (the front end reads them).
- ``template [[host_name("k")]] [[kernel]] decltype(f<T>) f<T>;`` (C++ allows no
  attributes there) becomes ``template decltype(f<T>) f<T>; METALSIM_KERNEL_INSTANCE("k", f<T>)``.
- ``threadgroup T buf[N];`` inside a kernel becomes a reference into the per-threadgroup
  arena (one copy per threadgroup, poisoned, counted against 32 KiB).
- ``float4(a, b, c, d)`` becomes ``::metalsim::make_vec<float4>(a, b, c, d)``.
- ``0.5h`` becomes ``((half)0.5f)``; unsuffixed floating literals get an ``f`` (Metal has
  no double, its literals are float).
"""

from __future__ import annotations

import re

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
    "function_constant",
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
_SCALARS = "float|half|bfloat|int|uint|short|ushort|char|uchar|long|ulong|bool"

_ATTRIBUTE_LIST = re.compile(r"\[\[([^\[\]]*?)\]\]", re.S)
_INSTANTIATION = re.compile(r"\btemplate\s*((?:\[\[[^\[\]]*?\]\]\s*)+)([^;{}]*?);", re.S)
_HOST_NAME = re.compile(r"host_name\s*\((.*)\)\s*$", re.S)
_DECLTYPE_FORM = re.compile(r"^\s*decltype\s*\((.*)\)\s*(.+?)\s*$", re.S)
_SIGNATURE_FORM = re.compile(r"([A-Za-z_][\w:]*\s*(?:<[^()]*>)?)\s*\(", re.S)
_THREADGROUP_DECL = re.compile(
    r"^([ \t]*)threadgroup\s+([^;*&=(){}\[\]]+?)\s+([A-Za-z_]\w*)\s*((?:\[[^\]\n]+\]\s*)*);",
    re.M,
)
_VECTOR_CONSTRUCTOR = re.compile(rf"(?<![\w.:>])((?:{_SCALARS})[234])\s*\(")
_FLOAT_LITERAL = re.compile(
    r"(?<![\w.])((?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)([fFhH]?)(?![\w.])"
)
# String and character literals and comments, which the literal rewrite must skip.
_NON_CODE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([<{":
            depth += 1
        elif ch in ")]>}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _newlines_of(text: str) -> str:
    """The line breaks inside `text`, kept so the rewrite does not move lines.
    Inside a macro body they are escaped; outside they are plain."""
    escaped = text.count("\\\n")
    plain = text.count("\n") - escaped
    return " \\\n" * escaped + "\n" * plain


def _annotate(kind: str, *args: str) -> str:
    extra = "".join(f", {a}" for a in args)
    return f'clang::annotate("metal", "{kind}"{extra})'


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
    if name in _UNSUPPORTED_ATTRIBUTES:
        text = item.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        return _annotate("unsupported", f'"{text}"')
    return item  # a C++ attribute (maybe_unused, clang::...) stays as written


def _rewrite_attribute_list(match: re.Match) -> str:
    inner = match.group(1)
    items = _split_top_level(inner)
    rewritten = [_rewrite_attribute(item) for item in items]
    return "[[" + ", ".join(rewritten) + "]]" + _newlines_of(inner)


def _rewrite_instantiation(match: re.Match) -> str:
    attributes, declaration = match.group(1), match.group(2)
    host = None
    for attribute_list in _ATTRIBUTE_LIST.findall(attributes):
        for item in _split_top_level(attribute_list):
            found = _HOST_NAME.match(item)
            if found:
                host = found.group(1).strip()
    if host is None:
        return match.group(0)  # not a kernel instantiation
    flat = declaration.replace("\\\n", " ")
    decltype_form = _DECLTYPE_FORM.match(flat)
    if decltype_form:
        function = decltype_form.group(2)
    else:
        signature = _SIGNATURE_FORM.search(flat)
        if not signature:
            return match.group(0)
        function = signature.group(1)
    # Attributes inside a full-signature instantiation ([[buffer(0)]]) are not allowed
    # there in C++; they are repeated from the template anyway.
    declaration = _ATTRIBUTE_LIST.sub(lambda m: _newlines_of(m.group(0)), declaration)
    return (
        f"template {declaration}; METALSIM_KERNEL_INSTANCE({host}, {function.strip()})"
        + _newlines_of(attributes)
    )


def _rewrite_threadgroup_declaration(match: re.Match) -> str:
    indent, type_text, name, dims = match.groups()
    type_text = type_text.strip()
    dims = re.sub(r"\s+", "", dims)
    if type_text in ("const",) or not type_text:
        return match.group(0)
    if dims:
        return (
            f"{indent}threadgroup {type_text} (&{name}){dims} = "
            f"*(threadgroup {type_text} (*){dims})METALSIM_THREADGROUP_ALLOC({type_text}{dims});"
        )
    return (
        f"{indent}threadgroup {type_text}& {name} = "
        f"*(threadgroup {type_text}*)METALSIM_THREADGROUP_ALLOC({type_text});"
    )


def _rewrite_literal(match: re.Match) -> str:
    number, suffix = match.group(1), match.group(2)
    if suffix in ("h", "H"):
        return f"((half){number}f)"
    if suffix:
        return match.group(0)
    return number + "f"


def _rewrite_code(text: str) -> str:
    """Literal suffixes and vector constructors, outside comments and string literals."""

    def code(segment: str) -> str:
        segment = _FLOAT_LITERAL.sub(_rewrite_literal, segment)
        return _VECTOR_CONSTRUCTOR.sub(lambda m: f"::metalsim::make_vec<{m.group(1)}>(", segment)

    out, position = [], 0
    for match in _NON_CODE.finditer(text):
        out.append(code(text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(code(text[position:]))
    return "".join(out)


def rewrite_metal(text: str) -> str:
    """Rewrites MSL source text; the result has exactly the same number of lines."""
    result = _INSTANTIATION.sub(_rewrite_instantiation, text)
    result = _ATTRIBUTE_LIST.sub(_rewrite_attribute_list, result)
    result = _THREADGROUP_DECL.sub(_rewrite_threadgroup_declaration, result)
    result = _rewrite_code(result)
    if result.count("\n") != text.count("\n"):  # a bug here would misplace every diagnostic
        raise AssertionError("MSL rewrite changed the line count")
    return result
