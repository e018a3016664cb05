"""Tiny Llama, Qwen2 and Phi (partial rotary: 8 of head_dim 16) with only their attentions'
rotary call patched, the rotary_embedding kernel running in the MSL simulator: in half
precision the logits are the unpatched model's bit for bit (the op reproduces Hugging Face's
rounded products), in float32 within the logits tolerance; greedy generate gives the same
tokens through a prefill and decode steps (seq 1, positions past the prompt)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from torch_metalgen.tolerances import LOGITS_TOLERANCE

sim = pytest.importorskip("torch_metalgen.sim")

FAMILIES = ["llama", "qwen2", "phi"]


def patch_attentions(model):
    """Patch each attention module alone (its rotary call), leaving norms and MLPs as they are."""
    handles = [
        torch_metalgen.patch(module, force=True)
        for module in model.modules()
        if type(module).__name__.endswith("Attention")
    ]
    assert len(handles) == 2 and all(len(h.swapped) == 1 for h in handles)
    return handles


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", FAMILIES)
def test_rotary_patched_logits(family, dtype):
    model = tiny.build(family, dtype)
    ids = tiny.input_ids()
    with torch.no_grad():
        expected = model(ids).logits
        handles = patch_attentions(model)
        with sim.simulate(), sim.record_launches() as launches:
            actual = model(ids).logits
    kernels = [launch.kernel for launch in launches]
    assert kernels == [f"rotary_embedding_pairs_{str(dtype).removeprefix('torch.')}"] * 2
    assert all(h.fallbacks() == {} for h in handles)
    if dtype == torch.float32:
        relative = (actual - expected).abs().max() / expected.abs().max()
        assert relative <= LOGITS_TOLERANCE[dtype], f"relative error {relative:.3g}"
    else:
        assert torch.equal(actual, expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_rotary_patched_greedy_generate_gives_the_same_tokens(family):
    model = tiny.build(family)
    inputs = tiny.example_inputs(family)
    options = dict(max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        expected = model.generate(**inputs, **options)
        handles = patch_attentions(model)
        with sim.simulate(), sim.record_launches() as launches:
            actual = model.generate(**inputs, **options)
    assert torch.equal(actual, expected)
    # a prefill and 3 decode steps (one new position each) through both attentions
    assert len(launches) == 8 and all(h.fallbacks() == {} for h in handles)
    assert [sum(h.calls().values()) for h in handles] == [4, 4]
