"""Kernel layouts and library pieces of real-world MSL (kernels/frontend.metal): implicit
buffer indices, function constants, typedef-form and macro instantiations, vector
C-casts that convert, threadgroup declarations anywhere, matrices, mixed-type math and
the functions MLX and ggml call. Each fails on the regex front end this replaced."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import torch

from torch_metalgen import sim
from torch_metalgen.sim.rewrite import rewrite_metal


@pytest.fixture(scope="module")
def lib(library):
    return library("frontend")


def test_implicit_indices_follow_declaration_order(lib):
    params = lib.kernels["implicit_indices"].parameters
    assert [(p.name, p.index) for p in params if p.kind == "buffer"] == [
        ("factor", 0),
        ("x", 1),
        ("y", 2),
    ]
    x, y = torch.arange(8.0) - 3, torch.zeros(8)
    lib.launch(
        "implicit_indices",
        buffers={1: x, 2: y},
        bytes={0: struct.pack("f", 2.5)},
        grid=(8,),
        threadgroup=(8,),
        outputs=(2,),
    )
    assert y.tolist() == (x.double() * 2.5).tolist()


def test_implicit_indices_skip_explicit_ones(lib):
    params = {p.name: p.index for p in lib.kernels["mixed_indices"].parameters}
    assert params == {"x": 1, "y": 0, "n": 2, "i": -1}


@pytest.mark.parametrize(
    ("constants", "expected"),
    [
        ({0: True, 1: 0.5}, [0.5 * i for i in range(8)]),
        ({0: False, 1: 0.5}, [float(i) for i in range(8)]),
        ({0: True}, [-1.0] * 8),  # FC_factor undefined
    ],
)
def test_function_constants_specialise_the_launch(lib, constants, expected):
    y = torch.zeros(8)
    lib.launch(
        "function_constants",
        buffers={0: y},
        grid=(8,),
        threadgroup=(8,),
        constants=constants,
        outputs=(0,),
    )
    assert y.tolist() == expected
    specialised = sim.compile_library(lib.source, constants=constants)
    assert specialised.constants == constants and sorted(specialised.function_constants) == [
        "FC_factor",
        "FC_scale",
    ]


@pytest.mark.parametrize(
    ("constants", "error", "pattern"),
    [
        ({7: True}, sim.LaunchArgumentError, r"declares no \[\[function_constant\(7\)\]\]"),
        ({0: 1.5}, sim.LaunchArgumentError, r"does not fit function constant 'FC_scale'"),
        ({1: "x"}, TypeError, r"constants\[1\] must be a bool, int or float"),
        ({"a": 1}, ValueError, r"key 'a' is not a \[\[function_constant"),
    ],
)
def test_bad_function_constants_name_the_problem(lib, constants, error, pattern):
    with pytest.raises(error, match=pattern):
        lib.launch(
            "function_constants",
            buffers={0: torch.zeros(8)},
            grid=(8,),
            threadgroup=(8,),
            constants=constants,
        )


def test_vector_c_casts_convert_elementwise(lib):
    x = torch.tensor([[0.5, 1.7, -2.9, 3.0]] * 2)
    y, z = torch.zeros(2, 4, dtype=torch.int32), torch.zeros(2, 4)
    lib.launch(
        "vector_casts", buffers={0: x, 1: y, 2: z}, grid=(2,), threadgroup=(2,), outputs=(1, 2)
    )
    assert y[0].tolist() == [0, 1, -2, 3]  # a bit cast would give 0x3F000000...
    assert z[0].tolist() == (x[0] * 2).half().float().tolist()


@pytest.mark.parametrize(
    ("kernel", "dtype"), [("scaled_typedef", torch.float32), ("scaled_macro_half", torch.float16)]
)
def test_typedef_and_continued_macro_instantiations(lib, kernel, dtype):
    x, y = torch.arange(5, dtype=dtype), torch.zeros(5, dtype=dtype)
    lib.launch(kernel, buffers={0: x, 1: y}, grid=(5,), threadgroup=(5,), outputs=(1,))
    assert y.tolist() == (x * 3).tolist()


def test_threadgroup_declarations_in_a_nested_block(lib):
    y = torch.zeros(64)
    lib.launch(
        "threadgroup_declarations", buffers={0: y}, grid=(64,), threadgroup=(32,), outputs=(0,)
    )
    t = np.arange(32)
    assert y[:32].tolist() == ((31 - t) + (31 - t) * 2).astype(float).tolist()


def test_precise_overloads_keep_the_float_versions(lib):
    """F2: with a bfloat overload in metal::precise, precise::rsqrt(float) stays float."""
    y = torch.tensor([3.0, 2.0, 0.7, 5.0])
    n = torch.zeros(12, dtype=torch.int32)
    x = y.double().clone()
    lib.launch("library_pieces", buffers={0: y, 1: n}, grid=(4,), threadgroup=(4,))
    for k in range(4):
        v = x[k].item()
        m, e = math.frexp(v)
        expected = (
            1 / math.sqrt(v)
            + v**2
            + max(0.0, v - 2)
            + min(v, 1)
            + math.ldexp(m, e)
            + min(v, 2.0, 3.0)
            + sorted([1.0, v, 3.0])[1]
        )
        assert y[k].item() == pytest.approx(expected, rel=2e-7)


def test_integer_library_functions(lib):
    values = [0x1234, 0x7FFF0000, -16]
    n = torch.tensor([[v, 0, 0] for v in values], dtype=torch.int32).flatten()
    lib.launch("library_pieces", buffers={0: torch.ones(3), 1: n}, grid=(3,), threadgroup=(3,))

    def rotate(v):
        u = v & 0xFFFFFFFF
        r = ((u << 28) | (u >> 4)) & 0xFFFFFFFF
        return r - (1 << 32) if r >= 1 << 31 else r

    for k, v in enumerate(values):
        field = (v >> 4) & 0xF
        field = field - 16 if field >= 8 else field  # int: the field is sign-extended
        assert n[3 * k : 3 * k + 3].tolist() == [field, min(v + 0x7FFFFFFF, 0x7FFFFFFF), rotate(v)]


def test_simd_shuffle_and_fill(lib):
    y = torch.zeros(32)
    lib.launch("shuffle_and_fill", buffers={0: y}, grid=(32,), threadgroup=(32,), outputs=(0,))
    for lane in range(32):
        up = lane - 2 if lane >= 2 else lane - 2 + 32 + 100
        base = lane // 8 * 8
        down = lane + 1 if lane + 1 < base + 8 else lane + 1 - 8 + 100
        assert y[lane].item() == up + 1000 * down, lane


def test_matrices(lib):
    m = torch.arange(16.0).reshape(1, 4, 4)  # 4 columns of 4
    y = torch.zeros(1, 4)
    lib.launch("matrices", buffers={0: m, 1: y}, grid=(1,), threadgroup=(1,), outputs=(1,))
    cols = m[0].double()
    expected = sum(cols[c] * (c + 1) for c in range(4)) + cols[:, 0] + cols[1]
    assert y[0].tolist() == expected.tolist()


def test_rewrite_never_moves_lines_and_reports_bad_input():
    source = (
        "#define K(n) template [[host_name(\\\n   n)]] kernel kt f<float>;\n"
        "kernel void k(device float* x, uint i [[thread_position_in_grid]]) {\n"
        "  threadgroup float a[4], b[2][3];\n  x[i] = (float)(int4)(x[0])[0];\n}\n"
    )
    assert rewrite_metal(source).count("\n") == source.count("\n")
    with pytest.raises(sim.MetalCompileError, match="unterminated attribute list"):
        rewrite_metal("kernel void k(device float* x [[buffer(0)]\n")
    with pytest.raises(sim.MetalCompileError, match="threadgroup variable 'a' has an initializer"):
        rewrite_metal("kernel void k() {\n  threadgroup float a[4] = {0};\n}\n")


def test_metal_array_conditional_buffer_and_bit_builtins(tmp_path):
    source = tmp_path / "array.metal"
    source.write_text(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "constant bool has_b [[function_constant(3)]];\n"
        "kernel void k(device float* a [[buffer(0)]],\n"
        "              const device float* b [[buffer(1), function_constant(has_b)]],\n"
        "              uint i [[thread_position_in_grid]]) {\n"
        "  metal::array<float, 2> arr = {1.0f, 2.0f};\n"
        "  a[i] = arr[1] + float(arr.size()) + (has_b ? b[i] : 0.0f) + float(__builtin_ctz(8u));\n"
        "}\n"
    )
    lib = sim.compile_library(source)
    for has_b, expected in ((True, 8.0), (False, 7.0)):
        a = torch.zeros(4)
        lib.launch(
            "k",
            buffers={0: a, 1: torch.ones(4)},
            grid=(4,),
            threadgroup=(4,),
            constants={3: has_b},
            outputs=(0,),
        )
        assert a.tolist() == [expected] * 4
