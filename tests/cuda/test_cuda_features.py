"""The CUDA back end's mapping of MSL, kernel by kernel (tests/cuda/kernels/features.metal):
geometry and builtins of partial threadgroups, half/bfloat rounding, vectors and swizzles,
SIMD-group functions, setBytes and threadgroup bindings, atomics, simdgroup matrices,
function constants. Each test runs on the CPU simulator and on CUDA against values computed
here from Metal's rules, so the expectations are checked by both back ends."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.cuda.tier import require_gpu, require_sim

pytestmark = pytest.mark.cuda

FEATURES = Path(__file__).resolve().parent / "kernels" / "features.metal"


class Backend:
    def __init__(self, name: str) -> None:
        self.name = name
        if name == "cuda":
            require_gpu()
            from torch_metalgen.sim import cuda

            self.module = cuda
            self.device = torch.device("cuda")
        else:
            require_sim()
            from torch_metalgen import sim

            self.module = sim
            self.device = torch.device("cpu")

    def library(self, constants=None):
        return self.module.compile_library(FEATURES, constants=constants)

    def tensor(self, value) -> torch.Tensor:
        return torch.as_tensor(value).to(self.device)


@pytest.fixture(params=["sim", "cuda"])
def backend(request) -> Backend:
    return Backend(request.param)


def test_partial_threadgroups_of_dispatch_threads(backend):
    width, height, tg = 37, 5, (16, 4)
    out = torch.zeros(width * height * 8, dtype=torch.int32, device=backend.device)
    backend.library().launch(
        "geometry", buffers={0: out}, grid=(width, height), threadgroup=tg, dispatch="threads"
    )
    got = out.cpu().view(height, width, 8)
    for y in range(height):
        for x in range(width):
            gx, gy = x // tg[0], y // tg[1]
            sx, sy = min(tg[0], width - gx * tg[0]), min(tg[1], height - gy * tg[1])
            index = (x - gx * tg[0]) + (y - gy * tg[1]) * sx
            want = [sx, sy, gx, gy, index, index % 32, index // 32, -(-(sx * sy) // 32)]
            assert got[y, x].tolist() == want, (x, y)


def test_half_and_bfloat_round_after_every_operation(backend):
    g = torch.Generator().manual_seed(1)
    a = (torch.randn(300, generator=g) * 30).half()
    b = torch.randn(300, generator=g).half()
    c = (torch.randn(300, generator=g) * 5).bfloat16()
    half_out = torch.empty(300, dtype=torch.float16, device=backend.device)
    mixed = torch.empty(300, dtype=torch.float32, device=backend.device)
    bf_out = torch.empty(300, dtype=torch.bfloat16, device=backend.device)
    backend.library().launch(
        "low_precision",
        buffers={
            0: backend.tensor(a),
            1: backend.tensor(b),
            2: half_out,
            3: mixed,
            4: backend.tensor(c),
            5: bf_out,
        },
        grid=(300,),
        threadgroup=(64,),
        outputs=(2, 3, 5),
    )
    # torch's CPU half and bfloat ops round after each operation, as Metal does.
    assert torch.equal(half_out.cpu(), a * b + a)
    assert torch.equal(mixed.cpu(), a.float() * np.float32(0.1))
    assert torch.equal(bf_out.cpu(), c * c - c)


def test_vectors_swizzles_and_conversions(backend):
    g = torch.Generator().manual_seed(2)
    v = (torch.randn(40, 4, generator=g) * 3).float()
    out = torch.empty(40 * 3, 4, device=backend.device)
    ints = torch.empty(40, 4, dtype=torch.int32, device=backend.device)
    backend.library().launch(
        "vectors",
        buffers={0: backend.tensor(v), 1: out, 2: ints},
        grid=(40,),
        threadgroup=(32,),
        outputs=(1, 2),
    )
    n = v.numpy()
    w = n[:, [3, 2, 1, 0]] * np.float32(2) + np.float32([1, 2, 3, 4])
    w[:, 0], w[:, 2] = n[:, 1], n[:, 3]
    w[:, 1] += n[:, 0]
    length = np.sqrt((n[:, 0] * n[:, 0] + n[:, 1] * n[:, 1]).astype(np.float32))
    second = np.stack([w[:, 0], w[:, 1], n[:, 2], np.all(n > 0, axis=1).astype(np.float32)], 1)
    third = np.where(n < 0, -n, n) + length[:, None]
    got = out.cpu().numpy().reshape(40, 3, 4)
    np.testing.assert_array_equal(got[:, 0], w)
    np.testing.assert_array_equal(got[:, 1], second)
    np.testing.assert_allclose(got[:, 2], third, rtol=2e-7)
    want_ints = np.trunc(n * np.float32(10)).astype(np.int32) + np.trunc(n[:, [1, 0, 3, 2]]).astype(
        np.int32
    )
    np.testing.assert_array_equal(ints.cpu().numpy(), want_ints)


def test_simd_group_functions(backend):
    g = torch.Generator().manual_seed(3)
    x = torch.randint(-8, 9, (128,), generator=g).float()
    x[32:64] = x[32:64].abs() + 1  # one SIMD-group with every value positive
    out = torch.empty(128 * 8, device=backend.device)
    backend.library().launch(
        "simd_functions",
        buffers={0: backend.tensor(x), 1: out},
        grid=(128,),
        threadgroup=(64,),
        outputs=(1,),
    )
    got = out.cpu().view(128, 8)
    for i in range(128):
        base, lane = i - i % 32, i % 32
        group = x[base : base + 32]
        quad = x[i - i % 4 : i - i % 4 + 4]
        want = [
            group.sum(),
            group.max(),
            group[:lane].sum(),
            x[i + 3] if lane + 3 < 32 else x[i],
            x[base + (lane ^ 5)],
            x[base + 7],
            quad.sum(),
            float(bool((group > 0).all())) + 2.0 * (lane == 0) + 4.0 * lane,
        ]
        assert got[i].tolist() == [float(w) for w in want], i


def test_simd_function_in_divergent_code(backend):
    x = torch.arange(64, dtype=torch.float32)
    out = torch.empty(64, device=backend.device)
    want = torch.zeros(64)
    for base in (0, 32):
        want[base : base + 16] = x[base : base + 16].sum()
    arguments = dict(buffers={0: backend.tensor(x), 1: out}, grid=(64,), threadgroup=(64,))
    library = backend.library()
    if backend.name == "cuda":
        # __activemask() need not be Metal's active set: refused unless accepted.
        with pytest.raises(
            backend.module.SimdCollectiveError, match=r"simd_sum at .*features.metal:84"
        ):
            library.launch("partial_sum", **arguments)
        library.launch("partial_sum", partial_simd="allow", **arguments)
    else:
        library.launch("partial_sum", **arguments)
    assert torch.equal(out.cpu(), want)


def test_reading_an_inactive_lane_is_an_error(backend):
    from torch_metalgen.sim import InactiveLaneReadError

    x = torch.arange(32, dtype=torch.float32)
    out = torch.empty(32, device=backend.device)
    with pytest.raises(InactiveLaneReadError, match="simd_shuffle"):
        backend.library().launch(
            "inactive_read",
            buffers={0: backend.tensor(x), 1: out},
            grid=(32,),
            threadgroup=(32,),
            **({"partial_simd": "allow"} if backend.name == "cuda" else {}),
        )


def test_set_bytes_and_threadgroup_bindings(backend):
    x = torch.arange(128, dtype=torch.float32)
    out = torch.empty(128, device=backend.device)
    coefficients = struct.pack("3f", 0.5, 1.5, 2.5)
    backend.library().launch(
        "bindings",
        buffers={0: backend.tensor(x), 3: out},
        bytes={1: coefficients, 2: struct.pack("fI", 3.0, 3)},
        threadgroup_memory={0: 64 * 4},
        grid=(128,),
        threadgroup=(64,),
        outputs=(3,),
    )
    want = [
        x[(i // 64) * 64 + 63 - i % 64] * 3.0 + (0.5, 1.5, 2.5)[(i % 64) % 3] for i in range(128)
    ]
    assert out.cpu().tolist() == [float(w) for w in want]


def test_atomics_on_device_and_threadgroup_memory(backend):
    total = torch.zeros(1, dtype=torch.int32, device=backend.device)
    per_group = torch.zeros(4, dtype=torch.int32, device=backend.device)
    backend.library().launch(
        "atomics",
        buffers={0: total, 1: per_group},
        grid=(4,),
        threadgroup=(96,),
        dispatch="threadgroups",
    )
    assert total.item() == 4 * 96
    assert per_group.cpu().tolist() == [sum(range(96))] * 4


def test_simdgroup_matrix_multiply_accumulate(backend):
    g = torch.Generator().manual_seed(4)
    a, b, c = (torch.randint(-4, 5, (8, 8), generator=g).float() for _ in range(3))
    out = backend.tensor(c.clone())
    backend.library().launch(
        "matrix_multiply",
        buffers={0: backend.tensor(a), 1: backend.tensor(b), 2: out},
        grid=(32,),
        threadgroup=(32,),
    )
    assert torch.equal(out.cpu(), c + a @ b)


@pytest.mark.parametrize("doubled", [None, True, False])
def test_function_constants(backend, doubled):
    out = torch.empty(40, device=backend.device)
    constants = None if doubled is None else {0: doubled}
    backend.library(constants).launch(
        "constants", buffers={0: out}, grid=(40,), threadgroup=(32,), outputs=(0,)
    )
    factor = 2.0 if doubled else 1.0
    assert out.cpu().tolist() == [factor * i for i in range(40)]


def test_geometry_covers_every_thread_once(backend):
    # dispatchThreads over a grid that is a prime in both dimensions: every element written.
    out = torch.zeros(7 * 3 * 8, dtype=torch.int32, device=backend.device)
    backend.library().launch(
        "geometry", buffers={0: out}, grid=(7, 3), threadgroup=(4, 2), outputs=(0,)
    )
    sizes = out.cpu().view(3, 7, 8)[:, :, :2]
    assert int(sizes.prod(-1).min()) >= 1 and math.prod(sizes.shape[:2]) == 21
