"""SIMD-group and quad-group functions against numpy, including partial SIMD-groups
and divergent branches."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def _groups(values: np.ndarray, width: int = 32):
    for start in range(0, len(values), width):
        yield start, values[start : start + width]


@pytest.mark.parametrize("n,group", [(128, 64), (96, 96), (70, 64)])
def test_simd_functions(library, n, group):
    lib = library("simd")
    torch.manual_seed(n)
    x = torch.randn(n) * 0.9 + 0.05
    out = torch.empty(n, 16)
    # Partial SIMD-groups (n=70) would read inactive lanes in the shuffles: poison mode.
    lib.launch(
        "simd_functions",
        buffers={0: x, 1: out},
        grid=(n,),
        threadgroup=(group,),
        outputs=(1,),
        inactive_lanes="poison",
    )
    o = out.double().numpy()
    v = x.double().numpy()
    for tg_start in range(0, n, group):
        block = v[tg_start : tg_start + group]
        for start, lanes in _groups(block):
            m = len(lanes)
            rows = o[tg_start + start : tg_start + start + m]
            idx = np.arange(m)
            np.testing.assert_allclose(rows[:, 0], lanes.sum(), rtol=1e-5)
            assert (rows[:, 1] == lanes.astype(np.float32).max()).all()
            assert (rows[:, 2] == lanes.astype(np.float32).min()).all()
            np.testing.assert_allclose(rows[:, 3], np.prod(lanes), rtol=1e-4)
            np.testing.assert_allclose(rows[:, 4], np.cumsum(lanes), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(rows[:, 5], np.cumsum(lanes) - lanes, rtol=1e-5, atol=1e-6)
            src = (idx * 7) % 32
            ok = src < m
            np.testing.assert_array_equal(rows[ok, 6], lanes[src[ok]].astype(np.float32))
            assert np.isnan(rows[~ok, 6]).all(), "reads of absent lanes give poison"
            down = np.where(idx + 3 < 32, idx + 3, idx)
            ok = down < m
            np.testing.assert_array_equal(rows[ok, 7], lanes[down[ok]].astype(np.float32))
            up = np.where(idx >= 5, idx - 5, idx)
            np.testing.assert_array_equal(rows[:, 8], lanes[up].astype(np.float32))
            xor = idx ^ 6
            ok = xor < m
            np.testing.assert_array_equal(rows[ok, 9], lanes[xor[ok]].astype(np.float32))
            if m > 9:
                assert (rows[:, 10] == np.float32(lanes[9])).all()
            ballot = sum(1 << i for i in range(m) if np.float32(lanes[i]) > 0)
            assert (rows[:, 11] == np.float32(ballot)).all()
            assert (rows[:, 12] == 1).all()
            assert (rows[:, 13] == float((lanes.astype(np.float32) > 1.5).any())).all()
            assert rows[:, 14].tolist() == [1.0] + [0.0] * (m - 1)
            for q in range(0, m - m % 4, 4):
                quad = lanes[q : q + 4].astype(np.float32)
                for j in range(4):
                    expected = quad.sum() + quad[j ^ 1] * 1000.0
                    np.testing.assert_allclose(rows[q + j, 15], expected, rtol=1e-5)


def test_divergent_branches_reduce_over_their_own_lanes(library):
    lib = library("simd")
    x = torch.arange(64, dtype=torch.float32)
    out = torch.empty(64)
    lib.launch(
        "simd_divergent", buffers={0: x, 1: out}, grid=(64,), threadgroup=(64,), outputs=(1,)
    )
    for base in (0, 32):
        lanes = np.arange(base, base + 32)
        even, odd = lanes[::2].sum(), lanes[1::2].sum()
        expected = np.where(lanes % 2 == 0, even, -odd)
        np.testing.assert_array_equal(out[base : base + 32].numpy(), expected)


def test_vector_and_integer_payloads(library):
    lib = library("simd")
    x = torch.randn(64, 4)
    out = torch.empty(64, 4)
    ints = torch.empty(64, dtype=torch.int32)
    lib.launch(
        "simd_vectors",
        buffers={0: x, 1: out, 2: ints},
        grid=(64,),
        threadgroup=(64,),
        outputs=(1, 2),
    )
    for base in (0, 32):
        block = x[base : base + 32].double()
        partner = block[torch.arange(32) ^ 1]
        torch.testing.assert_close(
            out[base : base + 32].double(), block.sum(0) + partner, rtol=1e-5, atol=1e-5
        )
        expected = max(i * 3 % 17 for i in range(base, base + 32)) + 32
        assert (ints[base : base + 32] == expected).all()
