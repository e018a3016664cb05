"""patch(): swap / skip / undo / dry run / print / context manager, on tiny HF models."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from torch_metalgen._generated.registry import OPS


def forwards(model):
    return {name: module.__dict__.get("forward") for name, module in model.named_modules()}


@pytest.mark.parametrize("family", sorted(tiny.FAMILIES))
def test_swap_or_skip_each_family(family):
    _, _, norm_class, swapped = tiny.FAMILIES[family]
    model = tiny.build(family)
    ids = tiny.input_ids()
    with torch.no_grad():
        expected = model(ids).logits
        handle = torch_metalgen.patch(model, force=True)
        count = tiny.norm_count(model, norm_class)
        assert count >= 5  # 2 per layer + final (+ q/k norms for qwen3)
        if swapped:
            assert len(handle.swapped) == count and not handle.skipped, handle.report()
            assert all(
                "forward" in m.__dict__ for m in model.modules() if type(m).__name__ == norm_class
            )
        else:  # Gemma's (1 + weight) form is another op: the probe must tell it apart
            assert not handle.swapped
            assert len(handle.skipped) == count
            assert all("(1 + weight)" in r.reason for r in handle.skipped)
        torch.testing.assert_close(model(ids).logits, expected, rtol=1e-5, atol=1e-5)
        handle.undo()


def test_patched_forward_calls_the_metalgen_op():
    model = tiny.build("llama")
    calls = []

    class Spy(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.metalgen.rms_norm.default:
                calls.append(args[0].shape)
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), torch_metalgen.patch(model, force=True), Spy():
        model(tiny.input_ids())
    assert len(calls) == 5
    calls.clear()
    with torch.no_grad(), Spy():  # after the context manager: originals again
        model(tiny.input_ids())
    assert calls == []


def test_undo_restores_the_exact_originals_and_is_idempotent():
    model = tiny.build("qwen3")
    before = forwards(model)
    handle = torch_metalgen.patch(model, force=True)
    assert forwards(model) != before
    handle.undo()
    assert forwards(model) == before
    handle.undo()
    assert forwards(model) == before


def test_undo_restores_a_preexisting_instance_forward():
    norm = torch_metalgen.nn.RMSNorm(16)
    custom = lambda x: x * 3  # noqa: E731
    norm.forward = custom
    handle = torch_metalgen.patch(norm, force=True)
    assert handle.skipped  # the probe sees x * 3, not RMSNorm
    norm.forward = custom
    model = torch.nn.Sequential(torch.nn.RMSNorm(16, eps=1e-5))
    model[0].forward = model[0].forward  # an instance attribute that is the bound original
    original = model[0].__dict__["forward"]
    handle = torch_metalgen.patch(model, force=True)
    assert model[0].__dict__["forward"] is not original
    handle.undo()
    assert model[0].__dict__["forward"] is original


def test_dry_run_changes_nothing():
    model = tiny.build("mistral")
    before = forwards(model)
    handle = torch_metalgen.patch(model, force=True, dry_run=True)
    assert len(handle.swapped) == 5 and forwards(model) == before
    assert "would swap" in handle.report()


def test_print_model_still_works_and_is_unchanged():
    model = tiny.build("llama")
    text = repr(model)
    with torch_metalgen.patch(model, force=True):
        assert repr(model) == text


def test_cpu_modules_are_skipped_without_force():
    model = tiny.build("llama")
    handle = torch_metalgen.patch(model)
    assert not handle.swapped and len(handle.skipped) == 5
    assert all("no native Metal kernel" in r.reason for r in handle.skipped)
    assert all("force=True" in r.reason for r in handle.skipped)


def test_torch_rms_norm_variants():
    model = torch.nn.Sequential(
        torch.nn.RMSNorm(16),  # eps None -> finfo eps at run time
        torch.nn.RMSNorm(16, eps=1e-5, elementwise_affine=False),
        torch.nn.RMSNorm((4, 4)),  # two trailing dims: not this op
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(16))
    x = torch.randn(3, 4, 4)
    flat = x.reshape(3, 16)
    first, second = model[0](flat), model[1](flat)
    handle = torch_metalgen.patch(model, force=True)
    assert [r.name for r in handle.swapped] == ["0", "1"]
    assert handle.skipped[0].name == "2" and "2 trailing dims" in handle.skipped[0].reason
    torch.testing.assert_close(model[0](flat), first)
    torch.testing.assert_close(model[1](flat), second)


def test_mixed_dtypes_fall_back_to_the_original_forward():
    norm = tiny.build("llama").model.norm  # LlamaRMSNorm with a float32 weight
    x = torch.randn(2, 64, dtype=torch.bfloat16)
    expected = norm(x)  # HF promotes: float32 weight * bfloat16 -> float32
    handle = torch_metalgen.patch(norm, force=True)
    assert handle.swapped
    out = norm(x)  # the op would reject the mix; the original semantics are kept
    assert out.dtype == expected.dtype == torch.float32
    torch.testing.assert_close(out, expected)


def test_unknown_class_with_hf_attributes_is_recognized_by_behaviour():
    class MyNorm(torch.nn.Module):  # a name patch has never heard of
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(8))
            self.variance_epsilon = 1e-6

        def forward(self, x):
            return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    class NotANorm(MyNorm):
        def forward(self, x):
            return x * self.weight

    model = torch.nn.ModuleDict({"a": MyNorm(), "b": NotANorm()})
    handle = torch_metalgen.patch(model, force=True)
    assert [r.name for r in handle.swapped] == ["a"]
    assert "recognized by attributes" in handle.swapped[0].reason
    assert [r.name for r in handle.skipped] == ["b"]


def test_every_registry_patch_target_is_exercised():
    # Each class the spec names must be a real class the family tests above patch.
    families = {tiny.FAMILIES[f][2] for f in tiny.FAMILIES if tiny.FAMILIES[f][3]}
    for target in OPS["rms_norm"]["patch_targets"]:
        name = target["qualname"].rsplit(".", 1)[1]
        assert name == "RMSNorm" or name in families, name


def test_patch_rejects_non_modules():
    with pytest.raises(TypeError, match="model"):
        torch_metalgen.patch("not a model")


def test_weightless_norm_is_probed_at_its_own_size_and_float64_falls_back():
    model = torch.nn.Sequential(
        torch.nn.Linear(24, 24), torch.nn.RMSNorm(24, eps=1e-5, elementwise_affine=False)
    )
    handle = torch_metalgen.patch(model, force=True)
    assert [r.name for r in handle.swapped] == ["1"], handle.report()
    x = torch.randn(2, 24, dtype=torch.float64)  # no float64 kernel: the original serves it
    torch.testing.assert_close(model[1](x), torch.nn.functional.rms_norm(x, (24,), eps=1e-5))
