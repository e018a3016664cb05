"""Front end: the line-preserving rewrite, kernel discovery, compile errors that point
at the .metal line, Metal's type rules, and the build cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from torch_metalgen import sim
from torch_metalgen.sim.rewrite import rewrite_metal

SAMPLE = r"""#define instantiate(name, f, T) \
  template [[host_name(name)]] [[kernel]] \
  decltype(f<T>) f<T>;
kernel void k(device float* x [[buffer(0)]],
              uint3 tid [[thread_position_in_grid]]) {
  threadgroup float tile[4][8 + 1];
  threadgroup atomic_int count;
  float4 v = float4(x[0], 1, 2.5, 0.5h);  // comment 0.5h float4(
  const char* s = "float4(1.5)";
}
instantiate("k_float", g, float)
"""


def test_rewrite_keeps_every_line_in_place():
    out = rewrite_metal(SAMPLE)
    assert out.count("\n") == SAMPLE.count("\n")
    lines = out.splitlines()
    assert 'METALSIM_ANNOTATE("metal", "host_name", name)' not in out  # became an instance
    assert "METALSIM_KERNEL_INSTANCE(name, f<T>)" in out
    assert lines[0].endswith("\\") and lines[1].endswith("\\")  # still one macro
    assert 'METALSIM_ANNOTATE("metal", "buffer", 0)' in lines[3]
    assert 'METALSIM_ANNOTATE("metal", "builtin", "thread_position_in_grid")' in lines[4]
    assert "auto& tile = ::metalsim::threadgroup_storage<threadgroup float[4][8+1]>" in lines[5]
    assert "auto& count = ::metalsim::threadgroup_storage<threadgroup atomic_int>" in lines[6]
    assert "::metalsim::make_vec<float4>(x[0], 1, 2.5f, ((half)0.5f))" in lines[7]
    assert "// comment 0.5h" in lines[7]  # comments keep their text
    assert '"float4(1.5)"' in lines[8]  # strings keep their text


def test_kernel_discovery_plain_and_template_instances(library):
    lib = library("basics")
    assert {
        "axpy",
        "builtins",
        "vectors",
        "math",
        "fast_and_precise_exp",
        "fma_chain_half",
        "fma_chain_bfloat",
        "fma_chain_float",
    } == set(lib.kernels)
    axpy = lib.kernels["axpy"]
    assert [(p.name, p.kind, p.index) for p in axpy.parameters] == [
        ("x", "buffer", 0),
        ("y", "buffer", 1),
        ("p", "buffer", 2),
        ("i", "builtin", -1),
    ]
    assert axpy.line == 11 and axpy.file.endswith("basics.metal")


@pytest.mark.parametrize(
    "name,pattern",
    [
        ("address_space", r"address_space.metal:8:.*no matching function.*address space '1'"),
        ("uses_double", r"uses_double.metal:6:.*metal_has_no_double"),
        ("uses_erf", r"uses_erf.metal:6:.*undeclared identifier 'erf'"),
        ("writes_constant", r"writes_constant.metal:6:.*read-only"),
        (
            "missing_attribute",
            r"missing_attribute.metal:5: kernel 'missing_attribute' parameter 'i'",
        ),
    ],
)
def test_metal_rules_are_compile_errors_at_the_metal_line(kernels_dir, name, pattern):
    with pytest.raises(sim.MetalCompileError, match=f"(?s){pattern}"):
        sim.compile_library(kernels_dir / "compile_errors" / f"{name}.metal")


def test_cache_reuses_builds_and_tracks_headers(tmp_path, monkeypatch):
    monkeypatch.setenv("METALGEN_SIM_CACHE", str(tmp_path / "cache"))
    header = tmp_path / "scale.h"
    header.write_text("constant constexpr float SCALE = 2.0;\n")
    source = tmp_path / "scaled.metal"
    source.write_text(
        '#include <metal_stdlib>\n#include "scale.h"\nusing namespace metal;\n'
        "kernel void scaled(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]])"
        " { x[i] *= SCALE; }\n"
    )
    import torch

    first = sim.compile_library(source)
    x = torch.ones(4)
    first.launch("scaled", buffers={0: x}, grid=(4,), threadgroup=(4,))
    assert x.tolist() == [2.0] * 4
    # The same object back proves no rebuild (a wall-clock bound would flake on busy CI).
    assert sim.compile_library(source) is first
    # A changed header is a different build, in this process and from the disk cache.
    header.write_text("constant constexpr float SCALE = 3.0;\n")
    os.utime(header, ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = sim.compile_library(source)
    assert changed is not first
    x = torch.ones(4)
    changed.launch("scaled", buffers={0: x}, grid=(4,), threadgroup=(4,))
    assert x.tolist() == [3.0] * 4
    entries = sorted(p.name for p in Path(tmp_path / "cache").glob("lib-*"))
    assert len(entries) == 2


def test_toolchain_info_reports_the_compiler():
    info = sim.toolchain_info()
    assert info["available"], info.get("error")
    assert "clang" in info["version"] or info["kind"] == "zig"


@pytest.mark.parametrize("system,machine", [("darwin", "arm64"), ("linux", "aarch64")])
def test_other_platforms_are_told_why_not(monkeypatch, system, machine):
    from torch_metalgen.sim import toolchain

    monkeypatch.setattr(toolchain.sys, "platform", "linux")
    monkeypatch.setattr(toolchain.platform, "machine", lambda: "x86_64")
    assert toolchain.unsupported_platform() is None
    monkeypatch.setattr(toolchain.sys, "platform", system)
    monkeypatch.setattr(toolchain.platform, "machine", lambda: machine)
    message = toolchain.unsupported_platform()
    assert message and "x86-64 Linux only" in message and machine in message
