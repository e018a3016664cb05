"""What the build records about itself: the torch it was built against, the embedded metallib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torch_metalgen import _compat, _ops

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "built, running",
    [
        ("2.13.0", "2.13.0"),
        ("2.13.0+cpu", "2.13.0+cpu"),
        ("2.13.0", "2.13.1"),
        ("2.14.1", "2.14.0"),
    ],
)
def test_same_feature_release_loads(built, running):
    assert _compat.mismatch_message(built, running) is None


@pytest.mark.parametrize(
    "built, running", [("2.13.0", "2.14.1"), ("2.14.1", "2.13.0"), ("2.13.0", "3.13.0")]
)
def test_other_feature_release_names_both_versions_and_the_fix(built, running):
    message = _compat.mismatch_message(built, running)
    major_minor = ".".join(built.split(".")[:2])
    assert f"torch {built}" in message and f"torch {running}" in message
    assert f"torch=={major_minor}.*" in message and "--no-build-isolation" in message
    assert "\n" not in message


def test_unparsable_version_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="version: expected a torch version"):
        _compat.mismatch_message("nightly", "2.13.0")


def test_import_fails_with_the_fix_when_the_build_record_differs():
    # A real `import torch_metalgen` in a fresh interpreter whose build record says 1.0.0.
    code = (
        "import sys, types\n"
        "record = types.ModuleType('torch_metalgen._built_torch')\n"
        "record.BUILT_TORCH = '1.0.0'\n"
        "sys.modules['torch_metalgen._built_torch'] = record\n"
        "try:\n"
        "    import torch_metalgen\n"
        "except ImportError as error:\n"
        "    print('IMPORT-ERROR', error)\n"
        "else:\n"
        "    print('IMPORTED')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert "IMPORT-ERROR torch_metalgen was built against torch 1.0.0" in result.stdout, (
        result.stdout + result.stderr
    )
    assert "pip install 'torch==1.0.*'" in result.stdout


def test_build_records_the_torch_it_was_built_against():
    built = _compat.built_torch()
    if built is None:
        pytest.skip("this _C was not built by setup.py here (no torch_metalgen/_built_torch.py)")
    assert built == torch.__version__


def test_metallib_size_is_zero_without_the_mps_glue():
    if _ops._C.mps_kernels_available():
        pytest.skip("a macOS build: the macOS CI asserts metallib_size() > 0")
    assert _ops._C.metallib_size() == 0
