"""MLX's Metal kernel headers (mlx-metal wheel), unmodified, instantiated by our own files
(instantiations/mlx/*.metal, one per kernel header, as MLX instantiates them at run time),
and a representative set of the kernels run against float64 references. MLX builds its
kernels without -Werror, so warnings do not fail here (every MSL conformance check still
runs)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from torch_metalgen import sim
from torch_metalgen.tolerances import mismatch

pytestmark = pytest.mark.realworld

INSTANTIATIONS = Path(__file__).parent / "instantiations" / "mlx"
RUNS = Path(__file__).parent / "instantiations" / "runs"  # only the kernels run below
KERNELS = "mlx/backend/metal/kernels"


def instantiation_file(header: str) -> Path:
    """Our instantiation file of MLX kernel header `header` (relative to kernels/)."""
    return INSTANTIATIONS / (header.replace("/", "_").removesuffix(".h") + ".metal")


def kernel_headers(include_root: Path) -> list[str]:
    """The wheel's headers that define kernels (relative to kernels/); defines.h only
    defines the instantiate_kernel macro."""
    root = include_root / KERNELS
    headers = []
    for path in sorted(root.rglob("*.h")):
        text = path.read_text()
        relative = path.relative_to(root).as_posix()
        if relative != "defines.h" and ("[[kernel]]" in text or "[[kernel," in text):
            headers.append(relative)
    return headers


def compile_mlx(path: Path, include_root: Path):
    return sim.compile_library(path, [include_root], warnings_as_errors=False)


def test_every_kernel_header_has_an_instantiation_file(mlx_include):
    """A header a newer MLX adds shows up here (and counts as not compiling)."""
    missing = [h for h in kernel_headers(mlx_include) if not instantiation_file(h).is_file()]
    assert not missing, f"no instantiation file in {INSTANTIATIONS} for: {missing}"


@pytest.mark.realworld_sweep
@pytest.mark.parametrize(
    "path", sorted(INSTANTIATIONS.glob("*.metal")), ids=lambda p: p.stem.replace("_", "/")
)
def test_kernel_header_compiles_unmodified(mlx_include, path):
    library = compile_mlx(path, mlx_include)
    names = {line.split('"')[1] for line in path.read_text().splitlines() if '("' in line}
    assert names and names <= set(library.kernels), names - set(library.kernels)


def _library(mlx_include, header: str):
    return compile_mlx(instantiation_file(header), mlx_include)


def _type_name(dtype: torch.dtype) -> str:
    return {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[dtype]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(("kind", "n"), [("block", 1000), ("looped", 5000)])
def test_mlx_softmax_matches_float64(mlx_include, dtype, kind, n):
    rows = 3
    x = (torch.randn(rows, n) * 4 + 1).to(dtype)
    x[1, 3] = 30  # an outlier
    y = torch.zeros(rows, n, dtype=dtype)
    lib = _library(mlx_include, "softmax.h")
    threads = 1024 if kind == "looped" else (n + 3) // 4 // 32 * 32 + 32
    lib.launch(
        f"{kind}_softmax_{_type_name(dtype)}",
        buffers={0: x, 1: y},
        bytes={2: struct.pack("i", n)},
        grid=(rows, 1, 1),
        threadgroup=(threads, 1, 1),
        dispatch="threadgroups",
        outputs=(1,),
    )
    assert not mismatch(y, torch.softmax(x.double(), dim=-1)), mismatch(y, x.double().softmax(-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("op", "reference"), [("Exp", torch.exp), ("Sigmoid", torch.sigmoid)])
def test_mlx_unary_matches_float64(mlx_include, dtype, op, reference):
    n = 1001  # odd: the last thread has one element of its two
    # within exp's float16 range (e^11 > 65504)
    x = (torch.randn(n, generator=torch.Generator().manual_seed(1)) * 3).clamp(-10, 10).to(dtype)
    y = torch.zeros(n, dtype=dtype)
    per_thread = 8 // x.element_size()  # MLX's WorkPerThread<T>::n
    compile_mlx(RUNS / "mlx_elementwise.metal", mlx_include).launch(
        f"v_{op}{_type_name(dtype)}",
        buffers={0: x, 1: y},
        bytes={2: struct.pack("I", n)},
        grid=((n + per_thread - 1) // per_thread,),
        threadgroup=(256,),
        outputs=(1,),
    )
    assert not mismatch(y, reference(x.double())), mismatch(y, reference(x.double()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("op", "reference"), [("Add", torch.add), ("Multiply", torch.mul)])
def test_mlx_binary_matches_float64(mlx_include, dtype, op, reference):
    n = 999
    a, b = (torch.randn(n) * 2 + 1).to(dtype), torch.randn(n).to(dtype)
    c = torch.zeros(n, dtype=dtype)
    per_thread = 8 // a.element_size()
    lib = compile_mlx(RUNS / "mlx_elementwise.metal", mlx_include)
    lib.launch(
        f"vv_{op}{_type_name(dtype)}",
        buffers={0: a, 1: b, 2: c},
        bytes={3: struct.pack("I", n)},
        grid=((n + per_thread - 1) // per_thread,),
        threadgroup=(256,),
        outputs=(2,),
    )
    expected = reference(a.double(), b.double())
    assert not mismatch(c, expected), mismatch(c, expected)
    # A scalar first operand (binary_sv): every element of b against a[0].
    lib.launch(
        f"sv_{op}{_type_name(dtype)}",
        buffers={0: a, 1: b, 2: c},
        bytes={3: struct.pack("I", n)},
        grid=((n + per_thread - 1) // per_thread,),
        threadgroup=(256,),
        outputs=(2,),
    )
    expected = reference(a[:1].double(), b.double())
    assert not mismatch(c, expected), mismatch(c, expected)


def _row_reduce_sum(mlx_include, x: torch.Tensor, out: torch.Tensor, **options) -> None:
    rows, n = x.shape
    compile_mlx(RUNS / "mlx_reduce.metal", mlx_include).launch(
        f"row_reduce_simple_sum{_type_name(x.dtype)}",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("Q", n), 3: struct.pack("q", rows)},
        grid=(1, (rows + 3) // 4, 1),  # N_WRITES = 4 rows per threadgroup
        threadgroup=(1024, 1, 1),
        dispatch="threadgroups",
        outputs=(1,),
        **options,
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_mlx_row_reduce_sum_matches_float64(mlx_include, dtype):
    x = (torch.randn(8, 3000) + 0.5).to(dtype)
    out = torch.zeros(8, dtype=dtype)
    _row_reduce_sum(mlx_include, x, out)
    expected = x.double().sum(-1)
    assert not mismatch(out, expected), mismatch(out, expected)


def test_mlx_row_reduce_overlapping_last_threadgroup_is_a_reported_race(mlx_include):
    """With 9 rows MLX's last threadgroup moves back to rows 5-8 and writes rows 5-7 again,
    which the previous threadgroup wrote (the same values): a data race under Metal's
    memory model, which the checker names."""
    x, out = torch.randn(9, 300), torch.zeros(9)
    with pytest.raises(sim.DataRaceError, match=r"threadgroup \(0,2,0\) writes buffer\(1\)"):
        # One OS thread: threadgroups run in order, so the later one (0,2,0) is the one that
        # finds the other's writes (with two, either side may report, by timing).
        _row_reduce_sum(mlx_include, x, out, num_threads=1)


def test_mlx_all_reduce_max_matches_float64(mlx_include):
    n, row = 10_000, 4_096  # three threadgroups, each reduces one row of the input
    x = torch.randn(n) * 5
    x[7777] = 123.0
    out = torch.zeros((n + row - 1) // row)
    compile_mlx(RUNS / "mlx_reduce.metal", mlx_include).launch(
        "all_reduce_maxfloat32",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("Q", n), 3: struct.pack("Q", row)},
        grid=(1, out.numel(), 1),
        threadgroup=(256, 1, 1),
        dispatch="threadgroups",
        outputs=(1,),
    )
    expected = torch.stack([c.double().max() for c in x.split(row)])
    assert not mismatch(out, expected), mismatch(out, expected)
