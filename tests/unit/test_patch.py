"""patch(): which modules are swapped and why, by declared semantics and the op registry.

Lifecycle (undo, copies, saving, meta, dry run, load-time patching) is in
test_patch_lifecycle.py.
"""

from __future__ import annotations

import importlib

import pytest
import torch
import torch.nn.functional as F

import torch_metalgen
from tests.models import tiny
from torch_metalgen.patching import capabilities, families
from torch_metalgen.patching.adapters import ADAPTERS
from torch_metalgen.patching.semantics import (
    GEMMA,
    LLAMA,
    GatedMLPSemantics,
    NormSemantics,
    NotReachable,
)
from torch_metalgen.tolerances import LOGITS_TOLERANCE


class Spy(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts torch.ops.metalgen calls by op name."""

    def __init__(self):
        super().__init__()
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == "metalgen":
            name = func._opname
            self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


def _class(qualname: str) -> type:
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


# --- the tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("qualname", sorted(families.KNOWN_CLASSES))
def test_every_table_row_names_a_real_class(qualname):
    cls = _class(qualname)
    assert families.qualified_name(cls) == qualname


def test_every_family_builds_and_every_table_row_is_met_in_a_tiny_model():
    seen = set()
    for family in tiny.FAMILIES:
        model = tiny.build(family)
        seen |= {families.qualified_name(type(m)) for m in model.modules()}
    seen.add("torch.nn.modules.normalization.RMSNorm")  # no target family uses it
    seen.add("torch.nn.modules.normalization.GroupNorm")  # diffusion models; none here
    assert set(families.KNOWN_CLASSES) <= seen, set(families.KNOWN_CLASSES) - seen


def _declared_math(module, sem: NormSemantics, x: torch.Tensor, casting: str) -> torch.Tensor:
    """The row's math in float32 with the given half-precision rounding (float32: exact)."""
    x32 = x.float()
    if sem.op == "layer_norm":
        x32 = x32 - x32.mean(-1, keepdim=True)
    eps = getattr(module, sem.eps)
    normalized = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    weight = getattr(module, sem.weight)
    bias = getattr(module, sem.bias) if sem.bias else None
    if casting == LLAMA:
        out = (sem.offset + weight) * normalized.to(x.dtype)
        return out if bias is None else out + bias
    out = normalized * (sem.offset + weight.float())
    return (out if bias is None else out + bias.float()).to(x.dtype)


def _norm_rows():
    for family in sorted(tiny.FAMILIES):
        for qualname, sem in families.FAMILIES[family].items():
            if isinstance(sem, NormSemantics):
                yield pytest.param(family, qualname, id=qualname.rsplit(".", 1)[1])
    yield pytest.param("gpt2", "torch.nn.modules.normalization.LayerNorm", id="LayerNorm")


@pytest.mark.parametrize("family, qualname", list(_norm_rows()))
def test_norm_rows_match_the_classes_math_and_rounding(family, qualname):
    """The declared op, offset, eps attribute and casting mode reproduce the class: in
    float32 to the float32 tolerance, in bfloat16 closer than the other casting mode."""
    sem = families.KNOWN_CLASSES[qualname]
    model = tiny.build(family)
    name, module = next(
        (n, m)
        for n, m in model.named_modules()
        if families.qualified_name(type(m)) == qualname and getattr(m, sem.weight).dim() == 1
    )
    hidden = getattr(module, sem.weight).numel()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(16, hidden, generator=generator) * 2 + 1  # nonzero mean
    with torch.no_grad():
        torch.testing.assert_close(module(x), _declared_math(module, sem, x, sem.casting))
        module.to(torch.bfloat16)
        xb = x.bfloat16()
        actual = module(xb).float()
        errors = {
            mode: (actual - _declared_math(module, sem, xb, mode).float()).abs().sum().item()
            for mode in (LLAMA, GEMMA)
        }
    other = GEMMA if sem.casting == LLAMA else LLAMA
    assert errors[sem.casting] == 0 or errors[sem.casting] < errors[other], (name, errors)


def _mlp_rows():
    for family in sorted(tiny.FAMILIES):
        for qualname, sem in families.FAMILIES[family].items():
            if isinstance(sem, GatedMLPSemantics):
                yield pytest.param(family, qualname, id=qualname.rsplit(".", 1)[1])


@pytest.mark.parametrize("family, qualname", list(_mlp_rows()))
def test_gated_mlp_rows_match_the_classes_math(family, qualname):
    sem = families.KNOWN_CLASSES[qualname]
    model = tiny.build(family)
    module = next(m for m in model.modules() if families.qualified_name(type(m)) == qualname)
    activation = getattr(module, sem.activation)
    op, extra = families.ACTIVATIONS[families.qualified_name(type(activation))]
    x = torch.randn(3, 5, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        if sem.gate_up:
            gate, up = getattr(module, sem.gate_up)(x).chunk(2, dim=-1)
        else:
            gate, up = getattr(module, sem.gate)(x), getattr(module, sem.up)(x)
        approximate = "tanh" if extra.get("approximate_tanh") else "none"
        act = F.silu(gate) if op == "silu_and_mul" else F.gelu(gate, approximate=approximate)
        torch.testing.assert_close(module(x), getattr(module, sem.down)(act * up))


def test_torch_rms_norm_rounds_once_as_declared():
    sem = families.TORCH_CLASSES["torch.nn.modules.normalization.RMSNorm"]
    norm = torch.nn.RMSNorm(512, eps=1e-6, dtype=torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(512) * 0.5 + 1)
        x = (torch.randn(64, 512) * 3 + 1).bfloat16()
        expected = _declared_math(norm, sem, x, GEMMA)
        assert torch.equal(norm(x), expected)
        assert not torch.equal(norm(x), _declared_math(norm, sem, x, LLAMA))


# --- decisions per family, driven by what the registry serves ---------------------------


def _servable(sem, dtype) -> str:
    """Why the current registry cannot serve a row at dtype ("" if it can)."""
    if isinstance(sem, NotReachable):
        return sem.reason
    if isinstance(sem, NormSemantics):
        options = {
            capabilities.OFFSET_ARGUMENT: sem.offset,
            capabilities.CASTING_ARGUMENT: sem.casting,
        }
        return capabilities.missing(sem.op, dtype, options)
    return "gated mlp"  # checked separately (depends on the activation)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", sorted(tiny.FAMILIES))
def test_each_norm_is_swapped_exactly_when_the_registry_serves_its_row(family, dtype):
    model = tiny.build(family, dtype)
    handle = torch_metalgen.patch(model, force=True)
    swapped = {r.name for r in handle.swapped}
    reported = swapped | {r.name for r in handle.skipped}
    for name, module in model.named_modules():
        if "norm" not in type(module).__name__.lower():
            continue
        assert name in reported, f"norm-like {name} missing from the report"
        sem = families.KNOWN_CLASSES.get(families.qualified_name(type(module)))
        assert isinstance(sem, NormSemantics), name
        weight = getattr(module, sem.weight)
        should = not _servable(sem, dtype) and weight.dim() == 1
        assert (name in swapped) == should, (name, handle.report())
        if name in swapped:
            assert "forward" in module.__dict__


RMS_FAMILIES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3")
RMS_FAMILIES += ("phi3", "olmo2", "t5")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", RMS_FAMILIES)
def test_every_rms_norm_of_the_rms_families_is_swapped_in_every_dtype(family, dtype):
    # rms_norm has Gemma's offset and both casting modes: every declared RMSNorm with a 1-D
    # weight is served in float32, float16 and bfloat16, with no "falls back" note.
    model = tiny.build(family, dtype)
    handle = torch_metalgen.patch(model, force=True)
    norms = [r for r in handle.swapped if "rms_norm" in r.reason]
    classes = ("RMSNorm", "T5LayerNorm")
    expected = [n for n, m in model.named_modules() if type(m).__name__.endswith(classes)]
    assert [r.name for r in norms] == expected, handle.report()
    assert not any("fall back" in r.reason for r in handle.swapped), handle.report()
    if family.startswith("gemma"):
        assert all(isinstance(families.KNOWN_CLASSES[r.cls], NormSemantics) for r in norms)
        assert {families.KNOWN_CLASSES[r.cls].offset for r in norms} == {1.0}


def test_skip_reasons_name_what_is_missing():
    handle = torch_metalgen.patch(tiny.build("cohere"), force=True)
    qk = [r for r in handle.skipped if r.name.endswith(("q_norm", "k_norm"))]
    assert len(qk) == 4 and all("2-D" in r.reason for r in qk)
    rotary = [r for r in handle.skipped if "Rotary" in r.cls]
    assert rotary and all("apply_rotary_pos_emb" in r.reason for r in rotary)
    for family, words in (
        ("llama", "written inline in this decoder layer's forward"),
        ("gemma2", "written inline in this decoder layer's forward"),
        ("olmo2", "post-norm"),
        ("t5", "T5Block forward"),
    ):
        handle = torch_metalgen.patch(tiny.build(family), force=True)
        layers = [r for r in handle.skipped if "residual + norm" in r.reason]
        assert layers and all(words in r.reason for r in layers), handle.report()
        assert len(layers) == (4 if family == "t5" else 2)  # T5: 2 encoder + 2 decoder blocks


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_cohere_layer_norm_is_never_run_as_an_rms_norm(dtype):
    # The review's B1: a probe took CohereLayerNorm (mean-subtracting) for an RMSNorm in bf16.
    model = tiny.build("cohere", dtype)
    handle = torch_metalgen.patch(model, force=True)
    assert not any("rms_norm" in r.reason for r in handle.swapped), handle.report()
    ids = tiny.input_ids()
    with torch.no_grad(), Spy() as spy:
        model(ids)
    assert "rms_norm" not in spy.calls


def test_patched_forwards_call_the_op_once_per_module():
    model = tiny.build("llama")
    handle = torch_metalgen.patch(model, force=True)
    with torch.no_grad(), Spy() as spy:
        model(tiny.input_ids())
    expected = {"rms_norm": 5, "silu_and_mul": 2, "rotary_embedding": 2}
    assert spy.calls == expected and handle.fallbacks() == {}
    assert set(handle.calls().values()) == {1}
    handle.undo()
    with torch.no_grad(), Spy() as spy:
        model(tiny.input_ids())
    assert spy.calls == {}


def test_cpu_modules_are_skipped_without_force():
    handle = torch_metalgen.patch(tiny.build("llama"))
    norms = [r for r in handle.skipped if "RMSNorm" in r.cls]
    assert not handle.swapped and len(norms) == 5
    assert all("no native Metal kernel" in r.reason and "force=True" in r.reason for r in norms)


def test_torch_norm_variants():
    model = torch.nn.Sequential(
        torch.nn.RMSNorm(16),  # eps None -> finfo eps at run time
        torch.nn.RMSNorm(16, eps=1e-5, elementwise_affine=False),
        torch.nn.RMSNorm((4, 4)),  # two trailing dims: not this op
        torch.nn.LayerNorm(16),
        torch.nn.GroupNorm(2, 4),
        torch.nn.BatchNorm1d(16),  # norm-like, undeclared
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(16))
    flat = torch.randn(3, 16)
    first, second = model[0](flat), model[1](flat)
    handle = torch_metalgen.patch(model, force=True)
    assert [r.name for r in handle.swapped][:2] == ["0", "1"]
    skipped = {r.name: r.reason for r in handle.skipped}
    assert "2 trailing dims" in skipped["2"]
    assert "not a declared class" in skipped["5"]
    for name, op in (("3", "layer_norm"), ("4", "group_norm")):
        assert (name in skipped) == (not capabilities.has_op(op))
    torch.testing.assert_close(model[0](flat), first)
    torch.testing.assert_close(model[1](flat), second)


def test_mixed_dtypes_fall_back_and_are_counted_not_hidden():
    norm = tiny.build("olmo2").model.norm  # Olmo2RMSNorm (rounds once) with a float32 weight
    x = torch.randn(2, 64, dtype=torch.bfloat16)
    expected = norm(x)
    handle = torch_metalgen.patch(norm, force=True)
    out = norm(x)  # the op takes one dtype; the original defines the mixed case
    assert out.dtype == expected.dtype
    assert torch.equal(out, expected)
    (reasons,) = handle.fallbacks().values()
    assert sum(reasons.values()) == 1 and "weight is float32" in next(iter(reasons))
    assert "fallbacks 1 calls" in handle.report() and "fell back <model>" in handle.report()


def test_a_float32_patched_model_cast_to_bfloat16_keeps_rounding_like_the_original():
    model = tiny.build("llama")
    handle = torch_metalgen.patch(model, force=True)
    model.to(torch.bfloat16)
    unpatched = tiny.build("llama", torch.bfloat16)
    with torch.no_grad(), Spy() as spy:
        patched_logits = model(tiny.input_ids()).logits
        expected = unpatched(tiny.input_ids()).logits
    # The call plan made in float32 serves bfloat16 with the declared Llama-style casting (no
    # fallback), and the ops' CPU impl rounds as Hugging Face does: the same bits.
    assert handle.fallbacks() == {} and spy.calls == {
        "rms_norm": 5,
        "silu_and_mul": 2,
        "rotary_embedding": 2,
    }
    assert torch.equal(patched_logits, expected)


def test_weightless_norm_float64_falls_back():
    model = torch.nn.Sequential(
        torch.nn.Linear(24, 24), torch.nn.RMSNorm(24, eps=1e-5, elementwise_affine=False)
    )
    handle = torch_metalgen.patch(model, force=True)
    assert [r.name for r in handle.swapped] == ["1"], handle.report()
    x = torch.randn(2, 24, dtype=torch.float64)  # no float64 kernel: the original serves it
    torch.testing.assert_close(model[1](x), torch.nn.functional.rms_norm(x, (24,), eps=1e-5))
    assert "no rms_norm kernel for float64" in next(iter(handle.fallbacks()["1"]))


# --- undeclared classes: hub names and the opt-in probe ----------------------------------


class HubTaggedRMSNorm(torch.nn.Module):
    """Like HF's RMSNorm, tagged as `kernels`' use_kernel_forward_from_hub("RMSNorm") does."""

    kernel_layer_name = "RMSNorm"

    def __init__(self, hidden=32):
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(hidden))
        self.variance_epsilon = 1e-6

    def forward(self, x):
        x32 = x.float()
        normalized = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * normalized.to(x.dtype)


class MeanSubtractingRMSNorm(HubTaggedRMSNorm):
    """RMSNorm attribute names, LayerNorm math (Cohere-like)."""

    kernel_layer_name = None

    def forward(self, x):
        x32 = x.float() - x.float().mean(-1, keepdim=True)
        normalized = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return (self.weight.float() * normalized).to(x.dtype)


class UntaggedRMSNorm(HubTaggedRMSNorm):
    kernel_layer_name = None


class OffsetNorm(UntaggedRMSNorm):
    def forward(self, x):
        x32 = x.float()
        normalized = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return (normalized * (1.0 + self.weight.float())).to(x.dtype)


class ClampedRMSNorm(UntaggedRMSNorm):
    def forward(self, x):
        return super().forward(x.clamp(-5, 5))


class BiasedRMSNorm(UntaggedRMSNorm):
    def __init__(self, hidden=32):
        super().__init__(hidden)
        self.bias = torch.nn.Parameter(torch.zeros(hidden))  # zero now, trained later

    def forward(self, x):
        return super().forward(x) + self.bias


def test_hub_layer_name_is_declared_semantics_in_float32_only():
    handle = torch_metalgen.patch(HubTaggedRMSNorm(), force=True)
    assert len(handle.swapped) == 1 and 'hub layer name "RMSNorm"' in handle.swapped[0].reason
    half = torch_metalgen.patch(HubTaggedRMSNorm().bfloat16(), force=True)
    assert not half.swapped and "casting mode not declared" in half.skipped[0].reason


@pytest.mark.parametrize(
    "hidden, dtype",
    [(64, torch.float32), (64, torch.bfloat16), (4096, torch.bfloat16), (4096, torch.float16)],
)
def test_mean_subtracting_norm_with_rmsnorm_attributes_is_never_patched(hidden, dtype):
    for probe_unknown in (False, True):
        norm = MeanSubtractingRMSNorm(hidden).to(dtype)
        handle = torch_metalgen.patch(norm, force=True, probe_unknown=probe_unknown)
        assert not handle.swapped and "forward" not in norm.__dict__, handle.report()
        expected = "probe: the forward is not" if probe_unknown else "not a declared class"
        assert expected in handle.skipped[0].reason


def test_probe_identifies_a_true_rms_norm_and_serves_float32_only():
    norm = UntaggedRMSNorm(48)
    x = torch.randn(5, 48) + 2
    expected = norm(x)
    assert not torch_metalgen.patch(norm, force=True).swapped  # not without the opt-in
    handle = torch_metalgen.patch(norm, force=True, probe_unknown=True)
    assert "identified by the float32 probe" in handle.swapped[0].reason
    with Spy() as spy:
        torch.testing.assert_close(norm(x), expected)
        norm.to(torch.bfloat16)(x.bfloat16())  # undeclared rounding: falls back
    assert spy.calls == {"rms_norm": 1}
    assert "casting mode not declared" in next(iter(handle.fallbacks()["<model>"]))
    handle.undo()
    half = torch_metalgen.patch(UntaggedRMSNorm().bfloat16(), force=True, probe_unknown=True)
    assert not half.swapped and "casting mode not declared" in half.skipped[0].reason


@pytest.mark.parametrize(
    "cls, reason",
    [
        (ClampedRMSNorm, "probe: the forward is not"),  # the outlier channel exposes the clamp
        (BiasedRMSNorm, "holds bias"),  # review B2: a zero bias today is a real bias tomorrow
    ],
)
def test_probe_rejects_look_alikes(cls, reason):
    handle = torch_metalgen.patch(cls(), force=True, probe_unknown=True)
    assert not handle.swapped and reason in handle.skipped[0].reason, handle.report()


def test_probe_tells_the_offset_form_apart():
    norm = OffsetNorm()
    x = torch.randn(4, 32) + 1
    expected = norm(x)
    handle = torch_metalgen.patch(norm, force=True, probe_unknown=True)
    assert "identified by the float32 probe" in handle.swapped[0].reason, handle.report()
    assert handle._patched[0][1].semantics.offset == 1.0
    with Spy() as spy:
        torch.testing.assert_close(norm(x), expected)
    assert spy.calls == {"rms_norm": 1}


def test_probe_runs_no_hooks_and_leaves_the_module_alone():
    norm = UntaggedRMSNorm()
    fired = []
    norm.register_forward_hook(lambda *args: fired.append(args))
    weight = norm.weight.detach().clone()
    torch_metalgen.patch(norm, force=True, probe_unknown=True)
    assert fired == [] and torch.equal(norm.weight, weight)


# --- gated MLPs (enabled when the registry has the activation ops) ----------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "family, op", [("llama", "silu_and_mul"), ("phi3", "silu_and_mul"), ("gemma", "gelu_and_mul")]
)
def test_gated_mlps_are_swapped_in_every_dtype(family, op, dtype):
    # Half precision too: the gated ops have Llama-style casting (act(gate) rounded first).
    model = tiny.build(family, dtype)
    ids = tiny.input_ids()
    with torch.no_grad():
        expected = model(ids).logits
    handle = torch_metalgen.patch(model, force=True)
    mlps = [r for r in handle.swapped + handle.skipped if r.cls.endswith("MLP")]
    assert len(mlps) == 2 and all(r in handle.swapped for r in mlps), handle.report()
    assert not any("fall back" in r.reason for r in mlps)
    with torch.no_grad(), Spy() as spy:
        actual = model(ids).logits
    assert spy.calls.get(op) == 2 and not handle.fallbacks()
    if dtype == torch.float32:
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    elif op == "silu_and_mul":  # the CPU impl's silu(gate) rounds as torch's does: same bits
        assert torch.equal(actual, expected)
    else:  # torch's half-precision GELU is not float32 GELU rounded: within the table
        relative = (actual - expected).abs().max() / expected.abs().max()
        assert relative <= LOGITS_TOLERANCE[dtype]


