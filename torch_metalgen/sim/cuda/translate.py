"""The CUDA target of the simulator's source rewrite: MSL text -> CUDA C++ for NVRTC.

Every file goes through ``sim.rewrite.rewrite_metal`` first, the same rewrite the CPU
simulator compiles (attributes as ``clang::annotate``, kernel instantiations as
``METALSIM_KERNEL_INSTANCE``, threadgroup declarations as ``threadgroup_storage``,
``float4(...)`` as ``make_vec``, float literals). This module then does, on tokens and
keeping every line where it was, only what CUDA needs on top of that:

- Metal's address-space keywords (``device``, ``threadgroup``, ``thread``) and ``kernel``
  are erased and ``constant`` becomes ``const``: as macros they would break CUDA's own
  ``__device__`` / ``__constant__`` (``__location__(device)``). Address-space type checks
  stay with the simulator's front end, which ran first.
- the Metal ``[[clang::annotate("metal", ...)]]`` attributes are dropped (a kernel function
  becomes ``__forceinline__``: the generated entry calls it);
- Metal's vector type names become ``metal_float4``, ... (CUDA owns ``float4``);
- multi-component swizzles ``v.xyz`` become ``v.template metal_swizzle<0, 1, 2>()``, unless
  a struct of the program has a member of that name (a field called ``rgb`` stays);
- each ``METALSIM_THREADGROUP_SITE`` gets its own number (NVRTC has no ``__COUNTER__``).

Unannotated functions need no ``__device__``: NVRTC compiles with ``-default-device``.
Constructs with no CUDA mapping are a MetalCompileError naming them. Then one ``__global__``
entry per kernel is generated from the front end's parameter list: it computes Metal's
builtins from CUDA's indices, binds buffers (setBuffer or setBytes data carried in the kernel
parameter), threadgroup memory and builtins, and calls the kernel.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import MetalCompileError
from ..frontend import Kernel
from ..rewrite import VECTOR_TYPES, rewrite_metal
from ..tokens import code_indices, matching, newlines_of, tokenize

_ERASED = {"device", "thread", "threadgroup", "threadgroup_imageblock"}
_SWIZZLE = re.compile(r"^(?:[xyzw]{2,4}|[rgba]{2,4})$")
_SWIZZLE_INDEX = {"x": 0, "y": 1, "z": 2, "w": 3, "r": 0, "g": 1, "b": 2, "a": 3}
# The rewrite spells its attributes METALSIM_ANNOTATE("metal", ...) (a macro for
# clang::annotate in the simulator's front end); `kernel` is clang::annotate itself.
_KERNEL_ANNOTATION = re.compile(
    r'^(?:clang::annotate|METALSIM_ANNOTATE)\(\s*"metal"\s*,\s*"kernel"\s*\)$'
)
_MATRIX = re.compile(r"^(?:float|half|bfloat)[234]x[234]$")
# Metal constructs the CUDA back end does not map (the simulator rejects most of them too).
_UNMAPPED = {
    "texture1d": "textures",
    "texture1d_array": "textures",
    "texture2d": "textures",
    "texture2d_array": "textures",
    "texture2d_ms": "textures",
    "texture3d": "textures",
    "texturecube": "textures",
    "texturecube_array": "textures",
    "texture_buffer": "textures",
    "depth2d": "depth textures",
    "depth2d_array": "depth textures",
    "depthcube": "depth textures",
    "sampler": "samplers",
    "imageblock": "imageblocks",
    "visible_function_table": "function tables",
    "intersection_function_table": "function tables",
    "acceleration_structure": "ray tracing",
    "primitive_acceleration_structure": "ray tracing",
    "instance_acceleration_structure": "ray tracing",
    "intersector": "ray tracing",
    "command_buffer": "indirect command buffers",
    "compute_pipeline_state": "indirect command buffers",
    "render_pipeline_state": "indirect command buffers",
    "mesh_grid_properties": "mesh shaders",
    "matrix": "Metal matrix types (floatCxR)",
}

# Metal builtin -> (binder in metalcuda/kernel.h, field of metalcuda::thread_builtins).
BUILTINS = {
    "thread_position_in_grid": ("builtin_vector", "thread_position_in_grid"),
    "thread_position_in_threadgroup": ("builtin_vector", "thread_position_in_threadgroup"),
    "threadgroup_position_in_grid": ("builtin_vector", "threadgroup_position_in_grid"),
    "threads_per_threadgroup": ("builtin_vector", "threads_per_threadgroup"),
    "dispatch_threads_per_threadgroup": ("builtin_vector", "dispatch_threads_per_threadgroup"),
    "threadgroups_per_grid": ("builtin_vector", "threadgroups_per_grid"),
    "threads_per_grid": ("builtin_vector", "threads_per_grid"),
    "thread_index_in_threadgroup": ("builtin_scalar", "thread_index_in_threadgroup"),
    "thread_index_in_simdgroup": ("builtin_scalar", "thread_index_in_simdgroup"),
    "simdgroup_index_in_threadgroup": ("builtin_scalar", "simdgroup_index_in_threadgroup"),
    "threads_per_simdgroup": ("builtin_scalar", "threads_per_simdgroup"),
    "thread_execution_width": ("builtin_scalar", "threads_per_simdgroup"),
    "simdgroups_per_threadgroup": ("builtin_scalar", "simdgroups_per_threadgroup"),
    "thread_index_in_quadgroup": ("builtin_scalar", "thread_index_in_quadgroup"),
    "quadgroup_index_in_threadgroup": ("builtin_scalar", "quadgroup_index_in_threadgroup"),
}
PARAM_KINDS = {"buffer": 0, "threadgroup": 1, "builtin": 2}
# The constant address space as clang prints it in the front end's parameter types.
_CONSTANT_SPACE = ("address_space(2)", "constant ")


class _Edits:
    """Non-overlapping replacements of source spans; each keeps the replaced line breaks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[tuple[int, int, str]] = []

    def replace(self, start: int, end: int, new: str) -> None:
        self.items.append((start, end, new))

    def apply(self) -> str:
        out, position = [], 0
        for start, end, new in sorted(self.items, key=lambda item: (item[0], item[1])):
            if start < position:
                raise MetalCompileError(f"CUDA translation bug: overlapping edits at {start}")
            out += [
                self.text[position:start],
                new.replace("\n", " "),
                newlines_of(self.text[start:end]),
            ]
            position = end
        out.append(self.text[position:])
        return "".join(out)


