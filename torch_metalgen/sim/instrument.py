"""Instrumentation of the in-process kernel build for the memory checks, and turning
the instruction addresses in their reports into source lines.

Every load and store of 1, 2, 4, 8 or 16 bytes in kernel code calls the runtime first
(clang's SanitizerCoverage `trace-loads,trace-stores`; runtime/check.cpp), which checks
bounds, races and uninitialized threadgroup reads and counts traffic. Line tables
(`-gline-tables-only`, no other debug info) let `llvm-symbolizer` map an instruction to
its `.metal` line, only when an error is reported.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .toolchain import symbolizer

# `func` is the lightest coverage level that clang accepts trace-loads/stores with; it
# adds no callbacks of its own.
_FLAGS = ("-fsanitize-coverage=func,trace-loads,trace-stores", "-gline-tables-only")
_TOKEN = re.compile(r"\{pc:(\d+)\}")
_INCLUDE_DIR = Path(__file__).resolve().parent / "include"


def compile_flags() -> list[str]:
    """Extra flags of the in-process (non-ASan) kernel build."""
    return list(_FLAGS)


def _user_frame(frames: list[tuple[str, str]]) -> str | None:
    """The innermost frame outside the simulator's headers (inlined calls come first)."""
    for _function, location in frames:
        path = location.rsplit(":", 2)[0]
        if path and not path.startswith(str(_INCLUDE_DIR)) and "??" not in location:
            return location
    return None


def _symbolize(binary: Path, offsets: list[int]) -> dict[int, str]:
    tool = symbolizer()
    if not tool or not offsets:
        return {}
    query = "".join(f"0x{offset:x}\n" for offset in offsets)
    try:
        out = subprocess.run(
            [tool, "--inlining", f"--obj={binary}"],
            input=query,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    result = {}
    for offset, block in zip(offsets, out.split("\n\n"), strict=False):
        lines = block.strip().splitlines()
        frames = list(zip(lines[0::2], lines[1::2], strict=False))
        where = _user_frame(frames)
        if where:
            file, line, _column = where.rsplit(":", 2)
            result[offset] = f"{Path(file).name}:{line}"
    return result


def symbolize_message(message: str, binary: Path) -> str:
    """Replaces the runtime's `{pc:N}` tokens (offsets into `binary`) with file:line."""
    offsets = sorted({int(m) for m in _TOKEN.findall(message)})
    if not offsets:
        return message
    names = _symbolize(binary, offsets)
    return _TOKEN.sub(lambda m: names.get(int(m[1]), f"{binary.name}+0x{int(m[1]):x}"), message)
