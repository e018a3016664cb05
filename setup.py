"""Build torch_metalgen._C.

Everywhere: the C++ core (schemas, reference implementations, launch plans, Python
bindings). On macOS additionally: metal/*.metal -> .air -> one .metallib (xcrun, Metal 3.1)
embedded in the extension, plus the Objective-C++ MPS glue in csrc/mps/. If the Metal
toolchain is missing (Xcode 26 ships it separately), the build embeds the kernel sources
instead and the extension compiles them at first use, with a one-time warning.

The generated files are checked in: building never runs the generator.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
METAL_DIR = ROOT / "metal"
IS_MACOS = sys.platform == "darwin"
# Smaller than this and the metallib is the known empty-library failure (mistral.rs #2176).
MIN_METALLIB_BYTES = 1024


def metal_sources() -> list[Path]:
    return sorted(METAL_DIR.glob("*.metal"))


def flattened_source(path: Path) -> str:
    """The kernel file with `#include "common.h"` inlined, for runtime compilation."""
    common = (METAL_DIR / "common.h").read_text().replace("#pragma once", "")
    return path.read_text().replace('#include "common.h"', common)


def build_metallib(build_dir: Path) -> Path | None:
    """Compile every kernel file into one metallib; None (and a warning) if impossible."""
    if shutil.which("xcrun") is None:
        print("warning: xcrun not found; embedding Metal sources for runtime compilation")
        return None
    air_files = []
    try:
        for source in metal_sources():
            air = build_dir / (source.stem + ".air")
            subprocess.run(
                [
                    "xcrun",
                    "-sdk",
                    "macosx",
                    "metal",
                    "-std=metal3.1",
                    "-I",
                    str(METAL_DIR),
                    "-c",
                    str(source),
                    "-o",
                    str(air),
                ],
                check=True,
            )
            air_files.append(str(air))
        metallib = build_dir / "metalgen.metallib"
        subprocess.run(
            ["xcrun", "-sdk", "macosx", "metallib", *air_files, "-o", str(metallib)], check=True
        )
    except subprocess.CalledProcessError as error:
        print(
            f"warning: Metal compilation failed ({error}); if the message says 'missing Metal "
            "Toolchain', run `xcodebuild -downloadComponent MetalToolchain`. Embedding the "
            "sources for runtime compilation instead."
        )
        return None
    size = metallib.stat().st_size
    if size < MIN_METALLIB_BYTES:
        raise RuntimeError(
            f"{metallib} is {size} bytes: an empty metallib; check `xcrun -sdk macosx`"
        )
    return metallib


def write_embedded_resources(build_dir: Path) -> Path:
    """A C++ file holding the metallib bytes (possibly none) and the flattened sources."""
    build_dir.mkdir(parents=True, exist_ok=True)
    metallib = build_metallib(build_dir)
    data = metallib.read_bytes() if metallib else b""
    lines = [
        "// Written by setup.py at build time: the compiled metallib and the kernel sources.",
        "#include <cstddef>",
        "namespace metalgen {",
        "extern const unsigned char kMetallib[] = {"
        + ",".join(str(b) for b in data or b"\0")
        + "};",
        f"extern const size_t kMetallibSize = {len(data)};",
        "struct EmbeddedSource { const char* library; const char* source; };",
        "extern const EmbeddedSource kMetalSources[] = {",
    ]
    for source in metal_sources():
        lines.append(f'  {{"{source.stem}", R"metalgen({flattened_source(source)})metalgen"}},')
    lines += ["};", f"extern const size_t kMetalSourceCount = {len(metal_sources())};", "}"]
    path = build_dir / "embedded_metal.cpp"
    path.write_text("\n".join(lines) + "\n")
    return path


class BuildPyWithMetal(build_py):
    """Ships metal/ inside the package (torch_metalgen/_metal) for the simulator."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "torch_metalgen" / "_metal"
        target.mkdir(parents=True, exist_ok=True)
        for path in [*metal_sources(), METAL_DIR / "common.h"]:
            shutil.copy2(path, target / path.name)


def extension():
    from torch.utils.cpp_extension import CppExtension

    sources = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "csrc").glob("*.cpp"))]
    sources += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "csrc" / "ops").glob("*.cpp"))]
    cxx_flags = ["-O2", "-std=c++17"]
    extra_link_args = []
    define_macros = []
    if IS_MACOS:
        sources += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "csrc" / "mps").glob("*.mm"))]
        sources.append(str(write_embedded_resources(ROOT / "build" / "metal").relative_to(ROOT)))
        # PyTorch itself builds with -fno-objc-arc; the glue does manual retain/release.
        cxx_flags += ["-fno-objc-arc"]
        extra_link_args += ["-framework", "Metal", "-framework", "Foundation"]
        define_macros.append(("METALGEN_WITH_MPS", "1"))
    return CppExtension(
        "torch_metalgen._C",
        sources,
        include_dirs=[str(ROOT / "csrc")],
        define_macros=define_macros,
        extra_compile_args={"cxx": cxx_flags},
        extra_link_args=extra_link_args,
    )


def main():
    from torch.utils.cpp_extension import BuildExtension

    os.environ.setdefault("MAX_JOBS", str(os.cpu_count() or 2))
    setup(
        ext_modules=[extension()],
        cmdclass={
            "build_ext": BuildExtension.with_options(use_ninja=True),
            "build_py": BuildPyWithMetal,
        },
    )


if __name__ == "__main__":
    print(f"torch-metalgen build on {platform.system()} {platform.machine()}")
    main()