def test_bad_arguments_are_type_errors_naming_them():
    with pytest.raises(TypeError, match="model"):
        torch_metalgen.patch("not a model")
    with pytest.raises(TypeError, match="force"):
        torch_metalgen.patch(torch.nn.RMSNorm(4), force="yes")
    with pytest.raises(TypeError, match="model"):
        torch_metalgen.unpatch(3)
    with pytest.raises(TypeError, match="bogus"):
        with torch_metalgen.patch_on_load(bogus=True):
            pass


# --- registry layouts other ops will bring (decisions only: dry runs, no op is called) ---

FUTURE_SCHEMAS = {
    "rms_norm": (
        "rms_norm(Tensor x, Tensor? weight=None, float eps=1e-06, float offset=0.0, "
        'str casting_mode="gemma") -> Tensor'
    ),
    "layer_norm": (
        "layer_norm(Tensor x, Tensor? weight=None, Tensor? bias=None, float eps=1e-05) -> Tensor"
    ),
    "silu_and_mul": "silu_and_mul(Tensor x, Tensor? up=None) -> Tensor",
    "gelu_and_mul": "gelu_and_mul(Tensor x, Tensor? up=None) -> Tensor",  # no approximate
}


@pytest.fixture
def future_registry(monkeypatch):
    from torch_metalgen._generated.registry import OPS

    ops = {
        name: dict(OPS.get("rms_norm"), schema=schema) for name, schema in FUTURE_SCHEMAS.items()
    }
    monkeypatch.setattr(capabilities, "_registry", lambda: ops)
    # These ops are not built yet: only decisions are tested (dry runs, call plans).
    monkeypatch.setattr(capabilities, "registered", lambda op: True)
    capabilities.op_arguments.cache_clear()
    yield ops
    capabilities.op_arguments.cache_clear()


