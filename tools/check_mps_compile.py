"""Compile every csrc/mps/*.mm for aarch64-macos on Linux, against two torch releases.

    python tools/check_mps_compile.py             # pinned torch (installed) + newest release
    python tools/check_mps_compile.py --torch installed

What it does, per .mm file and torch release: zig's clang (PyPI `ziglang`) compiles the file
as Objective-C++ for `aarch64-macos.<min>` to an object file, with the flags setup.py gives
the macOS build (`macos_mm_flags()`), the ones torch's BuildExtension adds (the extension
name defines and, when setup.py names no standard, torch's default `-std=c++20`), and
`-Wall -Werror`. Headers: Apple's real objc/dispatch/Block/Availability headers and libc++
(shipped with zig), torch's real headers (the installed torch for the pinned release; the
newest release's headers come from its macOS arm64 wheel, downloaded once with `pip download`
and cached), and tools/macos-sdk-decls/ for Foundation, Metal and MPS, which Linux cannot
have (see the README there).

What that proves: the glue parses and type-checks as Objective-C++ at torch's C++ standard,
with manual reference counting, against the real torch MPS headers of both releases; every
call to an API newer than the deployment target is guarded by @available; and no .mm uses
ATen's internal (non-API) headers. What it cannot prove: that the Foundation/Metal
declarations (written here) match Apple's; that Apple clang's diagnostics equal clang 22's;
nothing links or runs. docs/mac.md says what only a Mac checks.

The zig cache and the downloaded headers live under $METALGEN_CACHE (default
~/.cache/torch-metalgen), so reruns take seconds per file.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECLS = ROOT / "tools" / "macos-sdk-decls"
# The newest torch release at the time of writing; bump it when a newer one ships.
NEWEST_TORCH = "2.14.1"
# python.org's arm64 CPython builds extensions for macOS 11.0 (its MACOSX_DEPLOYMENT_TARGET):
# the lowest target a `pip install .` gets, so every newer Metal API needs an @available.
DEFAULT_MACOS_MIN = "11.0"
# Headers no .mm may include: ATen's internals change between releases and need C++20.
FORBIDDEN_INCLUDE = re.compile(r'#\s*(?:include|import)\s*[<"]ATen/native/')


def cache_dir() -> Path:
    return Path(os.environ.get("METALGEN_CACHE", Path.home() / ".cache" / "torch-metalgen"))


def load_setup_module():
    """setup.py as a module (its build runs only under __main__): the one source of flags."""
    spec = importlib.util.spec_from_file_location("metalgen_setup", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def installed_torch_include() -> tuple[str, Path]:
    import torch

    version = torch.__version__.split("+")[0]
    return version, Path(torch.__file__).parent / "include"


def downloaded_torch_include(version: str) -> Path:
    """torch/include of the macOS arm64 wheel of `version`, downloaded once and cached."""
    target = cache_dir() / "torch-headers" / version
    include = target / "torch" / "include"
    if (target / ".complete").exists():
        return include
    print(f"==> fetching torch {version} headers (macOS arm64 wheel, once)", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"torch=={version}",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                "macosx_14_0_arm64",
                "--platform",
                "macosx_11_0_arm64",
                "--python-version",
                "3.11",
                "--quiet",
                "-d",
                scratch,
            ],
            check=True,
        )
        (wheel,) = Path(scratch).glob("torch-*.whl")
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith("torch/include/")]
            archive.extractall(target, members)
    (target / ".complete").write_text(version + "\n")
    return include


def torch_flags(setup_flags: list[str]) -> list[str]:
    """What torch.utils.cpp_extension.BuildExtension adds to each compile (torch 2.13/2.14)."""
    flags = ["-DTORCH_API_INCLUDE_EXTENSION_H", "-DTORCH_EXTENSION_NAME=_C"]
    # BuildExtension appends its default standard only when the extension names none.
    if not any(flag.startswith("-std=") for flag in setup_flags):
        flags.append("-std=c++20")
    return flags


def compile_command(
    source: Path, include: Path, setup_flags: list[str], macos_min: str, obj: Path
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ziglang",
        "c++",
        "-target",
        f"aarch64-macos.{macos_min}",
        "-x",
        "objective-c++",
        "-fblocks",
        *setup_flags,
        *torch_flags(setup_flags),
        "-Wall",
        "-Werror",
        "-isystem",
        str(DECLS),
        "-isystem",
        str(include),
        "-isystem",
        str(include / "torch" / "csrc" / "api" / "include"),
        "-c",
        str(source),
        "-o",
        str(obj),
    ]


def shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def check_includes(sources: list[Path]) -> list[str]:
    """One problem line per include of an ATen internal header."""
    problems = []
    for source in sources:
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if FORBIDDEN_INCLUDE.search(line):
                problems.append(
                    f"{shown(source)}:{number}: includes an ATen/native header "
                    "(internal, not API; needs C++20 and changes between torch releases)"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--torch",
        action="append",
        help=f"'installed' or a release to download headers for (default: installed and "
        f"{NEWEST_TORCH})",
    )
    parser.add_argument("--macos-min", default=DEFAULT_MACOS_MIN, help="deployment target")
    parser.add_argument("files", nargs="*", type=Path, help="default: every csrc/mps/*.mm")
    args = parser.parse_args(argv)

    sources = [p.resolve() for p in args.files] or sorted((ROOT / "csrc" / "mps").glob("*.mm"))
    if not sources:
        print("error: no csrc/mps/*.mm to check", file=sys.stderr)
        return 2
    setup_flags = load_setup_module().macos_mm_flags()
    zig_cache = cache_dir() / "zig"
    os.environ.setdefault("ZIG_GLOBAL_CACHE_DIR", str(zig_cache / "global"))
    os.environ.setdefault("ZIG_LOCAL_CACHE_DIR", str(zig_cache / "local"))

    failures = check_includes(sources)
    for problem in failures:
        print(f"FAIL {problem}")
    releases = []
    for name in args.torch or ["installed", NEWEST_TORCH]:
        if name == "installed":
            releases.append(installed_torch_include())
        else:
            releases.append((name, downloaded_torch_include(name)))

    with tempfile.TemporaryDirectory() as scratch:
        for version, include in releases:
            for source in sources:
                obj = Path(scratch) / f"{source.stem}-{version}.o"
                command = compile_command(source, include, setup_flags, args.macos_min, obj)
                start = time.monotonic()
                result = subprocess.run(command, capture_output=True, text=True)
                label = f"{shown(source)} torch {version} macos {args.macos_min}"
                seconds = time.monotonic() - start
                if result.returncode == 0:
                    print(f"ok   {label} ({seconds:.0f} s)", flush=True)
                    continue
                failures.append(label)
                print(f"FAIL {label}\n  $ {' '.join(command)}", flush=True)
                print(result.stdout + result.stderr, flush=True)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print(f"all {len(sources) * len(releases)} compiles passed (nothing linked or ran)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
