"""Strict-MSL text screen: what a candidate's source may contain before clang sees it.

The simulator compiles Metal as C++, so a language model's "Metal" is untrusted code on
the host: the preprocessor reads any file an ``#include`` names (and quotes it in its
errors), ``__attribute__((constructor))`` or ``[[gnu::constructor]]`` runs code when the
compiled library is loaded, ``asm`` and ``extern`` reach the C library. The AST
conformance pass (``torch_metalgen/sim/conformance.py``) rejects what MSL forbids once
clang has parsed the file; this screen runs first, on the text, and rejects what must never
reach clang at all. Comments are blanked first (a directive may follow a comment), line
continuations joined, and the allow-lists are short: MSL needs nothing else.
"""

from __future__ import annotations

import re

MAX_SOURCE_BYTES = 256 * 1024
ALLOWED_INCLUDES = {
    "<metal_stdlib>",
    "<metal_math>",
    "<metal_simdgroup>",
    "<metal_simdgroup_matrix>",
    "<metal_atomic>",
    "<metal_compute>",
    "<metal_integer>",
    "<metal_common>",
    "<metal_relational>",
    "<metal_geometric>",
    '"common.h"',
}
ALLOWED_DIRECTIVES = {"include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else"}
ALLOWED_DIRECTIVES |= {"endif", "pragma"}
ALLOWED_PRAGMAS = {"once", "unroll", "nounroll"}
# Identifiers that reach the host (C library, assembly, load-time code) or hide code from
# the checks (token pasting builds names the screen never saw).
FORBIDDEN = {
    "__attribute__": "GNU attributes (e.g. constructor: code run when the library loads)",
    "__attribute": "GNU attributes",
    "__declspec": "declspec attributes",
    "asm": "inline assembly",
    "__asm": "inline assembly",
    "__asm__": "inline assembly",
    "extern": "extern declarations (host functions)",
    "_Pragma": "the _Pragma operator",
    "__has_include": "probing the host's files",
    "__has_include_next": "probing the host's files",
    "__FILE__": "host paths",
    "__BASE_FILE__": "host paths",
    "__FILE_NAME__": "host paths",
}
ALLOWED_BUILTINS = {"__builtin_expect", "__builtin_assume", "__builtin_unreachable"}
ALLOWED_BUILTINS |= {
    f"__builtin_{op}{width}" for op in ("ctz", "clz", "popcount") for width in ("", "l", "ll")
}

_COMMENT_OR_LITERAL = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
_ATTRIBUTE_NAMESPACE = re.compile(r"\[\[\s*(?:using\s+)?(gnu|clang|gsl|msvc)\b")


def _blank_comments(text: str) -> str:
    """Comments become spaces (newlines kept, so line numbers hold); strings stay."""

    def blank(match: re.Match) -> str:
        piece = match.group(0)
        if piece.startswith('"'):
            return piece
        return re.sub(r"[^\n]", " ", piece)

    return _COMMENT_OR_LITERAL.sub(blank, text)


def screen(source: str) -> list[str]:
    """Why ``source`` may not be compiled, one 'line N: ...' per problem ([] = it may)."""
    problems: list[str] = []
    if len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        return [f"source is over {MAX_SOURCE_BYTES} bytes"]
    for number, line in enumerate(source.splitlines(), 1):
        bad = sorted({c for c in line if not (c.isascii() and (c.isprintable() or c == "\t"))})
        if bad:
            problems.append(f"line {number}: non-ASCII or control characters {bad!r}")
    if "??" in source and re.search(r"\?\?[=/'()!<>-]", source):
        problems.append("trigraphs (??=, ...) are not MSL")
    code = _blank_comments(source)
    if re.search(r"%:|<:|:>|<%|%>", re.sub(r'"(?:\\.|[^"\\\n])*"', '""', code)):
        problems.append("digraphs (%:, <:, ...) are not used in MSL and may spell directives")
    if "##" in code:
        problems.append("token pasting (##) builds names the screen cannot check")
    logical = code.replace("\\\n", "  ")  # continuations: one logical line per directive
    lines = logical.split("\n")
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped.startswith("#"):
            continue
        match = re.match(r"#\s*(\w*)\s*(.*)$", stripped)
        directive, rest = (match.group(1), match.group(2).strip()) if match else ("", "")
        if directive not in ALLOWED_DIRECTIVES:
            problems.append(f"line {number}: preprocessor directive #{directive} is not allowed")
        elif directive == "include" and rest not in ALLOWED_INCLUDES:
            problems.append(
                f"line {number}: #include {rest} (only {', '.join(sorted(ALLOWED_INCLUDES))})"
            )
        elif directive == "pragma" and (rest.split() or [""])[0] not in ALLOWED_PRAGMAS:
            problems.append(f"line {number}: #pragma {rest} is not allowed")
    for number, line in enumerate(code.split("\n"), 1):
        without_strings = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', line)
        for name in _IDENTIFIER.findall(without_strings):
            if name in FORBIDDEN:
                problems.append(f"line {number}: {name}: {FORBIDDEN[name]}")
            elif name.startswith("__builtin_") and name not in ALLOWED_BUILTINS:
                problems.append(f"line {number}: {name}: compiler built-ins reach the host")
        if _ATTRIBUTE_NAMESPACE.search(without_strings):
            problems.append(f"line {number}: [[gnu::/clang::...]] attributes are not MSL")
    return problems
