"""Compiles a .metal file into a simulator library (cached).

Pipeline: find the user headers (clang -MM), rewrite them into a shadow tree with
#line so diagnostics point at the original files, read kernels from clang's JSON AST
(this pass also type-checks with address spaces), generate the launcher, compile.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from . import cache, instrument
from .conformance import check_conformance
from .errors import LaunchArgumentError, MetalCompileError, SimulatorError, ToolchainMissingError
from .frontend import FunctionConstant, Kernel, Parameter, read_translation_unit
from .launcher import SIMULATED_BUILTINS, generate_launcher, unsupported_builtins
from .masks import check_stored_masks
from .rewrite import rewrite_metal
from .toolchain import Toolchain, find_toolchain, has_asan, has_compiler_rt

SIM_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = SIM_DIR / "include"
RUNTIME_DIR = SIM_DIR / "runtime"
RUNTIME_SOURCES = ("fiber.cpp", "scheduler.cpp", "launch.cpp", "builtins.cpp", "check.cpp")
ASAN_DRIVER = "asan_driver.cpp"
NO_ADDRESS_SPACES = "-DMETALSIM_NO_ADDRESS_SPACES"
CODEGEN = "-DMETALSIM_CODEGEN"  # builds that generate code (qualifiers.h)

# Clang (in C++ mode) has no generic address space, so copying a struct out of or into
# device/constant memory (`Params p = params;`, `out[i] = value;`) fails to bind the
# implicit copy constructor's or assignment's reference. Metal allows it. Such errors are
# forgiven: the type checks of that pass still hold for everything else, and the code is
# then compiled without address spaces.
_DIAGNOSTIC = re.compile(
    r"^(?P<where>\S+?:\d+:\d+): (?P<level>error|note|warning): (?P<text>.*)$", re.M
)
_COPY_NOTE = re.compile(
    r"implicit (copy|move) (constructor|assignment operator).*"
    r"(address space|address_space|\b(device|constant|threadgroup) )"
    # a member function called on an object in device, constant or threadgroup memory
    r"|'this' object is in address space '\d', but method expects object in generic"
    # a string literal where MSL gives it the constant address space
    r"|no known conversion from 'const char \[\d+\]' to '[^']*address_space\(2\)"
    r"|no known conversion from 'const char\[\d+\]' to '[^']*address_space\(2\)"
)


_OBJECT_IN_ADDRESS_SPACE = re.compile(
    r"cannot initialize object parameter of type .* with an expression of type "
    r"|function type may not be qualified with an address space"
    r"|no viable overloaded operator\[\] for type .*address_space"
    r"|no matching constructor for initialization of '[^']*address_space"
    # a kernel instantiation that failed for one of the reasons above
    r"|variable 'metalsim_kernel_instance_\d+' with type 'const auto' has incompatible "
    r"initializer of type '<overloaded function type>'"
)


def only_struct_copy_errors(diagnostics: str) -> bool:
    """True if every error is one of clang C++'s address-space gaps (see above): a struct
    copied across address spaces, a member function called on an object in device,
    constant or threadgroup memory, or a member function qualified with an address
    space (MSL allows all three; C++ has no generic address space for `this`)."""
    blocks: list[tuple[str, list[str]]] = []
    for match in _DIAGNOSTIC.finditer(diagnostics):
        if match["level"] == "error":
            blocks.append((match["text"], []))
        elif match["level"] == "note" and blocks:
            blocks[-1][1].append(match["text"])
    if not blocks:
        return False
    # Other candidates (user constructors) may fail too; the copy is the one that applies.
    return all(
        _OBJECT_IN_ADDRESS_SPACE.search(text) or any(_COPY_NOTE.search(n) for n in notes)
        for text, notes in blocks
    )


def language_flags(msl4: bool = False) -> list[str]:
    """How MSL semantics map onto clang: half/bfloat round after every operation, no
    implicit vector conversions, no exceptions, no FMA contraction the source didn't ask for.
    msl4: MSL 4.0 code (Metal 4 tensors and Performance Primitives, see uses_msl4), which
    needs class-type template arguments (`matmul2d<descriptor, ...>`): C++20 there."""
    return [
        "-std=c++20" if msl4 else "-std=c++17",
        "-fno-exceptions",
        "-fno-rtti",
        "-flax-vector-conversions=none",
        "-Xclang",
        "-ffloat16-excess-precision=none",
        "-Xclang",
        "-fbfloat16-excess-precision=none",
        "-ffp-contract=off",
        "-fno-fast-math",
        "-fno-color-diagnostics",
        "-ferror-limit=30",
        "-Wno-unused-value",
        # Large frames touch the stack page by page, so an overflow hits the fiber's guard
        # page (and becomes an error of the launch) instead of landing in other memory.
        "-fstack-clash-protection",
    ]


def link_flags(toolchain: Toolchain) -> list[str]:
    return ["-rtlib=compiler-rt"] if has_compiler_rt(toolchain) else []


# Python modules whose output is compiled: a change to them must invalidate builds.
_CODE_GENERATORS = (
    "rewrite.py",
    "tokens.py",
    "frontend.py",
    "conformance.py",
    "launcher.py",
    "build.py",
    "instrument.py",
)


@functools.cache
def sim_fingerprint() -> str:
    """Everything that shapes what gets compiled: headers, runtime, code generators."""
    files = sorted(
        [
            *INCLUDE_DIR.rglob("*"),
            *RUNTIME_DIR.rglob("*"),
            *(SIM_DIR / name for name in _CODE_GENERATORS),
        ]
    )
    return cache.digest(
        [
            (str(p.relative_to(SIM_DIR)), cache.file_digest(p))
            for p in files
            if p.is_file() and "__pycache__" not in p.parts
        ]
    )


def _run(command: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError as error:
        raise ToolchainMissingError(f"{what}: {error}") from error


# ---- runtime ------------------------------------------------------------------------


def build_runtime(asan: bool) -> Path:
    """libmetalsim.so (normal) or a directory of ASan objects; cached by source and flags."""
    toolchain = find_toolchain()
    flags = [*language_flags(), "-I", str(INCLUDE_DIR), "-fPIC"]
    flags += ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"] if asan else ["-O2"]
    key = cache.digest("runtime", sim_fingerprint(), toolchain.identity, flags)
    final = cache.cache_root() / f"runtime-{'asan-' if asan else ''}{key}"
    sources = [str(RUNTIME_DIR / s) for s in RUNTIME_SOURCES]

    def build(scratch: Path) -> None:
        if asan:  # objects, linked into each kernel executable with its asan_driver main()
            commands = [
                [*toolchain.command, *flags, "-c", src, "-o", str(scratch / f"{Path(src).stem}.o")]
                for src in [*sources, str(RUNTIME_DIR / ASAN_DRIVER)]
            ]
        else:
            commands = [
                [
                    *toolchain.command,
                    *flags,
                    "-shared",
                    *sources,
                    "-o",
                    str(scratch / "libmetalsim.so"),
                    "-lpthread",
                    *link_flags(toolchain),
                ]
            ]
        for command in commands:
            out = _run(command, "runtime build")
            if out.returncode != 0:
                raise SimulatorError(
                    f"building the simulator runtime with {' '.join(toolchain.command)} failed "
                    "(a compiler problem, not a kernel's: check it with "
                    "`torch_metalgen.sim.toolchain_info()` or pick another with "
                    f"METALGEN_SIM_CXX):\n{out.stderr}"
                )

    return cache.build_once(final, build)


# ---- precompiled <metal_stdlib> -----------------------------------------------------


def build_pch(optimized: bool, address_spaces: bool = True, msl4: bool = False) -> Path:
    """<metal_stdlib> precompiled: faster compiles, and clang's AST dump then holds only
    the user's declarations (28 KB instead of 28 MB of JSON for a small kernel file).
    A PCH must be built with the flags that use it, hence one per pass."""
    toolchain = find_toolchain()
    flags = [*language_flags(msl4), "-isystem", str(INCLUDE_DIR)]
    if not address_spaces:
        flags += [NO_ADDRESS_SPACES]
    if optimized:
        flags += ["-O2", "-fPIC", "-fvisibility=hidden", CODEGEN]
    key = cache.digest("pch", sim_fingerprint(), toolchain.identity, flags)
    final = cache.cache_root() / f"pch-{key}"

    def build(scratch: Path) -> None:
        out = _run(
            [
                *toolchain.command,
                *flags,
                "-x",
                "c++-header",
                str(INCLUDE_DIR / "metal_stdlib"),
                "-o",
                str(scratch / "metal_stdlib.pch"),
            ],
            "precompiled header",
        )
        if out.returncode != 0:
            raise SimulatorError(f"precompiling <metal_stdlib> failed:\n{out.stderr}")

    return cache.build_once(final, build) / "metal_stdlib.pch"


# ---- kernel libraries --------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    directory: Path
    kernels: tuple[Kernel, ...]
    dependencies: tuple[str, ...]
    asan: bool
    function_constants: tuple[FunctionConstant, ...] = ()

    @property
    def binary(self) -> Path:
        return self.directory / ("kernel-asan" if self.asan else "kernel.so")


def _include_flags(source: Path, include_dirs: tuple[Path, ...], shadow: Path) -> list[str]:
    flags = ["-isystem", str(INCLUDE_DIR)]
    for directory in (source.parent, *include_dirs):
        flags += ["-I", str(shadow / directory.relative_to("/")), "-I", str(directory)]
    return flags


def _dependencies(
    toolchain: Toolchain, source: Path, include_dirs: tuple[Path, ...], defines: Defines = ()
) -> list[Path]:
    command = [*toolchain.command, "-std=c++17", "-MM", "-isystem", str(INCLUDE_DIR)]
    command += [f"-D{name}={value}" for name, value in defines]
    for directory in (source.parent, *include_dirs):
        command += ["-I", str(directory)]
    out = _run([*command, "-x", "c++", str(source)], "dependency scan")
    if out.returncode != 0:
        raise MetalCompileError(f"{source}: preprocessing failed:\n{out.stderr.strip()}")
    text = out.stdout.replace("\\\n", " ")
    names = text.split(":", 1)[1].split() if ":" in text else []
    paths = [source]
    for name in names:
        path = Path(name).resolve()
        if path != source and INCLUDE_DIR not in path.parents:
            paths.append(path)
    return paths


def _write_shadow(files: list[Path], main: Path, shadow: Path) -> Path:
    """Rewritten copies at shadow/<absolute path> (layout known to frontend._Location)."""
    for path in files:
        target = shadow / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        prelude = "#include <metal_stdlib>\n" if path == main else ""
        text = path.read_text()
        target.write_text(f'{prelude}#line 1 "{path}"\n{rewrite_metal(text)}')
    return shadow / main.relative_to("/")


def _kernel_from_json(entry: dict) -> Kernel:
    return Kernel(
        host_name=entry["host_name"],
        callee=entry["callee"],
        parameters=tuple(Parameter(**p) for p in entry["parameters"]),
        file=entry["file"],
        line=entry["line"],
        max_total_threads_per_threadgroup=entry["max_total_threads_per_threadgroup"],
    )


def _load_artifact(directory: Path, asan: bool) -> Artifact | None:
    manifest = directory / "kernels.json"
    if not manifest.exists():
        return None
    data = json.loads(manifest.read_text())
    return Artifact(
        directory,
        tuple(_kernel_from_json(k) for k in data["kernels"]),
        tuple(data["dependencies"]),
        asan,
        tuple(FunctionConstant(**c) for c in data.get("function_constants", [])),
    )


# ---- function constants ------------------------------------------------------------

ConstantValues = tuple[tuple[int, object], ...]


def normalize_constants(constants) -> ConstantValues:
    """`constants` ({index: value}, as MTLFunctionConstantValues' setConstantValue:
    atIndex:) as a sorted tuple; values are bool, int or float."""
    if constants is None:
        return ()
    if not hasattr(constants, "items"):
        raise TypeError(
            f"constants must be a dict {{function_constant index: value}}, got {type(constants)}"
        )
    result = []
    for index, value in constants.items():
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 65536:
            raise ValueError(
                f"constants: key {index!r} is not a [[function_constant(i)]] index (an int "
                "0..65535)"
            )
        if not isinstance(value, (bool, int, float)):
            raise TypeError(
                f"constants[{index}] must be a bool, int or float, got {type(value).__name__}"
            )
        result.append((index, value))
    return tuple(sorted(result))


def _constant_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}ll" if value < 0 else f"{value}ull"
    return f"{float(value)!r}f"


def constants_header(constants: ConstantValues, defines: Defines = ()) -> str:
    """The header included before the source: the preprocessor macros (compile options)
    and the function constants' values (kernel.h)."""
    lines = ["// Generated by torch_metalgen/sim/build.py: macros and function constant values."]
    lines += [f"#define {name} {value}" for name, value in defines]
    for index, value in constants:
        lines.append(
            f"template <> struct metalsim::function_constant_value_of<{index}> {{ "
            f"static constexpr bool defined = true; "
            f"static constexpr auto value = {_constant_literal(value)}; }};"
        )
    return "\n".join(lines) + "\n"


