"""patch() lifecycle: undo in any order, repeated patches, dry run and meta device run no
user code, print(model), deep copies, saved models, torch.compile, patch_on_load."""

from __future__ import annotations

import copy
import io

import pytest
import torch

import torch_metalgen
from tests.models import tiny

# The tiny Llama (2 layers): 5 RMSNorms, 2 gated MLPs (silu_and_mul) and the rotary call of
# 2 attentions are swapped.
LLAMA_SWAPS = 9


def forwards(model):
    return {name: module.__dict__.get("forward") for name, module in model.named_modules()}


def logits(model, ids=None):
    with torch.no_grad():
        return model(tiny.input_ids() if ids is None else ids).logits


@pytest.mark.parametrize("order", ["first-first", "last-first"])
def test_two_handles_undo_in_any_order(order):
    model = tiny.build("qwen3")
    before = forwards(model)
    h1 = torch_metalgen.patch(model, force=True)
    h2 = torch_metalgen.patch(model, force=True)
    assert not h2.swapped and len(h2.skipped) == len(h1.swapped) + len(h1.skipped)
    already = [r for r in h2.skipped if "already patched" in r.reason]
    assert len(already) == len(h1.swapped)
    ops = {r.reason.split("(-> ")[1].split(")")[0] for r in already}
    assert {"rms_norm", "silu_and_mul", "rotary_embedding"} <= ops
    for handle in (h1, h2) if order == "first-first" else (h2, h1):
        handle.undo()
    assert forwards(model) == before
    h1.undo()
    assert forwards(model) == before


def test_an_old_handle_does_not_undo_a_newer_patch():
    model = tiny.build("llama")
    h1 = torch_metalgen.patch(model, force=True)
    assert torch_metalgen.unpatch(model) == LLAMA_SWAPS
    h3 = torch_metalgen.patch(model, force=True)
    h1.undo()  # h1's forwards are gone already; h3's stay
    assert len(h3.swapped) == LLAMA_SWAPS
    assert all("forward" in m.__dict__ for m in model.modules() if "RMSNorm" in type(m).__name__)
    h3.undo()
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_undo_restores_a_preexisting_instance_forward():
    model = torch.nn.Sequential(torch.nn.RMSNorm(16, eps=1e-5))
    calls = []

    def custom(x):
        calls.append(1)
        return torch.nn.functional.rms_norm(x, (16,), model[0].weight, 1e-5)

    model[0].forward = custom
    handle = torch_metalgen.patch(model, force=True)
    assert model[0].__dict__["forward"] is not custom
    x = torch.randn(2, 16, dtype=torch.float64)  # falls back: through the previous forward
    model(x)
    assert calls == [1]
    handle.undo()
    assert model[0].__dict__["forward"] is custom


def test_print_model_shows_the_swaps_and_undo_restores_it():
    model = tiny.build("llama")
    text = repr(model)
    with torch_metalgen.patch(model, force=True):
        patched = repr(model)
        norms = [m for m in model.modules() if type(m).__name__ == "LlamaRMSNorm"]
        assert all(repr(m).endswith(", metalgen=rms_norm)") for m in norms)
        # print(model) folds the identical layers: 2 norms of a layer + the final one
        assert patched.count("metalgen=rms_norm") == 3
        assert "LlamaRMSNorm((64,), eps=1e-06, metalgen=rms_norm)" in patched
    assert repr(model) == text


class Recorder:
    """Forward pre-hooks and hooks on every module, recording any call."""

    def __init__(self, model):
        self.calls = []
        self.handles = [
            hook
            for module in model.modules()
            for hook in (
                module.register_forward_pre_hook(lambda m, a: self.calls.append(type(m))),
                module.register_forward_hook(lambda m, a, o: self.calls.append(type(m))),
            )
        ]


def test_dry_run_changes_nothing_and_runs_nothing():
    model = tiny.build("mistral")
    before = forwards(model)
    recorder = Recorder(model)
    handle = torch_metalgen.patch(model, force=True, dry_run=True, probe_unknown=True)
    assert len(handle.swapped) == LLAMA_SWAPS and forwards(model) == before
    assert recorder.calls == [] and f"would swap {LLAMA_SWAPS}" in handle.report()


