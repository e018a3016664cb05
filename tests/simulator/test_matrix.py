"""simdgroup_matrix load / store / multiply-accumulate with Apple's lane layout."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch


@pytest.mark.parametrize(
    "dtype,kernel,tolerance",
    [
        (torch.float32, "matmul_float", 1e-5),
        (torch.float16, "matmul_half", 2e-3),
        (torch.bfloat16, "matmul_bfloat", 2e-2),
    ],
)
def test_matmul(library, dtype, kernel, tolerance):
    lib = library("matrix")
    n = 32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    c = torch.empty(n, n, dtype=dtype)
    lib.launch(
        kernel,
        buffers={0: a, 1: b, 2: c},
        bytes={3: struct.pack("I", n)},
        grid=(n // 8, n // 8, 1),
        threadgroup=(32, 1, 1),
        dispatch="threadgroups",
        outputs=(2,),
    )
    expected = a.double() @ b.double()
    error = (c.double() - expected).abs().max().item()
    assert error <= tolerance * expected.abs().max().item() * 4, error


def test_lane_layout_and_transposed_load(library):
    lib = library("matrix")
    a = torch.arange(64, dtype=torch.float32)
    out = torch.empty(64)
    transposed = torch.empty(64)
    lib.launch(
        "lane_layout",
        buffers={0: a, 1: out, 2: transposed},
        grid=(1,),
        threadgroup=(32,),
        dispatch="threadgroups",
        outputs=(1, 2),
    )
    for lane in range(32):
        row = 4 * (lane // 16) + (lane // 2) % 4
        column = 4 * ((lane // 8) % 2) + 2 * (lane % 2)
        assert out[2 * lane].item() == row * 8 + column
        assert out[2 * lane + 1].item() == row * 8 + column + 1
    np.testing.assert_array_equal(transposed.view(8, 8).numpy(), a.view(8, 8).T.numpy())


def test_multiply_without_accumulator_and_diagonal_constructor(library):
    lib = library("matrix")
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    out = torch.empty(8, 8)
    lib.launch(
        "multiply_diagonal",
        buffers={0: a, 1: b, 2: out},
        grid=(1,),
        threadgroup=(32,),
        dispatch="threadgroups",
        outputs=(2,),
    )
    torch.testing.assert_close(out.double(), (a.double() @ b.double()) * 2, rtol=1e-5, atol=1e-5)
