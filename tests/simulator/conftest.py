"""Fixtures of the simulator's own suite: compiled test kernels from kernels/*.metal."""

from __future__ import annotations

from pathlib import Path

import pytest

sim = pytest.importorskip("torch_metalgen.sim")

KERNELS = Path(__file__).parent / "kernels"


def _toolchain_or_skip() -> None:
    info = sim.toolchain_info()
    if not info["available"]:
        pytest.skip(info["error"])


@pytest.fixture(scope="session")
def kernels_dir() -> Path:
    return KERNELS


@pytest.fixture(scope="session")
def library():
    """library("basics") -> the compiled kernels/basics.metal."""
    _toolchain_or_skip()

    def load(name: str, asan: bool = False):
        return sim.compile_library(KERNELS / f"{name}.metal", asan=asan)

    return load


@pytest.fixture(scope="session")
def asan_available() -> None:
    _toolchain_or_skip()
    if not sim.toolchain_info()["asan"]:
        pytest.skip(
            "AddressSanitizer needs clang with libclang-rt (apt-get install -y "
            "clang-19 libclang-rt-19-dev)"
        )
