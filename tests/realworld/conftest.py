"""Real-world suite: MLX and ggml Metal code, unmodified, through the simulator."""

from __future__ import annotations

import pytest

from . import sources


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "realworld: third-party Metal (MLX, ggml) fetched from PyPI; slow"
    )


@pytest.fixture(scope="session")
def ggml_src():
    pytest.importorskip("torch_metalgen.sim")
    try:
        return sources.ggml_src()
    except OSError as error:
        pytest.skip(f"ggml sources unavailable: {error}")


@pytest.fixture(scope="session")
def mlx_include():
    pytest.importorskip("torch_metalgen.sim")
    try:
        return sources.mlx_include_root()
    except OSError as error:
        pytest.skip(f"MLX headers unavailable: {error}")