def member_names(texts: list[str]) -> frozenset[str]:
    """Names declared as members of a struct, class or union (fields and methods): a
    swizzle-shaped member such as a field called `rgb` must not become a swizzle."""
    names = set()
    for text in texts:
        tokens = tokenize(text)
        code = [tokens[i] for i in code_indices(tokens)]
        depth, records, pending = 0, [], False
        for position, token in enumerate(code):
            if token.text in ("struct", "class", "union"):
                pending = True
            elif token.text == ";":
                pending = False
            elif token.text == "{":
                depth += 1
                if pending:
                    records.append(depth)
                    pending = False
            elif token.text == "}":
                if records and records[-1] == depth:
                    records.pop()
                depth -= 1
            elif (
                token.kind == "ident"
                and records
                and records[-1] == depth
                and position + 1 < len(code)
                and code[position + 1].text in (";", ",", "[", "=", ":", "{", "(")
            ):
                names.add(token.text)
    return frozenset(names)


def _where(path: str, text: str, offset: int) -> str:
    return f"{path}:{text.count(chr(10), 0, offset) + 1}"


@dataclass
class _Sites:
    """Numbers for METALSIM_THREADGROUP_SITE, unique across the translation unit."""

    next: int = 0


def _is_metal_annotation(item: str) -> bool:
    compact = item.replace(" ", "")
    return compact.startswith(('clang::annotate("metal"', 'METALSIM_ANNOTATE("metal"'))


