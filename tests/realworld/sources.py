"""Third-party Metal sources for the real-world suite, fetched from PyPI at test time and
cached (never committed): the mlx-metal macOS wheel (MLX's kernel headers) and the
llama-cpp-python sdist (ggml's Metal kernels, vendored under vendor/llama.cpp)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("METALGEN_REALWORLD_CACHE", "~/.cache/torch-metalgen/realworld"))
MLX_KERNELS = "mlx/include/mlx/backend/metal/kernels"


def cache_dir() -> Path:
    path = CACHE.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _download(what: str, *pip_args: str) -> Path:
    """The downloaded archive (pip's own client), or OSError saying why not."""
    root = cache_dir()
    pattern = {"mlx-metal": "mlx_metal-*.whl", "llama-cpp-python": "llama_cpp_python-*.tar.gz"}
    found = sorted(root.glob(pattern[what]))
    if found:
        return found[-1]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(root), *pip_args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    found = sorted(root.glob(pattern[what]))
    if result.returncode != 0 or not found:
        raise OSError(f"pip download {what} failed: {result.stderr.strip()[-300:]}")
    return found[-1]


def mlx_include_root() -> Path:
    """Directory holding mlx/backend/metal/kernels/*.h (include it as `-I`)."""
    root = cache_dir() / "mlx"
    if not (root / MLX_KERNELS).is_dir():
        wheel = _download(
            "mlx-metal", "--platform", "macosx_14_0_arm64", "--only-binary=:all:", "mlx-metal"
        )
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(MLX_KERNELS + "/")]
            archive.extractall(root, members)
    return root / "mlx" / "include"


def ggml_src() -> Path:
    """ggml/src of the vendored llama.cpp (ggml-metal/kernels/*.metal, ggml-common.h)."""
    root = cache_dir() / "ggml"
    found = sorted(root.glob("*/vendor/llama.cpp/ggml/src/ggml-metal/kernels"))
    if not found:
        sdist = _download("llama-cpp-python", "--no-binary=:all:", "llama-cpp-python")
        with tarfile.open(sdist) as archive:
            members = [
                m
                for m in archive.getmembers()
                if "/ggml/src/ggml-metal/" in m.name or m.name.endswith("/ggml/src/ggml-common.h")
            ]
            archive.extractall(root, members, filter="data")
        found = sorted(root.glob("*/vendor/llama.cpp/ggml/src/ggml-metal/kernels"))
    return found[-1].parent.parent
