"""The host C++ the generator writes for what no checked-in op uses yet (two outputs, a
two-launch variant with a temporary, 2-D grids, dispatchThreads) compiles: the made-up
TWO_PASS spec of test_generator.py, rendered and syntax-checked against torch's headers (its
MPS impl too, as C++ against the MPS glue's two calls).
The checked-in ops are compiled by the extension build itself."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from torch.utils.cpp_extension import include_paths

from generator.render import render_op, render_shared
from tests.unit.test_generator import TWO_PASS

ROOT = Path(__file__).resolve().parents[2]
MPS_GLUE = """#pragma once
#include "launch_plan.h"
namespace metalgen::mps {
uint64_t max_threads_per_threadgroup(const LaunchPlan& plan);
void dispatch(const LaunchPlan& plan);
}  // namespace metalgen::mps
"""
COMPILER = shutil.which("clang++-19") or shutil.which("clang++") or shutil.which("g++")


@pytest.mark.slow
@pytest.mark.skipif(COMPILER is None, reason="no C++ compiler")
@pytest.mark.parametrize(
    "unit", ["ops/two_pass.cpp", "plan_bindings.cpp", "registration.cpp", "two_pass.mm"]
)
def test_multi_output_multi_launch_host_code_compiles(tmp_path, unit):
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "two_pass.cpp").write_text(render_op("op.cpp.j2", TWO_PASS))
    for name, path in [
        ("all_ops.h.j2", "ops/all_ops.h"),
        ("plan_bindings.cpp.j2", "plan_bindings.cpp"),
        ("registration.cpp.j2", "registration.cpp"),
    ]:
        (tmp_path / path).write_text(render_shared(name, [TWO_PASS], "//"))
    # The MPS impl has no Objective-C of its own: checked as C++ against the two calls the
    # MPS glue provides (csrc/mps/dispatch.h), declared here as the glue declares them.
    (tmp_path / "two_pass.mm").write_text(render_op("op.mm.j2", TWO_PASS))
    (tmp_path / "mps").mkdir()
    (tmp_path / "mps" / "dispatch.h").write_text(MPS_GLUE)
    # Our code with every warning an error; torch's and Python's headers as system headers.
    command = [COMPILER, "-std=c++17", "-fsyntax-only", "-Wall", "-Werror"]
    command += [f"-I{tmp_path}", f"-I{ROOT / 'csrc'}"]
    command += [f"-isystem{path}" for path in (*include_paths(), sysconfig.get_paths()["include"])]
    command += ["-x", "c++", str(tmp_path / unit)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
