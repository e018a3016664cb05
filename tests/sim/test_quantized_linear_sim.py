"""Every quantized_linear and dequantize_weight kernel x dtype x format through the MSL
simulator (reference/verification.md): against the float64 product with the dequantized
weights, odd and held-out shapes (tokens, out_features, in_features), x distributions,
views, poisoned outputs, both schedule orders, memory traffic against compulsory bytes.

A larger sweep (every format x dtype x variant x more shapes) runs with
METALGEN_SWEEP=1 (marker ``sweep``; CI skips it)."""

from __future__ import annotations

import itertools
import os

import pytest
import torch

from tests.quantized_cases import DTYPES, FORMAT_IDS, FORMATS, packed, random_codes
from tests.sim.plan_runs import run_both_orders, run_kernel, same_bits, sim
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.verify.distributions import DISTRIBUTIONS

VARIANTS = ["gemv", "tiled"]


def reference64(x, qweight, scales, biases, bias, bits, group_size):
    """The float64 product with the dequantized weight (the spec's torch_reference)."""
    return REFERENCES["quantized_linear"](
        x.double(),
        qweight,
        scales.double(),
        None if biases is None else biases.double(),
        None if bias is None else bias.double(),
        bits,
        group_size,
    )


def case(tokens, out_features, in_features, fmt, dtype, seed=0, with_bias=True, leading=()):
    _, bits, mode, group_size = fmt
    weight = packed(out_features, in_features, bits, mode, group_size, dtype, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(*leading, tokens, in_features, generator=generator).to(dtype)
    bias = torch.randn(out_features, generator=generator).to(dtype) if with_bias else None
    return (x, weight.qweight, weight.scales, weight.biases, bias, bits, weight.group_size)


def check(args, variant):
    out = run_both_orders("quantized_linear", args, variant)
    assert_close_to_reference(out, reference64(*args))
    return out


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_format_dtype_and_variant(variant, dtype, fmt):
    tokens = 3 if variant == "gemv" else 11
    check(case(tokens, 37, 256, fmt, dtype, seed=FORMATS.index(fmt)), variant)


SHAPES = {
    # (tokens, out_features, in_features): one row, SIMD-group and tile edges, odd N.
    "gemv": [(1, 1, 32), (1, 8, 64), (2, 33, 96), (8, 9, 544), (5, 100, 160)],
    "tiled": [(1, 1, 32), (9, 33, 64), (33, 31, 96), (64, 65, 160), (40, 8, 32)],
}
HELD_OUT = {"gemv": (7, 131, 4096), "tiled": (45, 70, 640)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("variant, shape", [(v, s) for v in VARIANTS for s in SHAPES[v]], ids=str)
def test_shapes(variant, shape, dtype):
    check(case(*shape, FORMATS[0], dtype, seed=sum(shape)), variant)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_held_out_shapes(variant, dtype):
    check(case(*HELD_OUT[variant], FORMATS[1], dtype, seed=5), variant)


def test_gemv_serves_more_tokens_than_one_threadgroup_holds():
    # Forced on 19 tokens: three threadgroup rows of GEMV_MAX_TOKENS (8, 8, 3).
    check(case(19, 21, 64, FORMATS[4], torch.float32, seed=6), "gemv")


def test_default_variant_is_chosen_by_token_count():
    small = case(8, 16, 64, FORMATS[0], torch.float16)
    large = case(9, 16, 64, FORMATS[0], torch.float16)
    assert [p.kernel for p in _ops._C.plan_quantized_linear(*small)[0]] == [
        "quantized_linear_gemv_float16"
    ]
    assert [p.kernel for p in _ops._C.plan_quantized_linear(*large)[0]] == [
        "quantized_linear_tiled_float16"
    ]


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_x_distributions(variant, distribution):
    args = list(case(4 if variant == "gemv" else 12, 24, 128, FORMATS[1], torch.float32, seed=8))
    args[0] = DISTRIBUTIONS[distribution](tuple(args[0].shape), torch.Generator().manual_seed(9))
    args[0] = args[0].float()
    check(tuple(args), variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_without_bias_and_with_leading_dimensions(variant):
    args = case(3, 19, 64, FORMATS[3], torch.bfloat16, with_bias=False, leading=(2, 2))
    out = check(args, variant)
    assert out.shape == (2, 2, 3, 19)


@pytest.mark.parametrize("variant", VARIANTS)
def test_views_are_made_contiguous(variant):
    # x as a transposed view, qweight and scales as row slices with a storage offset.
    x, qweight, scales, biases, bias, bits, group_size = case(5, 40, 64, FORMATS[0], torch.float16)
    x_view = x.t().contiguous().t()
    args = (x_view, qweight[3:], scales[3:], biases[3:], bias[3:], bits, group_size)
    assert not x_view.is_contiguous() and qweight[3:].storage_offset() > 0
    before = x_view.clone()
    plans, out = _ops._C.plan_quantized_linear(*args, variant=variant)
    sim.run_plan(plans, check_orders=True)
    assert torch.equal(x_view, before)
    assert_close_to_reference(out, reference64(*args))


@pytest.mark.parametrize("variant", VARIANTS)
def test_uniformly_random_codes_and_int32_words(variant):
    # Every bit pattern of a word is a valid format; int32 words carry the same bits.
    generator = torch.Generator().manual_seed(10)
    qweight = random_codes(17, 128, 4, generator)
    scales = (0.01 + 0.05 * torch.rand(17, 2, generator=generator)).half()
    biases = (-0.4 + 0.1 * torch.randn(17, 2, generator=generator)).half()
    x = torch.randn(6, 128, generator=generator).half()
    as_uint32 = check((x, qweight, scales, biases, None, 4, 64), variant)
    as_int32 = run_kernel(
        "quantized_linear", (x, qweight.view(torch.int32), scales, biases, None, 4, 64), variant
    )
    assert same_bits(as_uint32, as_int32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
def test_variants_agree_with_each_other(dtype):
    args = case(6, 33, 192, FORMATS[0], dtype, seed=11)
    gemv = run_kernel("quantized_linear", args, "gemv")
    tiled = run_kernel("quantized_linear", args, "tiled")
    assert_close_to_reference(gemv, tiled.double())


def test_empty_inputs_launch_nothing():
    args = case(0, 16, 64, FORMATS[0], torch.float32)
    plans, out = _ops._C.plan_quantized_linear(*args)
    assert plans == [] and out.shape == (0, 16)


def test_gemv_reads_each_weight_byte_once():
    # Traffic against compulsory bytes: N a multiple of the threadgroup's 8 rows, so no
    # tail row is re-read. qweight is read exactly once; x, scales and biases are re-read
    # from cache by the SIMD groups and lanes that share them, but every byte is touched.
    args = case(1, 64, 1024, FORMATS[1], torch.float16, seed=12)
    x, qweight, scales, biases, bias = args[:5]
    plans, out = _ops._C.plan_quantized_linear(*args)
    with sim.record_launches() as launches:
        sim.run_plan(plans)
    (launch,) = launches
    traffic = launch.traffic
    assert traffic[1].read == qweight.nbytes
    for index, tensor in ((0, x), (1, qweight), (2, scales), (3, biases), (4, bias)):
        assert traffic[index].distinct_read == tensor.nbytes, index
    assert traffic[5].written == traffic[5].distinct_written == out.nbytes
    assert_close_to_reference(out, reference64(*args))


def test_gemv_loads_a_per_channel_scale_once_per_lane():
    # One group per row: each lane loads its rows' scale once, not once per step.
    args = case(1, 16, 2048, FORMATS[5], torch.float16, seed=15)
    plans, out = _ops._C.plan_quantized_linear(*args)
    with sim.record_launches() as launches:
        sim.run_plan(plans)
    assert launches[0].traffic[2].read == 16 * 32 * 2  # rows x lanes x sizeof(half)
    assert_close_to_reference(out, reference64(*args))


# ---- dequantize_weight ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dequantize_kernel_matches_the_cpu_path(fmt, dtype):
    # For float16/bfloat16 scales scale * q is exact in float32, so the kernel and the CPU
    # path give the same bits; float32 scales may differ by the rounding of a fused multiply-add.
    _, bits, mode, group_size = fmt
    weight = packed(13, 256, bits, mode, group_size, dtype, seed=FORMATS.index(fmt))
    args = tuple(weight)
    plans, out = _ops._C.plan_dequantize_weight(*args)
    sim.run_plan(plans, check_orders=True)
    cpu = torch.ops.metalgen.dequantize_weight(*args)
    if dtype == torch.float32:
        assert_close_to_reference(out, cpu.double())
    else:
        assert same_bits(out, cpu)
    reference = REFERENCES["dequantize_weight"](
        weight.qweight,
        weight.scales.double(),
        None if weight.biases is None else weight.biases.double(),
        bits,
        weight.group_size,
    )
    assert_close_to_reference(out, reference)


def test_dequantize_odd_rows_and_one_word():
    generator = torch.Generator().manual_seed(13)
    qweight = random_codes(7, 32, 8, generator)  # 8 words per row of 32 int8 codes
    scales = torch.rand(7, 1, generator=generator)
    plans, out = _ops._C.plan_dequantize_weight(qweight, scales, None, 8, 32)
    sim.run_plan(plans)
    expected = REFERENCES["dequantize_weight"](qweight, scales.double(), None, 8, 32)
    assert_close_to_reference(out, expected)


# ---- the larger sweep (not in CI) -----------------------------------------------------------

SWEEP = os.environ.get("METALGEN_SWEEP") == "1"
SWEEP_SHAPES = list(itertools.product((1, 2, 5, 8, 9, 31, 64), (1, 7, 8, 33, 129), (128, 384)))


@pytest.mark.sweep
@pytest.mark.skipif(not SWEEP, reason="set METALGEN_SWEEP=1 for the full sweep")
@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_sweep(variant, dtype, fmt):
    for shape in SWEEP_SHAPES:
        check(case(*shape, fmt, dtype, seed=sum(shape)), variant)


# ---- AddressSanitizer: out-of-bounds device, threadgroup or thread memory -------------------


@pytest.mark.asan
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "op, variant",
    [("quantized_linear", "gemv"), ("quantized_linear", "tiled"), ("dequantize_weight", "words")],
)
def test_kernels_are_clean_under_asan(op, variant, dtype):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    # Odd N and tokens: the edge rows and tiles, where overruns hide.
    args = case(3 if variant == "gemv" else 35, 37, 96, FORMATS[0], dtype, seed=14)
    if op == "dequantize_weight":
        args = (args[1], args[2], args[3], args[5], args[6])
    plans, out = getattr(_ops._C, f"plan_{op}")(*args, variant=variant)
    sim.run_plan(plans, asan=True)
    assert torch.isfinite(out).all()