def _split_items(text: str) -> list[str]:
    parts, depth, start, quote = [], 0, 0, False
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quote = not quote
        elif quote:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def cuda_pass(text: str, path: str, declared: frozenset[str], sites: _Sites) -> str:
    """The CUDA-specific edits of one file, on ``rewrite_metal``'s output (module docstring)."""
    tokens = tokenize(text)
    code = code_indices(tokens)
    edits = _Edits(text)
    k = 0
    while k < len(code):
        token = tokens[code[k]]
        nxt = tokens[code[k + 1]] if k + 1 < len(code) else None
        if token.text == "[" and nxt is not None and nxt.text == "[" and nxt.start == token.end:
            close = matching(tokens, code, k)
            if close >= len(code):
                raise MetalCompileError(f"{_where(path, text, token.start)}: unterminated `[[`")
            inner = text[nxt.end : tokens[code[close - 1]].start]
            items = _split_items(inner)
            if any(_is_metal_annotation(i) for i in items):
                kept = [i for i in items if not _is_metal_annotation(i)]
                kernel = any(_KERNEL_ANNOTATION.match(i) for i in items)
                new = (f"[[{', '.join(kept)}]]" if kept else "") + (
                    " __forceinline__" if kernel else ""
                )
                edits.replace(token.start, tokens[code[close]].end, new)
            k = close + 1
            continue
        if token.kind == "ident":
            previous = tokens[code[k - 1]].text if k else ""
            member = previous in (".", "->")
            if member:
                if (
                    _SWIZZLE.match(token.text)
                    and token.text not in declared
                    and (nxt is None or nxt.text != "(")
                ):
                    indices = ", ".join(str(_SWIZZLE_INDEX[c]) for c in token.text)
                    edits.replace(token.start, token.end, f"template metal_swizzle<{indices}>()")
            elif token.text in _ERASED:
                edits.replace(token.start, token.end, "")
            elif token.text == "constant":
                edits.replace(token.start, token.end, "const")
            elif token.text == "kernel":  # `kernel void f(...)`: the entry calls it
                edits.replace(token.start, token.end, "__forceinline__")
            elif token.text in VECTOR_TYPES:
                edits.replace(token.start, token.end, f"metal_{token.text}")
            elif token.text == "METALSIM_THREADGROUP_SITE":
                edits.replace(
                    token.start, token.end, f"::metalcuda::site<{sites.next}, __LINE__>()"
                )
                sites.next += 1
            elif token.text in _UNMAPPED or _MATRIX.match(token.text):
                what = _UNMAPPED.get(token.text, "Metal matrix types (floatCxR)")
                raise MetalCompileError(
                    f"{_where(path, text, token.start)}: `{token.text}`: {what} have no mapping "
                    "in the CUDA back end (torch_metalgen.sim.cuda); docs/cuda.md lists what it "
                    "supports. Run this kernel on the CPU simulator (torch_metalgen.sim) instead."
                )
        k += 1
    return edits.apply()


def translate_file(text: str, path: str, declared: frozenset[str], sites: _Sites) -> str:
    """One file, both passes; the result has the original's line count."""
    translated = cuda_pass(rewrite_metal(text), path, declared, sites)
    if translated.count("\n") != text.count("\n"):
        raise MetalCompileError(f"CUDA translation bug: the line count of {path} changed")
    return translated


# ---- entries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One generated __global__ function and the kernel it launches."""

    kernel: Kernel
    symbol: str  # extern "C" name of the __global__ entry
    info_symbol: str  # extern "C" __device__ array: bytes capacity, then per-parameter info


def _c_string(text: str) -> str:
    return json.dumps(text)


def unsupported_builtins(kernels) -> list[tuple[Kernel, str]]:
    return [
        (k, p.builtin)
        for k in kernels
        for p in k.parameters
        if p.kind == "builtin" and p.builtin not in BUILTINS
    ]


def _accepts_bytes(type_text: str) -> bool:
    """A buffer parameter that setBytes may fill: one in the constant address space (or any
    const one when the front end had to drop address spaces)."""
    if any(marker in type_text for marker in _CONSTANT_SPACE):
        return True
    spaces = "address_space" in type_text or type_text.startswith("device")
    return not spaces and "const" in type_text


