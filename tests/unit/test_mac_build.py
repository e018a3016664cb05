"""The macOS build steps that can run on Linux: setup.py's Metal fallback and embedded
resources, and the compile check's policy and flags (tools/check_mps_compile.py)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup_module():
    return load("metalgen_setup_under_test", ROOT / "setup.py")


@pytest.fixture(scope="module")
def check():
    return load("check_mps_compile_under_test", ROOT / "tools" / "check_mps_compile.py")


@pytest.mark.skipif(shutil.which("xcrun") is not None, reason="this machine has xcrun")
def test_without_xcrun_the_build_embeds_sources_unless_werror(setup_module, tmp_path, monkeypatch):
    monkeypatch.delenv("METALGEN_METAL_WERROR", raising=False)
    assert setup_module.build_metallib(tmp_path) is None
    monkeypatch.setenv("METALGEN_METAL_WERROR", "1")
    with pytest.raises(RuntimeError, match="xcrun is not installed"):
        setup_module.build_metallib(tmp_path)


@pytest.mark.skipif(shutil.which("xcrun") is not None, reason="this machine has xcrun")
def test_embedded_resources_compile_and_carry_every_kernel_source(setup_module, tmp_path):
    path = setup_module.write_embedded_resources(tmp_path / "metal")
    text = path.read_text()
    assert "extern const size_t kMetallibSize = 0;" in text
    for source in setup_module.metal_sources():
        assert f'{{"{source.stem}", R"metalgen(' in text
        assert '#include "common.h"' not in text  # flattened for runtime compiles
    compiler = shutil.which("clang++-19") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler")
    result = subprocess.run(
        [compiler, "-std=c++20", "-Wall", "-Werror", "-fsyntax-only", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_mm_flags_leave_the_standard_to_torch(setup_module, check):
    flags = setup_module.macos_mm_flags()
    assert "-fno-objc-arc" in flags and "-DMETALGEN_WITH_MPS=1" in flags
    assert "-std=c++20" in check.torch_flags(flags)
    # A standard named by setup.py is what torch's BuildExtension would keep, and so does the check.
    assert "-std=c++20" not in check.torch_flags([*flags, "-std=c++17"])


def test_the_check_rejects_aten_native_includes(check, tmp_path):
    bad = tmp_path / "bad.mm"
    bad.write_text("#include <ATen/mps/MPSStream.h>\n#include <ATen/native/mps/OperationUtils.h>\n")
    problems = check.check_includes([bad])
    assert len(problems) == 1 and problems[0].startswith(f"{bad}:2: includes an ATen/native")


def test_no_glue_file_uses_aten_internals(check):
    assert check.check_includes(sorted((ROOT / "csrc" / "mps").glob("*.mm"))) == []


def test_the_check_runs_as_a_script_and_explains_itself():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_mps_compile.py"), "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "--torch" in result.stdout
