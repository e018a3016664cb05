"""Geometry, builtins, types and math of the simulator against numpy/torch references."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch


def test_axpy_dispatch_threads_partial_threadgroup(library):
    lib = library("basics")
    n = 1000  # not a multiple of the threadgroup: the last threadgroup is partial
    x, y = torch.randn(n), torch.randn(n)
    expected = 0.5 * x.double() + y.double()
    lib.launch(
        "axpy",
        buffers={0: x, 1: y},
        bytes={2: struct.pack("If", n, 0.5)},
        grid=(n,),
        threadgroup=(256,),
    )
    torch.testing.assert_close(y.double(), expected, rtol=1e-6, atol=1e-6)


def _expected_builtins(grid, group, dispatch):
    if dispatch == "threads":
        groups, total = [(g + t - 1) // t for g, t in zip(grid, group, strict=True)], list(grid)
    else:
        groups, total = list(grid), [g * t for g, t in zip(grid, group, strict=True)]
    rows = {}
    for gz in range(groups[2]):
        for gy in range(groups[1]):
            for gx in range(groups[0]):
                origin = (gx, gy, gz)
                size = [min(t, tot - g * t) for t, tot, g in zip(group, total, origin, strict=True)]
                count = size[0] * size[1] * size[2]
                for linear in range(count):
                    lx, ly, lz = (
                        linear % size[0],
                        linear // size[0] % size[1],
                        linear // (size[0] * size[1]),
                    )
                    pos = (gx * group[0] + lx, gy * group[1] + ly, gz * group[2] + lz)
                    index = pos[0] + total[0] * (pos[1] + total[1] * pos[2])
                    rows[index] = [
                        *pos,
                        lx,
                        ly,
                        lz,
                        gx,
                        gy,
                        gz,
                        *size,
                        groups[0],
                        groups[1],
                        total[0],
                        total[1],
                        linear,
                        linear % 32,
                        linear // 32,
                        32,
                        (count + 31) // 32,
                        pos[1],
                    ]
    return rows, total


@pytest.mark.parametrize(
    "dispatch,grid,group",
    [
        ("threads", (37, 5, 3), (16, 4, 2)),  # partial edge threadgroups in every dimension
        ("threadgroups", (3, 2, 2), (8, 8, 1)),  # simdgroups of 32 spanning rows
        ("threads", (100, 1, 1), (64, 1, 1)),  # partial last SIMD-group
    ],
)
def test_builtins_match_metal_definitions(library, dispatch, grid, group):
    lib = library("basics")
    rows, total = _expected_builtins(grid, group, dispatch)
    out = torch.zeros(total[0] * total[1] * total[2] * 22, dtype=torch.int32)
    lib.launch(
        "builtins", buffers={0: out}, grid=grid, threadgroup=group, dispatch=dispatch, outputs=(0,)
    )
    table = out.view(-1, 22).numpy()
    for index, expected in rows.items():
        assert table[index].tolist() == expected, f"thread at linear grid index {index}"


def test_vector_layouts_constructors_and_conversions(library):
    lib = library("basics")
    n = 8
    v = torch.randn(n, 4)
    ints = torch.randint(-50, 50, (n, 4), dtype=torch.int32)
    out = torch.empty(n, 20)
    lib.launch(
        "vectors", buffers={0: out, 1: v, 2: ints}, grid=(n,), threadgroup=(8,), outputs=(0,)
    )
    o = out.numpy()
    vn = v.numpy().astype(np.float64)
    assert (o[:, 0] == 16).all() and (o[:, 1] == 8).all() and (o[:, 2] == 12).all()
    np.testing.assert_array_equal(
        o[:, 3:7], np.stack([vn[:, 0], vn[:, 1], np.full(n, 1.5), vn[:, 3]], 1).astype(np.float32)
    )
    assert (o[:, 7] == 2).all()
    np.testing.assert_array_equal(o[:, 8], ints[:, 0].numpy().astype(np.float32))
    np.testing.assert_array_equal(o[:, 9], ints[:, 3].numpy().astype(np.float32))
    np.testing.assert_array_equal(o[:, 10], v[:, 3].numpy())
    np.testing.assert_array_equal(o[:, 11], v[:, 0].numpy())
    np.testing.assert_allclose(o[:, 12], (vn[:, :3] ** 2).sum(1), rtol=1e-6)
    np.testing.assert_allclose(o[:, 13], np.hypot(vn[:, 0], vn[:, 1]), rtol=1e-6)
    assert (o[:, 14] == 1).all()
    np.testing.assert_array_equal(o[:, 15], np.where(vn[:, 0] > 0, 2.0, 1.0))
    assert (o[:, 16] == 1).all()
    np.testing.assert_array_equal(o[:, 17], np.clip(v[:, 0].numpy(), 0, 1))
    np.testing.assert_array_equal(o[:, 18], np.maximum(v[:, 1].numpy(), 0.25))
    np.testing.assert_array_equal(o[:, 19], v[:, 2].numpy())


@pytest.mark.parametrize(
    "dtype,kernel",
    [
        (torch.float16, "fma_chain_half"),
        (torch.bfloat16, "fma_chain_bfloat"),
        (torch.float32, "fma_chain_float"),
    ],
)
def test_half_and_bfloat_round_after_every_operation(library, dtype, kernel):
    lib = library("basics")
    n = 4096
    a, b = torch.randn(n, dtype=dtype), torch.randn(n, dtype=dtype)
    out = torch.empty(n, dtype=dtype)
    lib.launch(kernel, buffers={0: a, 1: b, 2: out}, grid=(n,), threadgroup=(256,), outputs=(2,))
    # torch rounds to the storage dtype after each CPU op, like FP16/BF16 hardware.
    expected = ((a * b + a) * b) - b
    assert torch.equal(out, expected)
    if dtype != torch.float32:
        # Rounding only once (float intermediate) would differ somewhere in 4096 samples.
        once = ((((a.float() * b.float()) + a.float()) * b.float()) - b.float()).to(dtype)
        assert not torch.equal(once, expected)


def test_math_functions_against_float64(library):
    lib = library("basics")
    x = torch.linspace(-3, 3, 512)
    out = torch.empty(512, 12)
    lib.launch("math", buffers={0: x, 1: out}, grid=(512,), threadgroup=(128,), outputs=(1,))
    v = x.double().numpy()
    o = out.double().numpy()
    references = [
        np.exp(v),
        np.exp2(v),
        np.log(np.abs(v) + 1),
        1 / np.sqrt(np.abs(v) + 1),
        np.tanh(v),
        np.exp(v),
        v * 2 + 1,
        np.maximum(v, 0),
        np.clip(v, -0.5, 0.5),
        np.sqrt(np.abs(v)),
        (v.astype(np.float16) * np.float16(0.5)).astype(np.float64),
        np.sin(v) * np.cos(v),
    ]
    for k, reference in enumerate(references):
        np.testing.assert_allclose(
            o[:, k], reference, rtol=2e-6, atol=1e-6, err_msg=f"math column {k}"
        )


def test_fast_exp_loses_digits_with_the_argument_as_on_a_gpu(library):
    # fast::exp = exp2(float(x * log2(e))): its error grows with |x|, as GPUs' does (the H100
    # showed softmax's float32 outputs 4x over tolerance with it); precise::exp stays within
    # an ulp or so. A simulator computing fast as precise could not see the difference.
    x = torch.linspace(-87.0, -20.0, 256)
    out = torch.empty(256, 2)
    library("basics").launch(
        "fast_and_precise_exp", buffers={0: x, 1: out}, grid=(256,), threadgroup=(64,)
    )
    exact = np.exp(x.double().numpy())
    fast_error = np.abs(out[:, 0].double().numpy() / exact - 1)
    precise_error = np.abs(out[:, 1].double().numpy() / exact - 1)
    assert precise_error.max() < 2.5e-7
    assert fast_error.max() > 2e-6  # ~|x| * 2^-24 * ln2 at |x| = 87, far over an ulp
    modeled = np.exp2((x * np.float32(1.4426950408889634)).double().numpy())
    np.testing.assert_allclose(out[:, 0].double().numpy(), modeled, rtol=2.5e-7)


def test_empty_grid_runs_nothing(library):
    lib = library("basics")
    y = torch.ones(4)
    lib.launch(
        "axpy",
        buffers={0: torch.ones(4), 1: y},
        bytes={2: struct.pack("If", 4, 1.0)},
        grid=(0,),
        threadgroup=(32,),
    )
    assert torch.equal(y, torch.ones(4))


def test_scheduling_orders_agree_on_a_correct_kernel(library):
    lib = library("threadgroup")
    x = torch.randn(16, 1000)
    results = []
    for order, seed in (("forward", 0), ("reverse", 0), ("random", 1), ("random", 2)):
        out = torch.empty(16)
        lib.launch(
            "row_sum_float",
            buffers={0: x, 1: out},
            bytes={2: struct.pack("I", 1000)},
            grid=(16,),
            threadgroup=(256,),
            dispatch="threadgroups",
            order=order,
            seed=seed,
            outputs=(1,),
        )
        results.append(out)
    for other in results[1:]:
        assert torch.equal(results[0], other)
    torch.testing.assert_close(results[0].double(), x.double().sum(1), rtol=1e-5, atol=1e-5)


def test_assorted_features_and_namespaced_kernel(library):
    lib = library("features")
    out = torch.zeros(2)
    packed = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    params = struct.pack("4f3fxxxxI", 0, 0, 0, 7, 0, 8, 0, 9) + bytes(12)
    lib.launch(
        "misc",
        buffers={0: out, 1: packed},
        bytes={2: params},
        grid=(2,),
        threadgroup=(2,),
        outputs=(0,),
    )
    # features.metal, term by term (all exact in float32); thread i reads pk[i].z and i.
    per_thread = packed[:, 2] + torch.arange(2)
    terms = {
        "select(0, 1, m.y), m.y false": 0.0,
        "h.w": 0.25,
        "abs(a.y) + b.y + t.v[3]": 4 + 5 + 3,
        "isinf(INFINITY), numeric_limits<float>::max() > 1e30": 1 + 1,
        "popcount(7u) + clz(1u)": 3 + 31,
        "p.a.w + p.b.y + p.n": 7 + 8 + 9,
        "v4.x + v4.y after v4.xy = (2, 3); v4 *= 2": 4 + 6,
        "fast::divide(1, 4) + precise::sqrt(4)": 0.25 + 2,
    }
    constant = sum(terms.values())
    assert out.tolist() == (per_thread + constant).tolist()


def test_struct_copies_across_address_spaces(library):
    lib = library("features")
    pairs = torch.zeros(4, 2, dtype=torch.int32)
    pairs[:, 0] = torch.tensor([1.5, 2.5, 3.5, 4.5]).view(torch.int32)
    pairs[:, 1] = torch.arange(4, dtype=torch.int32)
    out = torch.zeros(4, 2, dtype=torch.int32)
    lib.launch(
        "struct_copies",
        buffers={1: pairs, 2: out},
        bytes={0: struct.pack("fi", 10, 100)},
        grid=(4,),
        threadgroup=(4,),
        outputs=(2,),
    )
    assert out[:, 0].view(torch.float32).tolist() == [11.5, 12.5, 13.5, 14.5]
    assert out[:, 1].tolist() == [100, 101, 102, 103]
