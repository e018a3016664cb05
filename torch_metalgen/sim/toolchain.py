"""Finds the C++ compiler that builds kernels: clang >= 16 or PyPI ziglang."""

from __future__ import annotations

import functools
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolchainMissingError

MIN_CLANG = 16
INSTALL_HINT = (
    "Install a compiler for the MSL simulator: `apt-get install -y clang-19 libclang-rt-19-dev` "
    "(Debian/Ubuntu; AddressSanitizer included), or `pip install ziglang` (no AddressSanitizer). "
    "Any clang >= 16 works through METALGEN_SIM_CXX=/path/to/clang++."
)


@dataclass(frozen=True)
class Toolchain:
    command: tuple[str, ...]  # argv prefix that runs the C++ compiler
    version: str  # first line of `--version`
    major: int
    kind: str  # "clang" or "zig"

    @property
    def identity(self) -> str:
        """What the build cache keys on."""
        return f"{' '.join(self.command)}|{self.version}"


def _version(command: list[str]) -> tuple[str, int] | None:
    try:
        out = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    text = out.stdout.strip()
    first = text.splitlines()[0] if text else ""
    match = re.search(r"clang version (\d+)", text)
    if match:
        return first, int(match.group(1))
    match = re.match(r"^(\d+)\.\d+", text)  # `zig version`
    if match:
        return first, 99
    return None


def _zig_toolchain() -> Toolchain | None:
    try:
        import ziglang  # noqa: F401
    except ImportError:
        return None
    command = [sys.executable, "-m", "ziglang", "c++"]
    found = _version(command)
    if not found:
        return None
    return Toolchain(tuple(command), found[0], found[1], "zig")


def unsupported_platform() -> str | None:
    """Why this machine cannot run the simulator, or None. The fiber context switch is
    x86-64 assembly, and the runtime uses Linux interfaces (pthread_getattr_np, guard
    pages recovered through SIGSEGV on an alternate signal stack)."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64"):
        return None
    return (
        f"The MSL simulator runs on x86-64 Linux only; this is {sys.platform} {machine}. On a "
        "Mac, run the ops on the real GPU (device 'mps') instead; elsewhere use an x86-64 "
        "Linux machine or container."
    )


@functools.cache
def find_toolchain() -> Toolchain:
    """The compiler to use: METALGEN_SIM_CXX, else clang++-19..16 / clang++, else ziglang.
    Raises ToolchainMissingError when there is none, or on a platform other than x86-64
    Linux."""
    problem = unsupported_platform()
    if problem:
        raise ToolchainMissingError(problem)
    override = os.environ.get("METALGEN_SIM_CXX")
    if override:
        command = shlex.split(override)
        found = _version(command)
        if not found:
            raise ToolchainMissingError(
                f"METALGEN_SIM_CXX={override!r} does not run (`{override} --version` failed). "
                + INSTALL_HINT
            )
        version, major = found
        if "ziglang" in override or "zig" in Path(command[0]).name:
            return Toolchain(tuple(command), version, major, "zig")
        if major < MIN_CLANG:
            raise ToolchainMissingError(
                f"METALGEN_SIM_CXX={override!r} is clang {major}; the simulator needs clang >= "
                f"{MIN_CLANG} (_Float16 and __bf16 on x86-64). " + INSTALL_HINT
            )
        return Toolchain(tuple(command), version, major, "clang")
    for name in ("clang++-19", "clang++-20", "clang++-18", "clang++-17", "clang++-16", "clang++"):
        path = shutil.which(name)
        if not path:
            continue
        found = _version([path])
        if found and found[1] >= MIN_CLANG:
            return Toolchain((path,), found[0], found[1], "clang")
    zig = _zig_toolchain()
    if zig:
        return zig
    raise ToolchainMissingError("No C++ compiler for the MSL simulator was found. " + INSTALL_HINT)


def _links(toolchain: Toolchain, flags: list[str], source: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="metalsim-probe-") as tmp:
        src = Path(tmp) / "probe.cpp"
        src.write_text(source)
        out = subprocess.run(
            [*toolchain.command, *flags, str(src), "-o", str(Path(tmp) / "probe")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return out.returncode == 0


@functools.cache
def has_compiler_rt(toolchain: Toolchain) -> bool:
    """bfloat conversions need compiler-rt (libgcc 12 lacks __truncsfbf2)."""
    if toolchain.kind == "zig":
        return False  # zig links its own compiler-rt already
    return _links(
        toolchain,
        ["-rtlib=compiler-rt"],
        "int main(){ volatile float f = 1.5f; __bf16 b = (__bf16)f; return (float)b > 2; }",
    )


@functools.cache
def has_asan(toolchain: Toolchain) -> bool:
    if toolchain.kind == "zig":
        return False
    return _links(toolchain, ["-fsanitize=address"], "int main(){ return 0; }")


@functools.cache
def symbolizer() -> str | None:
    """llvm-symbolizer for readable AddressSanitizer reports (.metal file:line)."""
    for name in (
        "llvm-symbolizer-19",
        "llvm-symbolizer-20",
        "llvm-symbolizer-18",
        "llvm-symbolizer",
    ):
        path = shutil.which(name)
        if path:
            return path
    return None


def toolchain_info() -> dict:
    """What the simulator would build with, for `python -m torch_metalgen doctor` and for
    skipping tests. Never raises.

    {"available": False, "error": <what to install, or why this platform cannot run it>}
    or {"available": True, "compiler": <command>, "kind": "clang" | "zig", "version":
    <first line of --version>, "asan": <asan=True works>, "compiler_rt": <links with
    -rtlib=compiler-rt>, "symbolizer": <llvm-symbolizer path or None>}.
    """
    try:
        tc = find_toolchain()
    except ToolchainMissingError as error:
        return {"available": False, "error": str(error)}
    return {
        "available": True,
        "compiler": " ".join(tc.command),
        "kind": tc.kind,
        "version": tc.version,
        "asan": has_asan(tc),
        "compiler_rt": has_compiler_rt(tc),
        "symbolizer": symbolizer(),
    }