def test_a_registry_with_offset_and_casting_serves_gemma_and_bf16_llama(future_registry):
    for family, dtype in (
        ("gemma", torch.float32),
        ("llama", torch.bfloat16),
        ("t5", torch.float16),
    ):
        handle = torch_metalgen.patch(tiny.build(family, dtype), force=True, dry_run=True)
        norms = [r for r in handle.swapped if "Norm" in r.cls]
        assert len(norms) >= 5 and not [r for r in handle.skipped if "Norm" in r.cls], (
            handle.report()
        )
    gemma = families.KNOWN_CLASSES["transformers.models.gemma.modeling_gemma.GemmaRMSNorm"]
    plan, _ = capabilities.plan(
        "rms_norm",
        ADAPTERS["norm"].options(None, gemma)[1],
        ADAPTERS["norm"].value_names(None, gemma),
    )
    values = {
        "x": 1,
        "input": 1,
        "weight": 2,
        "bias": None,
        "eps": 1e-6,
        "num_groups": None,
        "silu": False,
        "offset": 1.0,
        "casting_mode": GEMMA,
    }
    assert plan.kwargs(values) == {
        "x": 1,
        "weight": 2,
        "eps": 1e-6,
        "offset": 1.0,
        "casting_mode": GEMMA,
    }


