"""Rotary patching: an attention's apply_rotary_pos_emb call routed to rotary_embedding
through transformers' own hub-kernel copy of the function, per instance. The rows are
checked against transformers (tagged, same math as the op, bit for bit in half precision;
untagged where the table says so), then the lifecycle: instance safety, undo, copies, saved
models, fallbacks with reasons, torch.compile. Runs the op's CPU reference (force=True)."""

from __future__ import annotations

import copy
import importlib
import io

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from tests.ops.rotary_cases import case
from torch_metalgen.patching import families, rotary
from torch_metalgen.patching.semantics import NotReachable, RotarySemantics

ROWS = [
    (family, name, row)
    for family, rows in families.FAMILIES.items()
    for name, row in rows.items()
    if isinstance(row, RotarySemantics)
]
UNTAGGED = [
    (family, name, row)
    for family, rows in families.FAMILIES.items()
    for name, row in rows.items()
    if name.endswith("Attention") and isinstance(row, NotReachable)
]
ROUTED = ["llama", "qwen2", "phi"]  # phi: partial rotary (the attention passes q[..., :8])


class Spy(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == "metalgen":
            name = func._opname
            self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


def _class(qualified: str):
    module, _, name = qualified.rpartition(".")
    return getattr(importlib.import_module(module), name)


def attentions(model):
    return [(n, m) for n, m in model.named_modules() if type(m).__name__.endswith("Attention")]


def wrappers(model):
    return [m.__dict__["_kernel_funcs"]["rotary_pos_emb"] for _, m in attentions(model)]


def logits(model):
    with torch.no_grad():
        return model(tiny.input_ids()).logits


@pytest.mark.parametrize("family, name, row", ROWS, ids=[r[1].rsplit(".", 1)[1] for r in ROWS])
def test_declared_function_is_tagged_routed_and_computes_the_op(family, name, row):
    function = rotary._resolve(row.function)
    assert type(function).kernel_layer_name == row.layer
    cls = _class(name)
    model = tiny.build(family)
    (attention, *_) = [m for m in model.modules() if type(m) is cls]
    assert type(rotary.wrapper_of(attention, row)) is type(function)
    # The function itself (called outside an attention: transformers' original code).
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        q, k, cos, sin = case(2, 6, 2, 5, 32, None, dtype, offset=700)
        expected = function(q, k, cos, sin)
        actual = torch.ops.metalgen.rotary_embedding(
            q, k, cos, sin, None, 1.0, -1, row.interleaved, row.round_products
        )
        for a, e in zip(actual, expected, strict=True):
            if dtype == torch.float32:
                torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-6)
            else:
                assert torch.equal(a, e), (family, dtype)


@pytest.mark.parametrize("family, name, row", UNTAGGED, ids=[r[0] for r in UNTAGGED])
def test_untagged_rows_are_untagged_in_this_transformers(family, name, row):
    module = importlib.import_module(name.rsplit(".", 1)[0])
    assert not hasattr(type(module.apply_rotary_pos_emb), "kernel_layer_name")
    model = tiny.build(family)
    found = [m for m in model.modules() if type(m) is _class(name)]
    assert found and all("_kernel_funcs" not in m.__dict__ for m in found)
    handle = torch_metalgen.patch(model, force=True)
    skipped = [r for r in handle.skipped if r.cls == name]
    assert skipped and all("@use_kernelized_func" in r.reason for r in skipped)


@pytest.mark.parametrize("family", ROUTED)
def test_each_attention_routes_its_rotary_call_to_the_op(family):
    model = tiny.build(family)
    expected = logits(model)
    handle = torch_metalgen.patch(model, force=True)
    names = [n for n, _ in attentions(model)]
    swapped = {r.name: r.reason for r in handle.swapped}
    assert all("metalgen.rotary_embedding" in swapped[n] for n in names), handle.report()
    with torch.no_grad(), Spy() as spy:
        actual = model(tiny.input_ids()).logits
    assert spy.calls["rotary_embedding"] == len(names) == 2
    assert handle.fallbacks() == {} and all(handle.calls()[n] == 1 for n in names)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    assert "metalgen=rotary_embedding" in str(model)


def test_other_instances_of_the_class_are_untouched():
    patched, other = tiny.build("llama"), tiny.build("llama", seed=1)
    handle = torch_metalgen.patch(patched, force=True)
    assert all("forward" not in w.__dict__ for w in wrappers(other))
    with torch.no_grad(), Spy() as spy:
        other(tiny.input_ids())
    assert "rotary_embedding" not in spy.calls
    # the global function is untouched too: no module attribute of transformers changed
    from transformers.models.llama import modeling_llama

    assert "forward" not in modeling_llama.apply_rotary_pos_emb.__dict__
    handle.undo()


@pytest.mark.parametrize("order", ["first-first", "last-first"])
def test_undo_restores_the_wrappers_in_any_order(order):
    model = tiny.build("qwen2")
    h1 = torch_metalgen.patch(model, force=True)
    h2 = torch_metalgen.patch(model, force=True)
    already = [r for r in h2.skipped if r.name.endswith("self_attn")]
    assert len(already) == 2 and all("(-> rotary_embedding)" in r.reason for r in already)
    assert all(isinstance(w.__dict__["forward"], rotary.PatchedRotary) for w in wrappers(model))
    for handle in (h1, h2) if order == "first-first" else (h2, h1):
        handle.undo()
    assert all("forward" not in w.__dict__ for w in wrappers(model))
    assert all("extra_repr" not in m.__dict__ for _, m in attentions(model))
    with torch.no_grad(), Spy() as spy:
        model(tiny.input_ids())
    assert spy.calls == {}


