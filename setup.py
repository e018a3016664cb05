"""Build torch_metalgen._C.

Everywhere: the C++ core (schemas, reference implementations, launch plans, Python
bindings). On macOS additionally: metal/*.metal -> .air -> one .metallib (xcrun, Metal 3.1)
embedded in the extension, plus the Objective-C++ MPS glue in csrc/mps/. If the Metal
toolchain is missing (Xcode 26 ships it separately), the build embeds the kernel sources
instead and the extension compiles them at first use, with a one-time warning.

The generated files are checked in: building never runs the generator.

Flags (one source each, used by the build, the macOS CI and tools/check_mps_compile.py):
METAL_FLAGS for every Metal compile and the link, macos_mm_flags() for the Objective-C++
glue. The C++ standard is left to torch.utils.cpp_extension (C++20 for torch >= 2.13; torch
2.14's headers refuse anything older). METALGEN_METAL_WERROR=1 makes Metal warnings and a
failed Metal compile errors instead of the embedded-source fallback (the macOS CI sets it).
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
BUILD_METAL_DIR = ROOT / "build" / "metal"
# Smaller than this and the metallib is the known empty-library failure (mistral.rs #2176).
MIN_METALLIB_BYTES = 1024
# The oldest macOS supported: MSL 3.1 (bfloat) needs macOS 14, and so do torch 2.14's wheels.
MACOS_MIN = "14.0"
# Every `xcrun metal` call, compile and link. Without the version floor the AIR takes the
# SDK's macOS and does not load on an older one; without -fno-fast-math Metal defaults to fast
# math, which the simulator (and the kernels' NaN/Inf handling) does not assume.
METAL_FLAGS = ["-std=metal3.1", f"-mmacosx-version-min={MACOS_MIN}", "-fno-fast-math", "-Wall"]
METAL_LINK_FLAGS = [f"-mmacosx-version-min={MACOS_MIN}"]
CXX_FLAGS = ["-O2"]
# PyTorch itself builds with -fno-objc-arc; the glue does manual retain/release.
MACOS_CXX_FLAGS = ["-fno-objc-arc"]
MPS_DEFINE = ("METALGEN_WITH_MPS", "1")
# The torch this build compiles against, written into the package (torch_metalgen/_compat.py).
BUILT_TORCH_FILE = ROOT / "torch_metalgen" / "_built_torch.py"


def macos_mm_flags() -> list[str]:
    """The compile flags a csrc/mps/*.mm gets on macOS, before torch's own additions."""
    return [
        *CXX_FLAGS,
        *MACOS_CXX_FLAGS,
        f"-D{MPS_DEFINE[0]}={MPS_DEFINE[1]}",
        f"-I{ROOT / 'csrc'}",
    ]


def metal_werror() -> bool:
    return os.environ.get("METALGEN_METAL_WERROR") == "1"


def metal_sources() -> list[Path]:
    return sorted(METAL_DIR.glob("*.metal"))


def flattened_source(path: Path) -> str:
    """The kernel file with `#include "common.h"` inlined, for runtime compilation."""
    common = (METAL_DIR / "common.h").read_text().replace("#pragma once", "")
    return path.read_text().replace('#include "common.h"', common)


def build_metallib(build_dir: Path) -> Path | None:
    """Compile every kernel file into one metallib; None (and a warning) if impossible."""
    werror = ["-Werror"] if metal_werror() else []
    if shutil.which("xcrun") is None:
        if metal_werror():
            raise RuntimeError("METALGEN_METAL_WERROR=1 but xcrun is not installed")
        print("warning: xcrun not found; embedding Metal sources for runtime compilation")
        return None
    air_files = []
    try:
        for source in metal_sources():
            air = build_dir / (source.stem + ".air")
            subprocess.run(
                ["xcrun", "-sdk", "macosx", "metal", *METAL_FLAGS, *werror, "-I", str(METAL_DIR)]
                + ["-c", str(source), "-o", str(air)],
                check=True,
            )
            air_files.append(str(air))
        metallib = build_dir / "metalgen.metallib"
        # Linked by the metal driver so the version floor applies to the metallib too.
        subprocess.run(
            ["xcrun", "-sdk", "macosx", "metal", *METAL_LINK_FLAGS, *air_files]
            + ["-o", str(metallib)],
            check=True,
        )
    except subprocess.CalledProcessError as error:
        if metal_werror():
            raise
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


def write_built_torch(package_dir: Path) -> None:
    """Records the torch this extension is compiled against (checked at import by _compat)."""
    import torch

    package_dir.mkdir(parents=True, exist_ok=True)
    (package_dir / BUILT_TORCH_FILE.name).write_text(
        "# Written by setup.py's build_ext: the torch torch_metalgen._C was compiled against.\n"
        f"BUILT_TORCH = {torch.__version__!r}\n"
    )


def extension():
    from torch.utils.cpp_extension import CppExtension

    sources = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "csrc").glob("*.cpp"))]
    sources += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "csrc" / "ops").glob("*.cpp"))]
    cxx_flags = list(CXX_FLAGS)
    extra_link_args = []
    define_macros = []
    if IS_MACOS:
        sources += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "csrc" / "mps").glob("*.mm"))]
        cxx_flags += MACOS_CXX_FLAGS
        extra_link_args += ["-framework", "Metal", "-framework", "Foundation"]
        define_macros.append(MPS_DEFINE)
    return CppExtension(
        "torch_metalgen._C",
        sources,
        include_dirs=[str(ROOT / "csrc")],
        define_macros=define_macros,
        extra_compile_args={"cxx": cxx_flags},
        extra_link_args=extra_link_args,
    )


def build_ext_class():
    """torch's BuildExtension plus the build-time steps that must not run at every setup.py
    evaluation (PEP 517 evaluates it several times): the Metal compile and the torch record."""
    from torch.utils.cpp_extension import BuildExtension

    class BuildExtWithMetal(BuildExtension.with_options(use_ninja=True)):
        def run(self):
            # In place and editable builds import the package from the source tree; a wheel
            # build packs build_lib.
            in_tree = self.inplace or getattr(self, "editable_mode", False)
            write_built_torch(
                BUILT_TORCH_FILE.parent if in_tree else Path(self.build_lib) / "torch_metalgen"
            )
            if IS_MACOS:
                embedded = str(write_embedded_resources(BUILD_METAL_DIR).relative_to(ROOT))
                for ext in self.extensions:
                    if ext.name == "torch_metalgen._C" and embedded not in ext.sources:
                        ext.sources.append(embedded)
            super().run()

    return BuildExtWithMetal


def main():
    os.environ.setdefault("MAX_JOBS", str(os.cpu_count() or 2))
    setup(
        ext_modules=[extension()],
        cmdclass={"build_ext": build_ext_class(), "build_py": BuildPyWithMetal},
    )


if __name__ == "__main__":
    print(f"torch-metalgen build on {platform.system()} {platform.machine()}")
    main()
