"""The simulator's front end, shared by the CUDA back end, with a path-independent cache.

The kernels of a .metal file (host names, callees, every parameter's binding and type,
function constants) come from the simulator's clang front end: ``sim.build.build_library``
rewrites the file, type-checks it with address spaces, reads clang's JSON AST and runs the
MSL conformance checks, exactly as for the CPU simulator. That needs clang; a machine with
a GPU may have none. So each result is also stored under the CUDA cache keyed by the
*contents* of the file and its includes (paths relative to the file's directory) and the
simulator's own fingerprint: a cache filled on one machine (``python -m
torch_metalgen.sim.cuda.sweep prepare``) serves a checkout moved to another.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import cache as sim_cache
from ..build import build_library, normalize_constants, sim_fingerprint
from ..errors import ToolchainMissingError
from ..frontend import FunctionConstant, Kernel, Parameter


def cuda_cache_root() -> Path:
    """$METALGEN_CUDA_CACHE, else ~/.cache/torch_metalgen/cuda."""
    configured = os.environ.get("METALGEN_CUDA_CACHE")
    root = Path(configured) if configured else Path.home() / ".cache" / "torch_metalgen" / "cuda"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass(frozen=True)
class FrontEnd:
    """What the front end knows about one .metal file (paths are absolute, of this machine)."""

    source: Path
    dependencies: tuple[Path, ...]  # the source first, then the user headers it includes
    kernels: tuple[Kernel, ...]
    function_constants: tuple[FunctionConstant, ...]


def _relative(path: Path, base: Path) -> str:
    return os.path.relpath(path, base)


def _first_key(source: Path, include_dirs, constants, warnings_as_errors: bool) -> str:
    return sim_cache.digest(
        "cuda-front-end",
        sim_fingerprint(),
        source.name,
        sim_cache.file_digest(source),
        [_relative(Path(d), source.parent) for d in include_dirs],
        repr(constants),
        warnings_as_errors,
    )


def _full_key(first: str, source: Path, relative_deps: list[str]) -> str | None:
    try:
        return sim_cache.digest(
            first, [(d, sim_cache.file_digest(source.parent / d)) for d in relative_deps]
        )
    except OSError:
        return None


def _kernel_to_json(kernel: Kernel, base: Path) -> dict:
    entry = asdict(kernel)
    entry["file"] = _relative(Path(kernel.file), base) if kernel.file else ""
    return entry


def _kernel_from_json(entry: dict, base: Path) -> Kernel:
    return Kernel(
        host_name=entry["host_name"],
        callee=entry["callee"],
        parameters=tuple(Parameter(**p) for p in entry["parameters"]),
        file=str((base / entry["file"]).resolve()) if entry["file"] else "",
        line=entry["line"],
        max_total_threads_per_threadgroup=entry["max_total_threads_per_threadgroup"],
    )


def front_end(
    source: str | Path,
    include_dirs: tuple[Path, ...] = (),
    constants=None,
    warnings_as_errors: bool = True,
) -> FrontEnd:
    """The front end's result for ``source``: from the cache when the file and its includes
    are unchanged, else from the simulator's build (which needs clang)."""
    source = Path(source).resolve()
    # The source's own directory is always searched: naming it changes nothing (nor the key).
    include_dirs = tuple(d for d in (Path(d).resolve() for d in include_dirs) if d != source.parent)
    if not isinstance(constants, tuple):  # already normalized by build_program
        constants = normalize_constants(constants)
    base = source.parent
    root = cuda_cache_root() / "front-end"
    root.mkdir(exist_ok=True)
    first = _first_key(source, include_dirs, constants, warnings_as_errors)
    manifest = root / f"{first}.deps.json"
    if manifest.exists():
        relative = json.loads(manifest.read_text())
        full = _full_key(first, source, relative)
        result = root / f"{full}.json" if full else None
        if result is not None and result.exists():
            data = json.loads(result.read_text())
            return FrontEnd(
                source,
                tuple((base / d).resolve() for d in relative),
                tuple(_kernel_from_json(k, base) for k in data["kernels"]),
                tuple(FunctionConstant(**c) for c in data["function_constants"]),
            )
    try:
        artifact = build_library(
            source, include_dirs, False, constants, warnings_as_errors=warnings_as_errors
        )
    except ToolchainMissingError as error:
        raise ToolchainMissingError(
            f"{source.name}: the CUDA back end reads kernels with the simulator's clang front "
            f"end, and no cached result matches this file ({error}). Install clang (or `pip "
            "install ziglang`), or run `python -m torch_metalgen.sim.cuda.sweep prepare` on a "
            "machine that has it and carry its cache (METALGEN_CUDA_CACHE) here."
        ) from error
    dependencies = tuple(Path(d).resolve() for d in artifact.dependencies)
    relative = [_relative(d, base) for d in dependencies]
    full = _full_key(first, source, relative)
    if full is not None:
        data = {
            "kernels": [_kernel_to_json(k, base) for k in artifact.kernels],
            "function_constants": [asdict(c) for c in artifact.function_constants],
        }
        sim_cache.write_atomic(root / f"{full}.json", json.dumps(data, indent=1))
        sim_cache.write_atomic(manifest, json.dumps(relative))
    return FrontEnd(source, dependencies, artifact.kernels, artifact.function_constants)