def test_deepcopy_gets_its_own_patch_and_unpatch_reaches_it():
    model = tiny.build("llama")
    handle = torch_metalgen.patch(model, force=True)
    clone = copy.deepcopy(model)
    for (_, attention), wrapper in zip(attentions(clone), wrappers(clone), strict=True):
        forward = wrapper.__dict__["forward"]
        assert forward.module is attention and forward.wrapper is wrapper
    before = dict(handle.calls())
    torch.testing.assert_close(logits(clone), logits(tiny.build("llama")), rtol=1e-5, atol=1e-5)
    assert handle.calls() == before  # the copy counts on its own objects
    assert torch_metalgen.unpatch(clone) == 9
    assert all("forward" not in w.__dict__ for w in wrappers(clone))
    assert all("forward" in w.__dict__ for w in wrappers(model))  # the original stays patched
    handle.undo()


def test_saved_patched_model_loads_patched_and_unpatch_restores_it():
    model = tiny.build("phi")
    torch_metalgen.patch(model, force=True)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    for (_, attention), wrapper in zip(attentions(loaded), wrappers(loaded), strict=True):
        assert wrapper.__dict__["forward"].module is attention
    with torch.no_grad(), Spy() as spy:
        actual = loaded(tiny.input_ids()).logits
    assert spy.calls["rotary_embedding"] == 2
    torch.testing.assert_close(actual, logits(tiny.build("phi")), rtol=1e-5, atol=1e-5)
    assert torch_metalgen.unpatch(loaded) >= 2
    assert all("forward" not in w.__dict__ for w in wrappers(loaded))


def test_calls_the_op_does_not_serve_run_the_original_and_are_counted():
    model = tiny.build("llama", torch.bfloat16)
    handle = torch_metalgen.patch(model, force=True)
    (name, attention), *_ = attentions(model)
    wrapper = attention.__dict__["_kernel_funcs"]["rotary_pos_emb"]
    function = rotary._resolve("transformers.models.llama.modeling_llama.apply_rotary_pos_emb")
    q, k, cos, sin = case(1, 4, 2, 3, 16, None, torch.bfloat16)
    # (batch, heads, seq, dim) tables broadcast on dim 2: HF's other layout; not the op's
    q_bshd, k_bshd = q.transpose(1, 2), k.transpose(1, 2)
    for a, e in zip(
        wrapper(q_bshd, k_bshd, cos, sin, unsqueeze_dim=2),
        function(q_bshd, k_bshd, cos, sin, unsqueeze_dim=2),
        strict=True,
    ):
        assert torch.equal(a, e)
    # float32 tables with bfloat16 q: HF promotes, so the original defines the result
    for a, e in zip(
        wrapper(q, k, cos.float(), sin.float()),
        function(q, k, cos.float(), sin.float()),
        strict=True,
    ):
        assert a.dtype == torch.float32 and torch.equal(a, e)
    # partial tables given to Llama's full-rotary function: the original raises, as unpatched
    with pytest.raises(RuntimeError):
        wrapper(q, k, cos[..., :8], sin[..., :8])
    reasons = handle.fallbacks()[name]
    assert reasons == {
        "unsqueeze_dim=2 (the op's tables broadcast on dim 1)": 1,
        "cos is float32 on cpu, q bfloat16 on cpu": 1,
        "tables of 8 dims for head_dim 16": 1,
    }, handle.report()
    assert "fell back model.layers.0.self_attn: 1 calls: unsqueeze_dim=2" in handle.report()


def test_a_wrapper_with_a_forward_of_its_own_is_left_alone():
    model = tiny.build("llama")
    (_, attention), *_ = attentions(model)
    wrapper = attention.__dict__["_kernel_funcs"]["rotary_pos_emb"]
    wrapper.forward = type(wrapper).forward.__get__(wrapper)  # what kernelize would do
    handle = torch_metalgen.patch(model, force=True)
    (record,) = [r for r in handle.skipped if r.name == "model.layers.0.self_attn"]
    assert "already replaced" in record.reason
    assert wrapper.__dict__["forward"] is not None and not isinstance(
        wrapper.__dict__["forward"], rotary.PatchedRotary
    )


def test_an_attention_without_the_hub_copy_is_skipped_with_the_reason():
    model = tiny.build("llama")
    (_, attention), *_ = attentions(model)
    del attention.__dict__["_kernel_funcs"]  # as with transformers' no-op decorators
    handle = torch_metalgen.patch(model, force=True)
    (record,) = [r for r in handle.skipped if r.name == "model.layers.0.self_attn"]
    assert "no hub-kernel copy" in record.reason, handle.report()


def test_dry_run_and_meta_device_change_nothing():
    model = tiny.build("llama")
    handle = torch_metalgen.patch(model, force=True, dry_run=True)
    assert len([r for r in handle.swapped if r.name.endswith("self_attn")]) == 2
    assert all("forward" not in w.__dict__ for w in wrappers(model))
    with torch.device("meta"):
        meta = tiny.build("llama")
    handle = torch_metalgen.patch(meta, force=True)
    assert len([r for r in handle.swapped if r.name.endswith("self_attn")]) == 2
    handle.undo()


def test_torch_compile_fullgraph_keeps_the_rotary_op():
    model = tiny.build("qwen2")
    expected = logits(model)
    handle = torch_metalgen.patch(model, force=True)
    graphs = []

    def backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    compiled = torch.compile(model, backend=backend, fullgraph=True)
    with torch.no_grad():
        actual = compiled(tiny.input_ids()).logits
    targets = [str(n.target) for g in graphs for n in g.graph.nodes]
    assert len([t for t in targets if t.startswith("metalgen.rotary_embedding")]) == 2, targets
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    handle.undo()