def test_a_registry_with_layer_norm_serves_cohere_as_layer_norm_never_rms_norm(future_registry):
    handle = torch_metalgen.patch(tiny.build("cohere", torch.bfloat16), force=True, dry_run=True)
    swapped = [r for r in handle.swapped if "LayerNorm" in r.cls]
    assert len(swapped) == 3 and all("metalgen.layer_norm" in r.reason for r in swapped)
    gpt2 = torch_metalgen.patch(tiny.build("gpt2"), force=True, dry_run=True)
    assert len(gpt2.swapped) == 5 and all("layer_norm" in r.reason for r in gpt2.swapped)


def test_gated_ops_are_wired_by_schema_and_missing_options_refuse(future_registry):
    llama = torch_metalgen.patch(tiny.build("llama"), force=True, dry_run=True)
    phi3 = torch_metalgen.patch(tiny.build("phi3"), force=True, dry_run=True)
    for handle in (llama, phi3):
        assert len([r for r in handle.swapped if "silu_and_mul" in r.reason]) == 2, handle.report()
    sem = families.KNOWN_CLASSES["transformers.models.llama.modeling_llama.LlamaMLP"]
    mlp = tiny.build("llama").model.layers[0].mlp
    plan, _ = capabilities.plan("silu_and_mul", {}, ADAPTERS["gated_mlp"].value_names(mlp, sem))
    assert [name for name, _ in plan.arguments] == ["x", "up"]  # x is the gate, up the up
    # Gemma's tanh GELU needs an `approximate_tanh` argument this schema lacks: refused, not
    # guessed.
    gemma = torch_metalgen.patch(tiny.build("gemma"), force=True, dry_run=True)
    mlps = [r for r in gemma.skipped if r.cls.endswith("MLP")]
    assert len(mlps) == 2 and all("no 'approximate_tanh' argument" in r.reason for r in mlps)


