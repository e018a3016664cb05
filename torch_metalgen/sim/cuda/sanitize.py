"""compute-sanitizer runs of the CUDA tier: memcheck, racecheck, synccheck and initcheck over
every kernel x dtype x variant at the specs' sample sizes (``cases.py``), and racecheck over a
copy of metal/ with a barrier deleted, which it must catch (the planted-bug check).

Each tool runs ``python -m torch_metalgen.sim.cuda.sweep cases`` under compute-sanitizer in
its own process; PyTorch's caching allocator is off there (PYTORCH_NO_CUDA_MEMORY_CACHING=1),
so every tensor is its own allocation and memcheck sees accesses past a tensor's end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("memcheck", "racecheck", "synccheck", "initcheck")
# The barrier planted out: the first one of metalgen::threadgroup_sum (metal/common.h).
BARRIER = "threadgroup_barrier(mem_flags::mem_threadgroup);"


def find_sanitizer() -> str | None:
    """compute-sanitizer on PATH or in the CUDA toolkit, or None."""
    found = shutil.which("compute-sanitizer")
    if found:
        return found
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        for candidate in ("bin/compute-sanitizer", "compute-sanitizer/compute-sanitizer"):
            path = Path(home or "/nonexistent") / candidate
            if path.is_file():
                return str(path)
    return None


def plant_missing_barrier(metal_dir: Path, target: Path) -> tuple[Path, int]:
    """Copies metal_dir's .metal and .h files to target and deletes the first threadgroup
    barrier of common.h (the line stays, empty, so line numbers match the original).
    Returns (target, the deleted line's number)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in [*metal_dir.glob("*.metal"), *metal_dir.glob("*.h")]:
        shutil.copyfile(path, target / path.name)
    common = target / "common.h"
    lines = common.read_text().split("\n")
    number = next(i for i, line in enumerate(lines) if BARRIER in line)
    lines[number] = ""
    common.write_text("\n".join(lines))
    return target, number + 1


@dataclass
class ToolRun:
    tool: str
    command: list[str]
    returncode: int
    errors: int | None  # from the summary line; None when there was none
    output: str
    cases_json: Path
    summary: str = ""
    race_lines: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and self.errors == 0


_SUMMARY = re.compile(
    r"(ERROR SUMMARY: (\d+) errors?|RACECHECK SUMMARY: (\d+) hazards? displayed"
    r" \((\d+) errors?, (\d+) warnings?\))"
)


def sanitizer_flags(sanitizer: str, tool: str = "racecheck") -> list[str]:
    """Restrict checking to the back end's kernels when this compute-sanitizer can. Not for
    initcheck: memory written by kernels it does not instrument (PyTorch's fills and
    copies) would look uninitialized to it, and every later cudaMemcpy of it an error."""
    if tool == "initcheck":
        return []
    try:
        text = subprocess.run(
            [sanitizer, "--help"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    flags = []
    if "--kernel-name" in text and "kns" in text:
        flags += ["--kernel-name", "kns=metalcuda_kernel"]
    return flags


def racecheck_flags(sanitizer: str) -> list[str]:
    """Every hazard with its source lines, where this compute-sanitizer has the option."""
    try:
        text = subprocess.run(
            [sanitizer, "--help"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return ["--racecheck-report", "all"] if "--racecheck-report" in text else []


def start_tool(
    sanitizer: str,
    tool: str,
    cases_json: Path,
    extra: list[str],
    sweep_args: list[str] = (),
) -> tuple[subprocess.Popen, list[str]]:
    command = [
        sanitizer,
        "--tool",
        tool,
        "--error-exitcode",
        "97",
        *extra,
        *(racecheck_flags(sanitizer) if tool == "racecheck" else []),
        sys.executable,
        "-m",
        "torch_metalgen.sim.cuda.sweep",
        "cases",
        "--json",
        str(cases_json),
        *sweep_args,
    ]
    env = {**os.environ, "PYTORCH_NO_CUDA_MEMORY_CACHING": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    return process, command


def finish_tool(
    tool: str, process: subprocess.Popen, command: list[str], cases_json: Path, timeout: float
) -> ToolRun:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        output += f"\n[timed out after {timeout:.0f} s]"
    errors, summary = None, ""
    for match in _SUMMARY.finditer(output):
        summary = match.group(1)
        errors = int(match.group(2) if match.group(2) is not None else match.group(3))
    race_lines = [
        line.strip()
        for line in output.splitlines()
        if "common.h:" in line or "hazard" in line.lower() and ".metal" in line
    ]
    return ToolRun(
        tool, command, process.returncode, errors, output, cases_json, summary, race_lines
    )