def check_constants(
    source: Path, declared: list[FunctionConstant], constants: ConstantValues
) -> None:
    """Every given value names a declared constant of a matching type (Metal fails the
    pipeline otherwise)."""
    by_index = {c.index: c for c in declared}
    for index, value in constants:
        constant = by_index.get(index)
        if constant is None:
            raise LaunchArgumentError(
                f"constants[{index}]: {source.name} declares no [[function_constant({index})]]; "
                f"it declares {sorted(by_index) or 'none'}"
            )
        type_text = constant.type.replace("const", "").split("__attribute__")[-1]
        is_bool = "bool" in constant.type
        is_float = any(t in type_text for t in ("float", "half", "bfloat"))
        ok = (
            isinstance(value, bool)
            if is_bool
            else (isinstance(value, (int, float)) and not isinstance(value, bool))
            if is_float
            else (isinstance(value, int) and not isinstance(value, bool))
        )
        if not ok:
            raise LaunchArgumentError(
                f"constants[{index}] = {value!r} does not fit function constant "
                f"'{constant.name}' ({constant.type}) at {constant.file}:{constant.line}"
            )


def _full_key(first_key: str, dependencies: list[str]) -> str | None:
    try:
        return cache.digest(first_key, [(d, cache.file_digest(Path(d))) for d in dependencies])
    except OSError:
        return None