def test_meta_device_models_are_patched_by_declaration_without_running_anything():
    with torch.device("meta"):
        model = tiny.build("llama")
    recorder = Recorder(model)
    for dry_run in (True, False):
        handle = torch_metalgen.patch(model, force=True, dry_run=dry_run, probe_unknown=True)
        assert len(handle.swapped) == LLAMA_SWAPS, handle.report()
    assert recorder.calls == []
    norm = torch.nn.Module()
    norm.weight = torch.nn.Parameter(torch.ones(8, device="meta"))
    norm.variance_epsilon = 1e-6
    handle = torch_metalgen.patch(norm, force=True, probe_unknown=True)
    assert "meta device" in handle.skipped[0].reason


def test_deepcopy_of_a_patched_model_runs_its_own_weights_and_unpatch_reaches_it():
    model = tiny.build("llama")
    handle = torch_metalgen.patch(model, force=True)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.model.norm.weight.mul_(3)
    norm = twin.model.norm
    assert norm.__dict__["forward"].module is norm  # rebound to the copy, not the original
    x = torch.randn(3, 64)
    expected = torch.nn.functional.rms_norm(x, (64,), norm.weight, norm.variance_epsilon)
    torch.testing.assert_close(norm(x), expected)
    x64 = x.double()  # the fallback path too runs the copy's module (HF: fp32 inside)
    torch.testing.assert_close(
        norm(x64),
        torch.nn.functional.rms_norm(x64, (64,), norm.weight.double(), 1e-6),
        rtol=1e-5,
        atol=1e-5,
    )
    assert sum(norm.__dict__["forward"].fallbacks.values()) == 1
    handle.undo()  # the handle knows the original's modules only
    assert "forward" not in model.model.norm.__dict__ and "forward" in norm.__dict__
    assert torch_metalgen.unpatch(twin) == LLAMA_SWAPS
    assert all("forward" not in m.__dict__ for m in twin.modules())


def test_saved_patched_model_loads_patched_and_unpatch_restores_it():
    model = tiny.build("llama")
    expected = logits(model)
    keys = list(model.state_dict())
    with torch_metalgen.patch(model, force=True):
        assert list(model.state_dict()) == keys
        buffer = io.BytesIO()
        torch.save(model, buffer)
        state = io.BytesIO()
        torch.save(model.state_dict(), state)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    norm = loaded.model.norm
    assert norm.__dict__["forward"].module is norm
    torch.testing.assert_close(logits(loaded), expected, rtol=1e-5, atol=1e-5)
    assert torch_metalgen.unpatch(loaded) == LLAMA_SWAPS and torch.equal(logits(loaded), expected)
    state.seek(0)
    fresh = tiny.build("llama", seed=1)
    fresh.load_state_dict(torch.load(state))
    assert torch.equal(logits(fresh), expected)


@pytest.mark.slow
def test_torch_compile_fullgraph_and_export_through_a_patched_module():
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.RMSNorm(32, eps=1e-6))
    x = torch.randn(4, 32)
    expected = model(x)
    handle = torch_metalgen.patch(model, force=True)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), expected)
    torch.testing.assert_close(compiled(x + 1), model(x + 1))
    assert handle.fallbacks() == {}
    exported = torch.export.export(model, (x,))
    targets = [n.target for n in exported.graph.nodes if n.op == "call_function"]
    assert torch.ops.metalgen.rms_norm.default in targets
    torch.testing.assert_close(exported.module()(x), expected)


def test_patch_on_load_patches_models_built_in_the_block_only():
    with torch_metalgen.patch_on_load(force=True) as session:
        model = tiny.build("llama")
        assert session.handles == []  # decided on exit, after weights and dtypes settle
    assert len(session.handles) == 1 and len(session.handles[0].swapped) == LLAMA_SWAPS
    assert f"swapped {LLAMA_SWAPS}" in session.report()
    outside = tiny.build("llama")
    assert all("forward" not in m.__dict__ for m in outside.modules())
    expected = logits(outside)
    torch.testing.assert_close(logits(model), expected, rtol=1e-5, atol=1e-5)
    session.undo()
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_patch_on_load_with_from_pretrained(tmp_path):
    tiny.build("qwen2").save_pretrained(tmp_path)
    import transformers

    with torch_metalgen.patch_on_load(force=True) as session:
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    (handle,) = session.handles
    assert len(handle.swapped) == LLAMA_SWAPS, session.report()
    assert all("forward" in m.__dict__ for m in model.modules() if "RMSNorm" in type(m).__name__)


def test_training_gradients_through_patched_norms_match_unpatched():
    model = tiny.build("llama")
    twin = copy.deepcopy(model)
    handle = torch_metalgen.patch(model, force=True)
    ids = tiny.input_ids()
    for m in (model, twin):
        m(ids).logits.square().mean().backward()
    assert handle.fallbacks() == {}  # rms_norm has an autograd formula
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
