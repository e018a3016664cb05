"""Strict MSL conformance: every construct C++ accepts and Metal rejects is a
MetalCompileError naming the construct, the .metal line and the MSL rule
(torch_metalgen/sim/conformance.py, build.py strict_warning_flags)."""

from __future__ import annotations

import re

import pytest

from torch_metalgen import sim

# (line in kernels/compile_errors/forbidden.metal, construct text, rule text)
FORBIDDEN = [
    (10, "mutable program-scope variable 'g_mutable'", "constant address space"),
    (11, "'g_thread_local' is thread_local", "1.4"),
    (13, "recursive call (factorial -> factorial)", "recursive function calls"),
    (16, "new expression", "new and delete"),
    (19, "delete expression", "new and delete"),
    (24, "call to host function '__builtin_alloca'", "standard libraries"),
    (30, "virtual function 'area'", "virtual functions"),
    (35, "'f' is a function pointer", "function pointers"),
    (40, "lambda expression", "lambda expressions"),
    (45, "goto statement", "goto"),
    (52, "static local variable 'seen'", "constant address space"),
    (58, "call to host function 'printf'", "standard libraries"),
    (63, "inline assembly", "inline assembly"),
    (67, "call to host function 'getpid'", "standard libraries"),
    (70, "'big' uses __int128", "128-bit integers"),
    (75, "noexcept operator", "noexcept"),
    (79, "threadgroup variable declared in 'uses_threadgroup_in_helper'", "only in kernel"),
    (85, "implicit conversion from float to bfloat", "explicitly"),
    (89, "kernel 'returns_value' returns float", "must return void"),
    (100, "call to kernel 'callee_kernel' from 'calls_kernel'", "cannot be called"),
    (103, "'counter' is an atomic<long>", "atomic types are"),
    (107, "atomic_fetch_min_explicit on an atomic_float", "only exchange, add and sub"),
    (114, "cast between address spaces (device float *)", "another address space"),
    (115, "cast between address spaces (device float *)", "another address space"),
]


@pytest.fixture(scope="module")
def forbidden_report(kernels_dir) -> str:
    with pytest.raises(sim.MetalCompileError) as caught:
        sim.compile_library(kernels_dir / "compile_errors" / "forbidden.metal")
    return str(caught.value)


@pytest.mark.parametrize(("line", "construct", "rule"), FORBIDDEN, ids=[f[1] for f in FORBIDDEN])
def test_forbidden_construct_is_rejected_at_its_line(forbidden_report, line, construct, rule):
    pattern = rf"forbidden\.metal:{line}: {re.escape(construct)}[^\n]*MSL specification[^\n]*"
    found = re.search(pattern, forbidden_report)
    assert found, f"line {line} ({construct}) not reported:\n{forbidden_report}"
    assert rule in found.group(0)


def test_every_violation_is_one_the_test_expects(forbidden_report):
    """Nothing valid in forbidden.metal is reported (no false positives)."""
    lines = [line for line in forbidden_report.splitlines()[1:] if line.strip()]
    expected = {f"forbidden.metal:{line}: {construct}" for line, construct, _ in FORBIDDEN}
    expected |= {"forbidden.metal:58: call to 'printf'", "forbidden.metal:67: call to 'getpid'"}
    for reported in lines:
        assert any(e in reported for e in expected), reported


SMALL_CASES = {
    "variable_length_array": (
        "kernel void k(device float* o [[buffer(0)]], constant uint& n [[buffer(1)]],\n"
        "              uint i [[thread_position_in_grid]]) {\n"
        "  float scratch[n];\n"
        "  scratch[0] = 1;\n"
        "  o[i] = scratch[0];\n"
        "}\n",
        r":6:\d+: error: variable length arrays in C\+\+ are a Clang extension",
    ),
    "ulong_fetch_add": (
        "kernel void k(device atomic_ulong* c [[buffer(0)]],\n"
        "              uint i [[thread_position_in_grid]]) {\n"
        "  atomic_fetch_add_explicit(c, 1ul, memory_order_relaxed);\n"
        "}\n",
        r":6: atomic_fetch_add_explicit on an atomic_ulong .*only min and max",
    ),
    "builtin_malloc": (
        "kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  float* p = (float*)__builtin_malloc(4);\n"
        "  o[i] = p[0];\n"
        "}\n",
        r":5: call to host function '__builtin_malloc'",
    ),
    "builtin_printf": (
        "kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        '  __builtin_printf("%d", int(i));\n'
        "  o[i] = 0;\n"
        "}\n",
        r":5: call to host function '__builtin_printf'",
    ),
    "const_cast_constant_to_device": (
        "kernel void k(constant float* in [[buffer(0)]], device float* o [[buffer(1)]],\n"
        "              uint i [[thread_position_in_grid]]) {\n"
        "  const_cast<device float*>(in)[0] = 1;\n"
        "  o[i] = in[i];\n"
        "}\n",
        r":6:\d+: error: const_cast from .*address_space\(2\).* to 'device float \*' is not",
    ),
    "mutual_recursion": (
        "float odd(float x);\n"
        "float even(float x) { return x <= 0 ? 1 : odd(x - 1); }\n"
        "float odd(float x) { return x <= 0 ? 0 : even(x - 1); }\n"
        "kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  o[i] = even(o[i]);\n"
        "}\n",
        r"recursive call \((even -> odd -> even|odd -> even -> odd)\)",
    ),
    "unused_variable_warning": (
        "kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  float unused = 1;\n"
        "  o[i] = 0;\n"
        "}\n",
        r":5:\d+: error: unused variable 'unused' \[-Werror",
    ),
}


@pytest.mark.parametrize("name", sorted(SMALL_CASES))
def test_more_forbidden_constructs(tmp_path, name):
    body, pattern = SMALL_CASES[name]
    source = tmp_path / f"{name}.metal"
    source.write_text("#include <metal_stdlib>\nusing namespace metal;\n\n" + body)
    with pytest.raises(sim.MetalCompileError, match=pattern):
        sim.compile_library(source)
