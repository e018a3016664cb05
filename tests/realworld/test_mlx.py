"""MLX's Metal kernel headers (mlx-metal wheel), unmodified, instantiated by our own
files (instantiations/*.metal) and run against float64 references."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from torch_metalgen import sim

pytestmark = pytest.mark.realworld

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


def _kernel_headers(root: Path) -> list[Path]:
    """MLX headers that define [[kernel]] templates (what MLX instantiates)."""
    kernels = root / "mlx" / "backend" / "metal" / "kernels"
    return sorted(p for p in kernels.rglob("*.h") if "[[kernel]]" in p.read_text())


def test_mlx_kernel_headers_compile(mlx_include, tmp_path):
    """Each kernel header, included after utils.h as MLX's own .metal files include it,
    type-checks unmodified (its templates are parsed; the instantiated kernels are the
    ones the tests above run)."""
    failures = {}
    headers = _kernel_headers(mlx_include)
    for header in headers:
        relative = header.relative_to(mlx_include)
        source = tmp_path / (relative.as_posix().replace("/", "_") + ".metal")
        source.write_text(
            "#include <metal_stdlib>\nusing namespace metal;\n"
            '#include "mlx/backend/metal/kernels/utils.h"\n'
            "#define SOFTMAX_N_READS 4\n#define SOFTMAX_LOOPED_LIMIT 4096\n"
            f'#include "{relative.as_posix()}"\n'
        )
        try:
            sim.compile_library(source, [mlx_include])
        except sim.MetalCompileError as error:
            first = next((x for x in str(error).splitlines() if "error" in x), str(error))
            failures[relative.name] = first.split("kernels/")[-1][:200]
    compiled = len(headers) - len(failures)
    print(f"\nMLX: {compiled}/{len(headers)} kernel headers compile unmodified")
    for name, reason in sorted(failures.items()):
        print(f"  {name}: {reason}")
    assert compiled >= 1, failures
