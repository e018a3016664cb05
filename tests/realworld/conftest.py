"""Real-world suite: MLX and ggml Metal code, unmodified, through the simulator.

Sources come from PyPI at test time (sources.py; tests skip, saying why, without network).
METALGEN_REALWORLD chooses what runs:

- ``ci`` (the default): the kernels run against float64 references (MLX softmax, unary,
  binary, reductions; ggml RMSNorm, LayerNorm, quantized mat-vec) and the coverage checks;
- ``all``: also the compile sweep (``realworld_sweep``): every MLX kernel header through our
  instantiation files, every ggml kernel file with and without GGML_METAL_HAS_BF16
  (7.5 to 12 minutes with -n 2 on the shared 2-core machine, cold build cache);
- ``off``: nothing.

Selecting the marker (``-m realworld_sweep``) runs the sweep whatever the variable says.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from . import sources

HERE = Path(__file__).parent
MODES = ("off", "ci", "all")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "realworld: third-party Metal (MLX, ggml) fetched from PyPI at test time"
    )
    config.addinivalue_line(
        "markers",
        "realworld_sweep: compile every MLX kernel header and ggml kernel file "
        "(METALGEN_REALWORLD=all)",
    )


def pytest_collection_modifyitems(config, items):
    mode = os.environ.get("METALGEN_REALWORLD", "ci")
    if mode not in MODES:
        raise pytest.UsageError(f"METALGEN_REALWORLD={mode!r}: use one of {', '.join(MODES)}")
    selected = "realworld_sweep" in (config.getoption("markexpr", "") or "")
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        if mode == "off":
            item.add_marker(pytest.mark.skip(reason="METALGEN_REALWORLD=off"))
        elif "realworld_sweep" in item.keywords and mode != "all" and not selected:
            item.add_marker(
                pytest.mark.skip(
                    reason="the compile sweep runs with METALGEN_REALWORLD=all "
                    "(or -m realworld_sweep)"
                )
            )


@pytest.fixture(autouse=True)
def _seeded():
    """Every test draws the same inputs in every run (and under xdist)."""
    torch.manual_seed(20261202)


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
