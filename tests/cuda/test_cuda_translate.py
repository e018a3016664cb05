"""The CUDA translation of MSL, checked without a GPU: what the CUDA pass rewrites, that
lines stay where they were, that constructs with no CUDA mapping are errors naming them, and
(where NVRTC is installed) that every kernel file of the project compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cuda.tier import require_nvrtc, require_sim
from torch_metalgen.sim import MetalCompileError
from torch_metalgen.sim.cuda.translate import _Sites, member_names, translate_file

pytestmark = pytest.mark.cuda

REPO = Path(__file__).resolve().parents[2]

SOURCE = """#include <metal_stdlib>
using namespace metal;
struct Pixel { float3 rgb; };
kernel void k(device const float4* in [[buffer(0)]],
              device Pixel* px [[buffer(1)]],
              constant uint& n [[buffer(2)]],
              uint i [[thread_position_in_grid]]) {
  threadgroup float scratch[32];
  float4 v = in[i];
  float2 xy = v.zx;
  px[i].rgb = v.xyz + float3(xy, 0.5);
  scratch[i % 32] = xy.y;
}
"""


def translate(text: str) -> str:
    from torch_metalgen.sim.rewrite import rewrite_metal

    return translate_file(text, "test.metal", member_names([rewrite_metal(text)]), _Sites())


def test_the_cuda_pass_keeps_lines_and_maps_metal_to_cuda():
    out = translate(SOURCE)
    assert out.count("\n") == SOURCE.count("\n")
    lines = out.split("\n")
    assert "__forceinline__ void k(" in lines[3]  # the kernel: called by a generated entry
    assert "device" not in lines[3] and "[[" not in lines[3]
    assert "const uint& n" in lines[5]  # constant -> const, attribute dropped
    assert "::metalcuda::site<0, __LINE__>()" in lines[7]  # threadgroup storage, numbered
    assert "metal_float4 v" in lines[8]  # CUDA owns float4
    assert "v.template metal_swizzle<2, 0>()" in lines[9]
    assert "px[i].rgb" in lines[10]  # a struct member called rgb is not a swizzle
    assert "v.template metal_swizzle<0, 1, 2>()" in lines[10]
    assert "make_vec<metal_float3>(xy, 0.5f)" in lines[10]


@pytest.mark.parametrize(
    "declaration, construct",
    [
        ("texture2d<float> t [[texture(0)]]", "texture2d"),
        ("device float4x4* m [[buffer(0)]]", "float4x4"),
    ],
)
def test_constructs_without_a_cuda_mapping_are_errors_naming_them(declaration, construct):
    source = f"#include <metal_stdlib>\nusing namespace metal;\nkernel void k({declaration}) {{}}\n"
    with pytest.raises(MetalCompileError, match=rf"test.metal:3: `{construct}`"):
        translate(source)


def test_every_project_kernel_file_compiles_for_cuda():
    require_sim()
    require_nvrtc()
    from torch_metalgen.sim.cuda import build_program

    sources = sorted((REPO / "metal").glob("*.metal"))
    sources.append(REPO / "tests" / "cuda" / "kernels" / "features.metal")
    for source in sources:
        program = build_program(source, (source.parent,), arch="sm_90")
        assert program.cubin and program.entries, source
        names = {entry.kernel.host_name for entry in program.entries}
        assert names == {k.host_name for k in program.front.kernels}


def test_a_builtin_the_back_end_lacks_is_an_error_naming_it(tmp_path):
    require_sim()
    from torch_metalgen.sim.cuda import build_program

    source = tmp_path / "grid_origin.metal"
    source.write_text(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "kernel void k(device uint* o [[buffer(0)]], uint q [[quadgroups_per_threadgroup]]) {\n"
        "  o[0] = q;\n}\n"
    )
    with pytest.raises(MetalCompileError, match="quadgroups_per_threadgroup"):
        build_program(source, arch="sm_90")
