"""Tiny HF models, patched, run their RMSNorms as the real Metal kernels in the simulator
and match the unpatched models."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from torch_metalgen.tolerances import LOGITS_TOLERANCE

sim = pytest.importorskip("torch_metalgen.sim")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_patched_model_through_simulator_matches(family, dtype):
    model = tiny.build(family, dtype)
    ids = tiny.input_ids()
    with torch.no_grad():
        expected = model(ids).logits.double()
        with torch_metalgen.patch(model, force=True) as handle, sim.simulate():
            assert handle.swapped
            actual = model(ids).logits.double()
    relative = (actual - expected).abs().max() / expected.abs().max()
    assert relative <= LOGITS_TOLERANCE[dtype], f"relative error {relative:.3g}"


def test_demo_runs_through_the_simulator(capsys):
    from torch_metalgen.demo import run_demo

    assert run_demo("float32", "cpu") == 0
    out = capsys.readouterr().out
    assert "MSL simulator" in out and "OK" in out and "swapped 5" in out