Defines = tuple[tuple[str, str], ...]


def normalize_defines(defines) -> Defines:
    """`defines` ({name: value}, as MTLCompileOptions.preprocessorMacros) as a sorted tuple."""
    if defines is None:
        return ()
    if not hasattr(defines, "items"):
        raise TypeError(f"defines must be a dict {{macro name: value}}, got {type(defines)}")
    result = []
    for name, value in defines.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ValueError(f"defines: {name!r} is not a macro name")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(f"defines[{name!r}] must be a str or int, got {type(value).__name__}")
        if "\n" in str(value):
            raise ValueError(f"defines[{name!r}] must be one line")
        result.append((name, str(value)))
    return tuple(sorted(result))


def build_library(
    source: Path,
    include_dirs: tuple[Path, ...],
    asan: bool,
    constants: ConstantValues = (),
    warnings_as_errors: bool = True,
    defines: Defines = (),
) -> Artifact:
    toolchain = find_toolchain()
    if asan and not has_asan(toolchain):
        raise ToolchainMissingError(
            f"AddressSanitizer is not available with {' '.join(toolchain.command)}. Install "
            "`apt-get install -y clang-19 libclang-rt-19-dev` (ziglang has no AddressSanitizer)."
        )
    first_key = cache.digest(
        "kernel",
        sim_fingerprint(),
        toolchain.identity,
        str(source),
        [str(d) for d in include_dirs],
        asan,
        repr(constants),
        warnings_as_errors,
        repr(defines),
    )
    root = cache.cache_root()
    manifests = root / "manifests"
    manifests.mkdir(exist_ok=True)
    manifest = manifests / f"{first_key}.json"

    def lookup() -> Artifact | None:
        if not manifest.exists():
            return None
        full = _full_key(first_key, json.loads(manifest.read_text()))
        return _load_artifact(root / f"lib-{full}", asan) if full else None

    found = lookup()
    if found:
        return found
    with cache.locked(f"kernel-{first_key}"):
        found = lookup()
        if found:
            return found
        scratch = cache.scratch_dir("lib-")
        try:
            dependencies = _compile(
                toolchain,
                source,
                include_dirs,
                asan,
                scratch,
                constants,
                warnings_as_errors,
                defines,
            )
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        full = _full_key(first_key, [str(d) for d in dependencies])
        artifact_dir = cache.publish(scratch, root / f"lib-{full}")
        cache.write_atomic(manifest, json.dumps([str(d) for d in dependencies]))
        loaded = _load_artifact(artifact_dir, asan)
        assert loaded is not None
        return loaded


