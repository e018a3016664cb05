"""``demo --device X`` where X is not on this machine (or not a device) is a one-line usage
error with exit status 2, never a traceback (newcomer review, issue 7 item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torch_metalgen.cli import main
from torch_metalgen.demo import resolve_device

REPO = Path(__file__).resolve().parents[2]

ABSENT = [
    name
    for name, present in [
        ("mps", torch.backends.mps.is_available()),
        ("cuda", torch.cuda.is_available()),
    ]
    if not present
]


# ids other than the bare device name: conftest skips any test whose keywords include "mps".
@pytest.mark.parametrize("name", ABSENT, ids=lambda name: f"absent-{name}")
def test_absent_device_is_a_one_line_usage_error(name, capsys):
    assert main(["demo", "--device", name]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert f"--device {name}: no " in lines[0]
    assert "--device auto or cpu" in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize("name", ["tpu", "meta", "not a device"])
def test_unknown_device_names_the_choices(name):
    with pytest.raises(ValueError, match=r"expected auto, cpu, mps or cuda\[:N\]"):
        resolve_device(name)


def test_known_devices_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif("mps" not in ABSENT, reason="this machine has an MPS device")
def test_absent_mps_from_the_command_line_prints_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "torch_metalgen", "demo", "--device", "mps"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stdout == ""