def generate_entries(kernels: tuple[Kernel, ...]) -> tuple[str, list[Entry]]:
    """The entry code appended to the main file, and what it defines."""
    missing = unsupported_builtins(kernels)
    if missing:
        kernel, builtin = missing[0]
        raise MetalCompileError(
            f"{kernel.file}:{kernel.line}: kernel '{kernel.host_name}' uses builtin "
            f"[[{builtin}]], which the CUDA back end does not provide; it provides "
            f"{', '.join(sorted(BUILTINS))} (docs/cuda.md)."
        )
    lines = ["// Generated by torch_metalgen/sim/cuda/translate.py: one entry per kernel."]
    entries = []
    for n, kernel in enumerate(kernels):
        name = f"metalcuda_kernel_{n}"
        host = _c_string(kernel.host_name)
        lines.append(f"// {kernel.host_name} ({kernel.file}:{kernel.line})")
        if kernel.callee.startswith("&"):  # a plain kernel function
            function = kernel.callee[1:]
            lines += [
                f"struct {name} {{",
                f"  static constexpr const char* host_name = {host};",
                f"  using pointer = decltype(&::{function});",
                "  template <class... A>",
                "  static __forceinline__ void call(A&&... arguments) {",
                f"    ::{function}(static_cast<A&&>(arguments)...);",
                "  }",
                "};",
            ]
        else:  # a [[host_name]] instance: metalsim_kernel_instance_line_<line><hash>
            scope = kernel.callee.rsplit("::", 1)[0] + "::" if "::" in kernel.callee else ""
            lines.append(
                f"using {name} = ::{scope}metalsim_kernel_instance_line_{kernel.line}"
                f"<::metalcuda::name_hash({host})>;"
            )
        lines.append(
            f"static_assert(::metalcuda::same_name({name}::host_name, {host}), "
            f'"CUDA translation: entry {n} does not name kernel {kernel.host_name}");'
        )
        byte_positions = [
            str(i)
            for i, p in enumerate(kernel.parameters)
            if p.kind == "buffer" and _accepts_bytes(p.type)
        ]
        positions = "".join(f", {i}" for i in byte_positions)
        lines.append(
            f"constexpr uint32_t {name}_bytes = "
            f"::metalcuda::bytes_capacity<{name}::pointer{positions}>();"
        )
        arguments = []
        info = [f"{name}_bytes", str(len(kernel.parameters))]
        for i, parameter in enumerate(kernel.parameters):
            p_type = f"::metalcuda::param_t<{name}::pointer, {i}>"
            if parameter.kind == "buffer":
                arguments.append(f"::metalcuda::bind_buffer<{p_type}>(a, {parameter.index})")
            elif parameter.kind == "threadgroup":
                arguments.append(f"::metalcuda::bind_threadgroup<{p_type}>(a, {parameter.index})")
            else:
                binder, field = BUILTINS[parameter.builtin]
                arguments.append(f"::metalcuda::{binder}<{p_type}>(b.{field})")
            accepts = int(parameter.kind == "buffer" and str(i) in byte_positions)
            info += [
                str(PARAM_KINDS[parameter.kind]),
                str(max(parameter.index, 0)),
                f"::metalcuda::pointee_size<{p_type}>()" if parameter.kind != "builtin" else "0",
                f"uint32_t(::metal::is_reference_v<{p_type}>)"
                if parameter.kind != "builtin"
                else "0",
                str(accepts),
            ]
        bounds = kernel.max_total_threads_per_threadgroup or 1024
        symbol = f"{name}_entry"
        lines += [
            f'extern "C" __global__ void __launch_bounds__({bounds}) {symbol}(',
            f"    const __grid_constant__ ::metalcuda::launch_args<{name}_bytes> a) {{",
            "  const ::metalcuda::thread_builtins b = ::metalcuda::builtins_of(a.geometry);",
            "  (void)b;",
            f"  {name}::call(" + ", ".join(arguments) + ");",
            "}",
            f'extern "C" __device__ const uint32_t {name}_info[] = {{' + ", ".join(info) + "};",
        ]
        entries.append(Entry(kernel, symbol, f"{name}_info"))
    return "\n".join(lines) + "\n", entries


def translate_program(
    dependencies: list[Path], main: Path, kernels: tuple[Kernel, ...], constants_header: str
) -> tuple[dict[Path, str], str, list[Entry]]:
    """({include file: translated text}, main program text, entries) for NVRTC: the main
    program includes <metal_stdlib>, the function constant values and the translated main
    file (#line keeps diagnostics and line info on the original files)."""
    texts = {path: path.read_text() for path in dependencies}
    declared = member_names([rewrite_metal(t) for t in texts.values()])
    sites = _Sites()
    translated = {
        path: f'#line 1 "{path}"\n{translate_file(text, str(path), declared, sites)}'
        for path, text in texts.items()
    }
    entry_code, entries = generate_entries(kernels)
    main_text = (
        "#include <metal_stdlib>\n"
        + constants_header
        + translated.pop(main)
        + f'\n#line 1 "{main}.cuda-entries"\n'
        + entry_code
    )
    return translated, main_text, entries