_ZIG_NOISE = re.compile(
    r"^.*(error: failed to rename .*FileNotFound|warning: argument unused during compilation: "
    r"'-c').*\n?",
    re.M,
)


def _zig_syntax_only(
    toolchain: Toolchain, result: subprocess.CompletedProcess
) -> subprocess.CompletedProcess:
    """`zig c++ -fsyntax-only` does the work, then fails to cache an object file it never
    asked clang for; drop that noise and judge by the remaining diagnostics."""
    if toolchain.kind != "zig" or result.returncode == 0:
        return result
    stderr = _ZIG_NOISE.sub("", result.stderr)
    code = 1 if re.search(r"\berror:", stderr) else 0
    return subprocess.CompletedProcess(result.args, code, result.stdout, stderr)


def kernel_flags(
    source: Path,
    include_dirs: tuple[Path, ...],
    out_dir: Path,
    *,
    stage: str,
    address_spaces: bool = True,
    warnings_as_errors: bool = True,
    msl4: bool = False,
) -> list[str]:
    """Every flag of a kernel compile, in one place. stage: "front" (the type-checking
    pass that dumps the AST, with Metal's -Wall -Werror), "library" (the -O2 shared
    library) or "asan" (the AddressSanitizer executable). A second, instrumented build
    adds its flags here."""
    flags = [*language_flags(msl4), *_include_flags(source, include_dirs, out_dir / "shadow")]
    if not address_spaces or stage == "asan":
        flags.append(NO_ADDRESS_SPACES)
    if stage == "front":
        flags += strict_warning_flags(warnings_as_errors)
        pch = build_pch(optimized=False, address_spaces=address_spaces, msl4=msl4)
        flags += ["-include-pch", str(pch)]
    elif stage == "library":
        # Hidden: calls inside the library are direct, not through the PLT (only the
        # launcher's kernel table is exported).
        flags += ["-O2", "-fPIC", "-fvisibility=hidden", CODEGEN, *instrument.compile_flags()]
        pch = build_pch(optimized=True, address_spaces=address_spaces, msl4=msl4)
        flags += ["-include-pch", str(pch)]
    else:
        flags += ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", CODEGEN]
    flags += ["-include", str(out_dir / CONSTANTS_HEADER)]
    return flags