def test_a_gate_only_schema_is_never_fed_separate_gate_and_up(future_registry):
    future_registry["silu_and_mul"]["schema"] = "silu_and_mul(Tensor x) -> Tensor"  # [..., 2d]
    handle = torch_metalgen.patch(tiny.build("llama"), force=True, dry_run=True)
    mlps = [r for r in handle.skipped if r.cls.endswith("MLP")]
    assert len(mlps) == 2 and all("argument 'x' patching does not know" in r.reason for r in mlps)
    phi3 = torch_metalgen.patch(tiny.build("phi3"), force=True, dry_run=True)
    assert len([r for r in phi3.swapped if r.cls.endswith("MLP")]) == 2


def test_a_registry_without_the_options_refuses_what_it_cannot_round(future_registry):
    # An rms_norm without offset / casting_mode (the op before they existed): Gemma is
    # skipped, Llama-style norms are served in float32 only, never rounded the other way.
    future_registry["rms_norm"]["schema"] = (
        "rms_norm(Tensor x, Tensor? weight=None, float eps=1e-06) -> Tensor"
    )
    gemma = torch_metalgen.patch(tiny.build("gemma"), force=True, dry_run=True)
    norms = [r for r in gemma.skipped if "RMSNorm" in r.cls]
    assert len(norms) == 5 and all("(1 + weight) offset" in r.reason for r in norms)
    half = torch_metalgen.patch(tiny.build("llama", torch.bfloat16), force=True, dry_run=True)
    norms = [r for r in half.skipped if "RMSNorm" in r.cls]
    assert len(norms) == 5 and all("Llama-style casting" in r.reason for r in norms)
    fp32 = torch_metalgen.patch(tiny.build("llama"), force=True, dry_run=True)
    norms = [r for r in fp32.swapped if "RMSNorm" in r.cls]
    assert len(norms) == 5 and all("float16, bfloat16 calls fall back" in r.reason for r in norms)
    olmo2 = torch_metalgen.patch(tiny.build("olmo2", torch.bfloat16), force=True, dry_run=True)
    assert len([r for r in olmo2.swapped if "RMSNorm" in r.cls]) == 9  # rounds once: served
