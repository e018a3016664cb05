"""On-disk build cache: content-addressed directories, published by atomic rename,
built under a file lock so parallel pytest-xdist workers build each thing once."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def cache_root() -> Path:
    """$METALGEN_SIM_CACHE, else ~/.cache/torch_metalgen/sim."""
    configured = os.environ.get("METALGEN_SIM_CACHE")
    root = Path(configured) if configured else Path.home() / ".cache" / "torch_metalgen" / "sim"
    root.mkdir(parents=True, exist_ok=True)
    return root


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process using this cache."""
    lock_dir = cache_root() / "locks"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def scratch_dir(prefix: str) -> Path:
    """A private directory inside the cache (same file system, so rename is atomic)."""
    tmp = cache_root() / "tmp"
    tmp.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=tmp))


def publish(scratch: Path, final: Path) -> Path:
    """Moves a finished build into place; a concurrent identical build may have won."""
    try:
        os.rename(scratch, final)
    except OSError:
        if not final.exists():
            raise
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """``final`` if it exists; else ``build(scratch)`` fills a private directory that is
    published as ``final``. The lock makes parallel workers build each thing once; the
    second existence check skips the build a worker waited for."""
    if final.exists():
        return final
    with locked(final.name):
        if final.exists():
            return final
        scratch = scratch_dir(final.name.split("-")[0] + "-")
        build(scratch)
        return publish(scratch, final)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