CONSTANTS_HEADER = "function_constants.h"


def strict_warning_flags(warnings_as_errors: bool = True) -> list[str]:
    """Warnings as errors, as the project builds Metal with Apple's toolchain (`-Wall
    -Werror`); clang's GNU extensions that MSL (C++14-based) does not have are errors
    in any case. warnings_as_errors=False is for code built without -Werror (ggml
    compiles its kernels at run time, where warnings do not fail)."""
    return [
        "-Wall",
        *(["-Werror"] if warnings_as_errors else []),
        "-Wno-unused-value",  # the simulator's own macros discard values
        # `constant` is `const` plus an address space here, so `static const constant T`
        # (ggml's tables) repeats a const that Metal's own `constant` does not.
        "-Wno-duplicate-decl-specifier",
        "-Wno-unknown-pragmas",  # `#pragma METAL internals : enable` and other Metal pragmas
        "-Werror=vla-cxx-extension",
        "-Werror=gnu-statement-expression",
    ]


_MSL4_HEADERS = re.compile(r"#\s*include\s*<(metal_tensor|MetalPerformancePrimitives/)")


def uses_msl4(files: list[Path]) -> bool:
    """MSL 4.0 code (Metal 4): a file includes <metal_tensor> or Metal Performance
    Primitives. Apple compiles it with `-std=metal4.0`; here it is C++20 (class-type
    template arguments) and MSL 4.0's rules (lambdas, conformance.py)."""
    return any(_MSL4_HEADERS.search(path.read_text(errors="replace")) for path in files)


