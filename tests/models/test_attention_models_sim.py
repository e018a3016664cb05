"""The "metalgen" attention implementation in real transformers models (tiny, built from
their configs, random weights): Llama, Mistral (sliding window), Qwen2 (grouped-query, 4
query heads per KV head) and Gemma 2 (sliding window and logit soft-capping) generate the
same greedy tokens with attn_implementation="metalgen", its decode steps running the Metal
kernels in the MSL simulator, as with "eager"; prefill goes to SDPA (or Gemma 2's eager
math), counted; patch(model) switches supported models and undo switches them back."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from torch_metalgen import attention
from torch_metalgen.tolerances import LOGITS_TOLERANCE

sim = pytest.importorskip("torch_metalgen.sim")

# Head dim 64: the kernels serve 64, 80, 96, 128 and 256 (the tiny defaults are 16).
# Weights drawn 10x wider than transformers' default (std 0.02), so attention is far from
# uniform: a wrong weight per key shows in the tokens.
WIDE = dict(head_dim=64, initializer_range=0.2)
MODELS = {
    "llama": WIDE,
    "mistral": WIDE | dict(sliding_window=8),
    "qwen2": WIDE | dict(num_attention_heads=8, num_key_value_heads=2),
    # a cap of 2 (Gemma 2 ships 50) so that it changes a tiny model's logits
    "gemma2": WIDE | dict(sliding_window=8, attn_logit_softcapping=2.0),
}
GENERATE = dict(max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0)
WITH_LOGITS = dict(output_logits=True, return_dict_in_generate=True)
PROMPT = 12  # > 8 queries: the prefill goes to SDPA


def build(family, **overrides):
    return tiny.build(family, **(MODELS[family] | overrides))


def assert_close_logits(actual, expected):
    """Each generated step's logits within the float32 logits tolerance of eager's."""
    for step, (ours, theirs) in enumerate(zip(actual, expected, strict=True)):
        relative = (ours.double() - theirs.double()).abs().max() / theirs.abs().max()
        assert relative <= LOGITS_TOLERANCE[torch.float32], f"step {step}: {relative:.3g}"


def kernel_launches(mode) -> list[str]:
    return [k for k in mode.launches if k.startswith("decode_attention_")]


@pytest.mark.parametrize("family", sorted(MODELS))
def test_greedy_generate_gives_the_eager_tokens(family):
    model = build(family)
    ids = tiny.input_ids(batch=2, length=PROMPT)
    with torch.no_grad():
        expected = model.generate(ids, **GENERATE, **WITH_LOGITS)
        attention.register_attention()
        model.set_attn_implementation("metalgen")
        with sim.simulate() as mode:
            actual = model.generate(ids, **GENERATE, **WITH_LOGITS)
    assert torch.equal(actual.sequences, expected.sequences)
    assert_close_logits(actual.logits, expected.logits)
    layers = model.config.num_hidden_layers
    decode_steps = GENERATE["max_new_tokens"] - 1
    assert len(kernel_launches(mode)) == layers * decode_steps, mode.launches
    prefill = "eager" if family == "gemma2" else "sdpa"
    assert attention.routing(model) == {
        "decode_attention": layers * decode_steps,
        f"{prefill}: prefill: {PROMPT} queries > 8": layers,
    }


@pytest.mark.parametrize(
    "family, change",
    [
        ("mistral", dict(sliding_window=None)),
        ("gemma2", dict(attn_logit_softcapping=None)),
        ("gemma2", dict(sliding_window=64)),
    ],
)
def test_the_window_and_the_cap_change_these_models(family, change):
    # Guards the test above: its sliding windows and soft-cap are not no-ops here.
    ids = tiny.input_ids(batch=2, length=PROMPT)
    with torch.no_grad():
        with_feature = build(family)(ids).logits
        without = build(family, **change)(ids).logits
    assert (with_feature - without).abs().max() > 1e-3


def test_left_padding_and_speculative_steps_match_eager():
    # A left-padded batch (the mask reaches every decode step), then 3 and 8 new tokens at
    # once over the cache (speculative decoding): logits as eager's.
    model = build("qwen2")
    ids = tiny.input_ids(batch=2, length=10)
    mask = torch.ones_like(ids)
    mask[1, :4] = 0
    with torch.no_grad():
        expected = model.generate(ids, attention_mask=mask, **GENERATE, **WITH_LOGITS)
        attention.register_attention()
        model.set_attn_implementation("metalgen")
        with sim.simulate():
            actual = model.generate(ids, attention_mask=mask, **GENERATE, **WITH_LOGITS)
        assert torch.equal(actual.sequences, expected.sequences)
        assert_close_logits(actual.logits, expected.logits)
        for new in (3, 8):
            logits = {}
            for implementation in ("eager", "metalgen"):
                model.set_attn_implementation(implementation)
                cache = model(ids, attention_mask=mask, use_cache=True).past_key_values
                step = tiny.input_ids(batch=2, length=new, seed=5)
                step_mask = torch.cat([mask, torch.ones_like(step)], dim=1)
                with sim.simulate() as mode:
                    logits[implementation] = model(
                        step, attention_mask=step_mask, past_key_values=cache
                    ).logits.double()
            assert kernel_launches(mode) == ["decode_attention_single_pass_64_float32"] * 2
            reference = logits["eager"]
            relative = (logits["metalgen"] - reference).abs().max() / reference.abs().max()
            assert relative <= LOGITS_TOLERANCE[torch.float32], f"{new} tokens: {relative:.3g}"


def test_attn_implementation_at_construction():
    torch_metalgen.register_attention()
    model = tiny.build("llama", head_dim=64, attn_implementation="metalgen")
    assert model.config._attn_implementation == "metalgen"
    ids = tiny.input_ids(batch=1, length=9)
    with torch.no_grad(), sim.simulate() as mode:
        model.generate(ids, **(GENERATE | dict(max_new_tokens=2, min_new_tokens=2)))
    assert len(kernel_launches(mode)) == model.config.num_hidden_layers


def test_patch_switches_attention_reports_routing_and_undo_restores():
    model = build("mistral")
    ids = tiny.input_ids(batch=2, length=PROMPT)
    with torch.no_grad():
        expected = model.generate(ids, **GENERATE)
        handle = torch_metalgen.patch(model, force=True)
        assert model.config._attn_implementation == "metalgen"
        (record,) = [r for r in handle.swapped if r.name == "<model>"]
        assert "attention eager -> metalgen" in record.reason
        with sim.simulate():
            actual = model.generate(ids, **GENERATE)
    assert torch.equal(actual, expected)
    report = handle.report()
    assert "attention: 10 calls -> decode_attention" in report, report
    assert "attention: 2 calls -> sdpa: prefill: 12 queries > 8" in report, report
    # a second patch() leaves it; undo restores the model's own implementation
    again = torch_metalgen.patch(model, force=True)
    assert any(r.reason == "attention already metalgen" for r in again.skipped)
    handle.undo()
    assert model.config._attn_implementation == "eager"
    torch_metalgen.patch(model, force=True)
    assert torch_metalgen.unpatch(model) >= 1
    assert model.config._attn_implementation == "eager"


@pytest.mark.parametrize(
    "family, overrides, force, reason",
    [
        ("llama", dict(), True, "head_dim 16 has no decode_attention kernel"),
        ("gpt2", dict(), True, "family 'gpt2' not declared"),
        ("llama", dict(head_dim=64), False, "no native Metal kernel here"),
    ],
)
def test_patch_skips_attention_it_cannot_serve(family, overrides, force, reason):
    model = tiny.build(family, **overrides)
    handle = torch_metalgen.patch(model, force=force)
    (record,) = [r for r in handle.skipped if r.name == "<model>"]
    assert reason in record.reason
    assert model.config._attn_implementation == "eager"


def test_unsupported_calls_go_to_sdpa_and_are_counted():
    model = build("llama")
    attention.register_attention()
    model.set_attn_implementation("metalgen")
    ids = tiny.input_ids(batch=1, length=5)
    model(ids)  # gradients enabled with trainable weights: no backward through the kernel
    assert attention.routing(model) == {
        "sdpa: gradients needed (decode_attention has no backward)": 2
    }
    attention.reset_routing(model)
    with torch.no_grad():
        model(tiny.input_ids(batch=1, length=9))
    assert attention.routing(model) == {"sdpa: prefill: 9 queries > 8": 2}
    assert "2 -> sdpa: prefill" in attention.report(model)
