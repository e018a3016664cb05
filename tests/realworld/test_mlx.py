"""MLX's Metal kernel headers (mlx-metal wheel), unmodified, instantiated by our own
files (instantiations/*.metal) and run against float64 references."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from torch_metalgen import sim

pytestmark = [pytest.mark.realworld, pytest.mark.slow]

HERE = Path(__file__).parent / "instantiations"


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 2e-6), (torch.float16, 2e-3)])
@pytest.mark.parametrize(("kind", "n"), [("block", 1000), ("looped", 5000)])
def test_mlx_softmax_matches_float64(mlx_include, dtype, tol, kind, n):
    rows = 3
    x = (torch.randn(rows, n) * 4 + 1).to(dtype)
    x[1, 3] = 30  # an outlier
    y = torch.zeros(rows, n, dtype=dtype)
    lib = sim.compile_library(HERE / "mlx_softmax.metal", [mlx_include])
    name = f"{kind}_softmax_{'float32' if dtype == torch.float32 else 'float16'}"
    threads = 256 if kind == "block" else 1024
    lib.launch(
        name,
        buffers={0: x, 1: y},
        bytes={2: struct.pack("i", n)},
        grid=(rows, 1, 1),
        threadgroup=(threads if kind == "looped" else (n + 3) // 4 // 32 * 32 + 32, 1, 1),
        dispatch="threadgroups",
        outputs=(1,),
    )
    expected = torch.softmax(x.double(), dim=-1)
    torch.testing.assert_close(y.double(), expected, rtol=tol, atol=tol * 1e-2)
