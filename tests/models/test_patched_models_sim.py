"""Every target family, built from a real transformers config (random weights, 2 layers),
patched: its swapped modules run as the real Metal kernels in the MSL simulator, and the
logits match the unpatched model in float32 and bfloat16; greedy generate gives the same
tokens in float32."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from torch_metalgen.tolerances import LOGITS_TOLERANCE

sim = pytest.importorskip("torch_metalgen.sim")

FAMILIES = sorted(tiny.FAMILIES)


class Launches(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts torch.ops.metalgen calls (each one simulated kernel launch or more)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func.namespace == "metalgen"
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", FAMILIES)
def test_patched_family_through_the_simulator_matches_unpatched(family, dtype):
    model = tiny.build(family, dtype)
    inputs = tiny.example_inputs(family, dtype)
    with torch.no_grad():
        expected = model(**inputs).logits.double()
        with torch_metalgen.patch(model, force=True) as handle:
            with sim.simulate(), Launches() as launches:
                actual = model(**inputs).logits.double()
            assert launches.count == sum(handle.calls().values()), handle.report()
            assert handle.fallbacks() == {}, handle.report()
    relative = (actual - expected).abs().max() / expected.abs().max()
    assert relative <= LOGITS_TOLERANCE[dtype], f"relative error {relative:.3g}"
    if dtype == torch.float32 and family in ("llama", "qwen3", "olmo2", "t5", "phi3"):
        assert handle.swapped, handle.report()  # rms_norm serves these in float32 today


@pytest.mark.parametrize("family", [f for f in FAMILIES if tiny.is_generative(f)])
def test_patched_greedy_generate_gives_the_same_tokens(family):
    model = tiny.build(family)
    inputs = tiny.example_inputs(family)
    inputs.pop("decoder_input_ids", None)
    options = dict(max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        expected = model.generate(**inputs, **options)
        with torch_metalgen.patch(model, force=True) as handle, sim.simulate():
            actual = model.generate(**inputs, **options)
    assert torch.equal(actual, expected)
    assert handle.fallbacks() == {}
    # 3 tokens: a prefill and 2 decode steps, each through every swapped module
    assert all(calls >= 3 for calls in handle.calls().values()), handle.report()


def test_demo_runs_through_the_simulator(capsys):
    from torch_metalgen.demo import run_demo

    assert run_demo("float32", "cpu") == 0
    out = capsys.readouterr().out
    assert "MSL simulator" in out and "OK" in out and "swapped 9" in out  # norms, MLPs, rotary