def _compile(
    toolchain: Toolchain,
    source: Path,
    include_dirs: tuple[Path, ...],
    asan: bool,
    out_dir: Path,
    constants: ConstantValues = (),
    warnings_as_errors: bool = True,
    defines: Defines = (),
) -> list[Path]:
    dependencies = _dependencies(toolchain, source, include_dirs, defines)
    msl4 = uses_msl4(dependencies)
    shadow_main = _write_shadow(dependencies, source, out_dir / "shadow")
    (out_dir / CONSTANTS_HEADER).write_text(constants_header(constants, defines))

    # Front end: type-check with address spaces and read the kernels from the AST.
    def front_end(address_spaces: bool) -> subprocess.CompletedProcess:
        flags = kernel_flags(
            source,
            include_dirs,
            out_dir,
            stage="front",
            address_spaces=address_spaces,
            warnings_as_errors=warnings_as_errors,
            msl4=msl4,
        )
        return _run(
            [
                *toolchain.command,
                *flags,
                "-fsyntax-only",
                "-Xclang",
                "-ast-dump=json",
                "-x",
                "c++",
                str(shadow_main),
            ],
            "front end",
        )

    ast = _zig_syntax_only(toolchain, front_end(address_spaces=True))
    address_spaces = ast.returncode == 0
    if not address_spaces:
        if not only_struct_copy_errors(ast.stderr):
            raise MetalCompileError(f"{source} does not compile:\n{ast.stderr.strip()}")
        ast = _zig_syntax_only(toolchain, front_end(address_spaces=False))
        if ast.returncode != 0:
            raise MetalCompileError(f"{source} does not compile:\n{ast.stderr.strip()}")
    root = json.loads(ast.stdout)
    kernels, declared_constants = read_translation_unit(root, str(source))
    check_conformance(root, str(source), kernels, msl4=msl4)
    check_stored_masks(root, str(source))
    check_constants(source, declared_constants, constants)
    missing = unsupported_builtins(kernels)
    if missing:
        kernel, builtin = missing[0]
        raise MetalCompileError(
            f"{kernel.file}:{kernel.line}: kernel '{kernel.host_name}' uses builtin "
            f"[[{builtin}]], which the simulator does not provide; it provides "
            f"{', '.join(sorted(SIMULATED_BUILTINS))} (docs/simulator.md, Supported MSL)."
        )
    launcher = out_dir / "launcher.cpp"
    launcher.write_text(generate_launcher(kernels, str(shadow_main)))

    if asan:
        runtime = build_runtime(asan=True)
        objects = [str(runtime / (Path(s).stem + ".o")) for s in (*RUNTIME_SOURCES, ASAN_DRIVER)]
        command = [
            *toolchain.command,
            *kernel_flags(source, include_dirs, out_dir, stage="asan", msl4=msl4),
            "-x",
            "c++",
            str(launcher),
            "-x",
            "none",
            *objects,
            "-o",
            str(out_dir / "kernel-asan"),
            "-lpthread",
            *link_flags(toolchain),
        ]
    else:
        command = [
            *toolchain.command,
            *kernel_flags(
                source,
                include_dirs,
                out_dir,
                stage="library",
                address_spaces=address_spaces,
                msl4=msl4,
            ),
            "-shared",
            "-x",
            "c++",
            str(launcher),
            "-o",
            str(out_dir / "kernel.so"),
            *link_flags(toolchain),
        ]
    compiled = _run(command, "kernel build")
    (out_dir / "build.log").write_text(" ".join(command) + "\n" + compiled.stderr)
    if compiled.returncode != 0:
        raise MetalCompileError(f"{source} does not compile:\n{compiled.stderr.strip()}")
    manifest = {
        "kernels": [asdict(k) for k in kernels],
        "dependencies": [str(d) for d in dependencies],
        "function_constants": [asdict(c) for c in declared_constants],
    }
    (out_dir / "kernels.json").write_text(json.dumps(manifest, indent=1))
    return dependencies
