"""Forms of real Metal code (MLX, ggml) the simulator must accept and run as Metal does:
half <-> bfloat conversions, comparisons converted to numbers, braced-list arguments, vector
constructors through vec<T, N> and aliases, uniform<T>, function constants declared through
macros, address-space overloads, compile-option macros, mixed-type simdgroup matrices, and
Metal 4 tensors with Performance Primitives' matmul2d (kernels/msl_forms.metal,
kernels/msl4_tensors.metal)."""

from __future__ import annotations

import pytest
import torch

from torch_metalgen import sim


@pytest.fixture(scope="module")
def forms(library):
    return library("msl_forms")


def test_half_and_bfloat_convert_both_ways(forms):
    h = torch.tensor([1.5, -2.25, 3.0078125, 0.333], dtype=torch.float16)
    b, back = torch.zeros(4, dtype=torch.bfloat16), torch.zeros(2, dtype=torch.float16)
    forms.launch("half_bfloat", buffers={0: h, 1: b, 2: back}, grid=(1,), threadgroup=(1,))
    expected = h.float().to(torch.bfloat16)
    assert torch.equal(b, torch.stack([expected[0], expected[1], expected[2], expected[3]]))
    assert torch.equal(back, torch.stack([expected[0], expected[1]]).float().half())


def test_comparison_converted_in_place_is_one_where_it_holds(forms):
    x = torch.tensor([[2.0, -3.0, 0.0, 0.5], [-0.0, 1.0, -1.0, 7.0]])
    out = torch.zeros_like(x)
    forms.launch("sign_of_float4", buffers={0: x, 1: out}, grid=(2,), threadgroup=(2,))
    assert torch.equal(out, torch.sign(x))
    forms.launch("mask_cast", buffers={0: x, 1: out}, grid=(2,), threadgroup=(2,))
    expected = (x >= 1).float() + (x == 0).float()[:, :1]
    assert torch.equal(out, expected)


def test_conditional_converted_is_its_branch_not_its_condition(forms):
    x = torch.tensor([2.0, -3.0, 0.5, 4.0])
    n = torch.tensor([4.0, 0.0, -2.0, 0.0])
    out, picked = torch.zeros(4), torch.zeros(4, 4)
    forms.launch(
        "divide_or_zero_float", buffers={0: x, 1: n, 2: out, 3: picked}, grid=(4,), threadgroup=(4,)
    )
    quotient = torch.where(n == 0, torch.zeros_like(x), x / n)
    first_two = torch.where(torch.arange(4) < 2, x, n)
    assert torch.equal(out, quotient + first_two)
    assert torch.equal(picked, first_two[:, None].expand(4, 4))


def test_braced_arguments_vector_constructors_and_uniform(forms):
    shape = torch.tensor([4, 3, 2], dtype=torch.int32)
    out = torch.zeros(24)
    forms.launch(
        "construct",
        buffers={0: out, 1: shape},
        grid=(4, 3, 2),
        threadgroup=(4, 3, 2),
        outputs=(0,),
    )
    # v = (1, 2), w = (3, 4), twice = 2 * shape[0] = 8; index = x + 4 * (y + 3 * z).
    assert torch.equal(out, torch.arange(24.0) + 1 + 2 + 12 + 8)


@pytest.mark.parametrize(("value", "expected"), [(True, 2.0), (False, 1.0)])
def test_function_constant_declared_through_a_macro(forms, value, expected):
    out = torch.zeros(4)
    forms.launch(
        "macro_constant", buffers={0: out}, grid=(4,), threadgroup=(4,), constants={7: value}
    )
    assert (out == expected).all()


def test_address_space_overloads_and_a_constant_logger(forms):
    acc = torch.ones(8)  # struct Acc { float v; }
    flags = torch.ones(8, dtype=torch.uint8)  # struct Flag { char x; }
    forms.launch("overloads", buffers={0: acc, 1: flags}, grid=(8,), threadgroup=(8,))
    assert torch.equal(acc, torch.full((8,), 3.0))  # 1 + (1 + 1)


def test_function_as_template_argument(forms):
    out = torch.zeros(5)
    forms.launch("function_argument", buffers={0: out}, grid=(5,), threadgroup=(5,))
    assert torch.equal(out, torch.arange(5.0) * 2)


def test_simdgroup_matrix_with_half_inputs_and_float_accumulator(forms):
    a, b = torch.randn(8, 8).half(), torch.randn(8, 8).half()
    c = torch.zeros(8, 8)
    forms.launch("mixed_mma", buffers={0: a, 1: b, 2: c}, grid=(32,), threadgroup=(32,))
    expected = a.double() @ b.double() + 1
    torch.testing.assert_close(c.double(), expected, rtol=1e-6, atol=1e-5)


def test_compile_option_macros(kernels_dir):
    out = torch.zeros(1, dtype=torch.int32)
    path = kernels_dir / "msl_forms.metal"
    sim.compile_library(path, defines={"SIM_VALUE": 42}).launch(
        "defined_macro", buffers={0: out}, grid=(1,), threadgroup=(1,)
    )
    assert out.item() == 42
    sim.compile_library(path).launch("defined_macro", buffers={0: out}, grid=(1,), threadgroup=(1,))
    assert out.item() == -1
    with pytest.raises(ValueError, match="not a macro name"):
        sim.compile_library(path, defines={"1bad": 1})
    with pytest.raises(TypeError, match="must be a str or int"):
        sim.compile_library(path, defines={"X": 1.5})


def test_metal4_matmul2d_on_tensors_and_cooperative_tensors(kernels_dir):
    """MSL 4.0: D = A * B + C by mpp::tensor_ops::matmul2d on one SIMD-group."""
    library = sim.compile_library(kernels_dir / "msl4_tensors.metal")
    a, b = torch.randn(16, 16).half(), torch.randn(16, 32).half()
    c = torch.randn(16, 32)
    d = torch.zeros(16, 32)
    lanes = torch.full((16, 32), -1, dtype=torch.int32)
    library.launch(
        "matmul_16x32x16",
        buffers={0: a, 1: b, 2: c, 3: d, 4: lanes},
        grid=(32,),
        threadgroup=(32,),
        outputs=(3, 4),
    )
    expected = a.double() @ b.double() + c.double()
    torch.testing.assert_close(d.double(), expected, rtol=1e-5, atol=1e-4)
    # Each lane holds 16 of the 512 elements, every element is held by one lane.
    assert torch.equal(torch.bincount(lanes.flatten(), minlength=32), torch.full((32,), 16))


def test_lambdas_are_msl4_only(tmp_path):
    source = tmp_path / "lambda.metal"
    source.write_text(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  auto f = [](float v) { return v + 1; };\n"
        "  o[i] = f(o[i]);\n"
        "}\n"
    )
    with pytest.raises(sim.MetalCompileError, match="lambda expression"):
        sim.compile_library(source)
    metal4 = tmp_path / "lambda4.metal"
    metal4.write_text("#include <metal_tensor>\n" + source.read_text())
    out = torch.zeros(3)
    sim.compile_library(metal4).launch("k", buffers={0: out}, grid=(3,), threadgroup=(3,))
    assert torch.equal(out, torch.ones(3))
