"""Half precision through the simulator against Hugging Face's own code: a patched bfloat16 or
float16 module must round as the unpatched one does, not merely be close to float64.

RMSNorm, every declared class, patched by ``torch_metalgen.patch`` and run as the real kernel
(each variant):

- **bit for bit** when every summation order gives the same float32 sum of squares (inputs
  with 4 significant bits: each square is exact and the row sum stays below 2^24 units).
  Kernel and torch then reach the same inverse RMS, and everything after it is the same
  arithmetic in the same order: ``(h * inv_rms) * (offset + weight)`` in float32, rounded once
  (gemma casting), or the normalized value rounded first (llama casting).
- otherwise the inverse RMS may differ by float32 ulps (the kernel's tree reduction against
  torch's vectorized sum), so an element can round the other way: at most **1 ulp** of the
  storage dtype with gemma casting (one rounding of values a few float32 ulps apart), at most
  **2 ulps** with llama casting (the normalized value may round 1 ulp apart, and
  |w| * ulp(n) < 2 ulp(w * n)). Such elements are rare (< 0.1%); the other casting mode differs
  in about a quarter of them.

Gated activations (``act(gate) * up`` as Hugging Face's MLPs compute it in half precision):
llama casting rounds the kernel's act(gate) to the dtype before the multiply, which is tested
bit for bit against the kernel's own rounded activation; against torch's activation it agrees
except where the two float32 activations round differently (exp implementations; torch's
``1 + erf`` / ``1 + tanh`` forms cancel for gates below about -2, where the kernel is the one
closer to float64).
"""

from __future__ import annotations

import importlib

import pytest
import torch

import torch_metalgen
from torch_metalgen import _ops
from torch_metalgen.patching import families
from torch_metalgen.patching.semantics import LLAMA, NormSemantics

sim = pytest.importorskip("torch_metalgen.sim")
pytest.importorskip("transformers")

HALF = [torch.bfloat16, torch.float16]
# A row length per variant (none of them a tuning size).
VARIANT_LENGTHS = {"simd_rows": 200, "single_row": 1000, "looped": 4500}

RMS_CLASSES = sorted(
    name
    for name, sem in families.KNOWN_CLASSES.items()
    if isinstance(sem, NormSemantics) and sem.op == "rms_norm"
)


def _class(qualname: str) -> type:
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


def ulp_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """How many representable 16-bit values apart a and b are (0: the same bits)."""

    def ordered(t):
        bits = t.view(torch.int16).int()
        return torch.where(bits < 0, -(bits & 0x7FFF), bits)

    return (ordered(a) - ordered(b)).abs()


def exact_sum_rows(rows: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """Values k/8 * 2^e, k in [-7, 15] (nonzero mean), 1% outliers 16x, e per row: squares
    are multiples of 2^(2e-6) and a row's sum stays far below 2^24 of them."""
    k = torch.randint(-7, 16, (rows, n), generator=generator).float() / 8
    k = torch.where(torch.rand(rows, n, generator=generator) < 0.01, 16 * k, k)
    return k * 2.0 ** torch.randint(-3, 4, (rows, 1), generator=generator).float()


def _norm_module(qualname: str, n: int, dtype: torch.dtype, generator) -> torch.nn.Module:
    module = _class(qualname)(n, eps=1e-6)
    sem = families.KNOWN_CLASSES[qualname]
    with torch.no_grad():  # Gemma stores weight - 1: around 0 there, around 1 elsewhere
        module.weight.copy_(torch.randn(n, generator=generator) * 0.5 + 1 - sem.offset)
    return module.to(dtype)


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("variant", list(VARIANT_LENGTHS))
@pytest.mark.parametrize("qualname", RMS_CLASSES, ids=lambda q: q.rsplit(".", 1)[1])
def test_patched_rms_norm_rounds_like_the_class(qualname, variant, dtype):
    n = VARIANT_LENGTHS[variant]
    generator = torch.Generator().manual_seed(n)
    module = _norm_module(qualname, n, dtype, generator)
    exact = exact_sum_rows(6, n, generator).to(dtype)
    random = (torch.randn(10, n, generator=generator) * 2 + 1).to(dtype)
    x = torch.cat([exact, random])
    with torch.no_grad():
        expected = module(x)
        handle = torch_metalgen.patch(module, force=True)
        assert handle.swapped, handle.report()
        with sim.simulate() as simulator:
            actual = module(x)
        other_plans, other = _ops._C.plan_rms_norm(
            x,
            module.weight,
            1e-6,
            families.KNOWN_CLASSES[qualname].offset,
            "gemma" if families.KNOWN_CLASSES[qualname].casting == LLAMA else "llama",
        )
        sim.run_plan(other_plans)
    assert simulator.launches == [f"rms_norm_{variant}_{str(dtype).removeprefix('torch.')}"]
    assert handle.fallbacks() == {}
    distance = ulp_distance(actual, expected)
    assert torch.equal(actual[:6], expected[:6]), f"exact-sum rows differ: {distance[:6].max()}"
    bound = 2 if families.KNOWN_CLASSES[qualname].casting == LLAMA else 1
    assert distance.max() <= bound
    assert (distance > 0).float().mean() < 1e-3
    # The declared casting mode is what makes the bits agree: the other one does not.
    assert (ulp_distance(other, expected) > 0).float().mean() > 0.1


GATED = [
    ("silu_and_mul", (), "silu"),
    ("gelu_and_mul", (False,), "gelu"),
    ("gelu_and_mul", (True,), "gelu_pytorch_tanh"),
]


def _gated(op, extra, gate, up, casting_mode, variant):
    plans, out = getattr(_ops._C, f"plan_{op}")(gate, up, *extra, casting_mode, variant=variant)
    sim.run_plan(plans, check_unwritten=True)
    return out


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("variant", ["vector", "scalar"])
@pytest.mark.parametrize("op, extra, hf_name", GATED, ids=[g[2] for g in GATED])
def test_gated_llama_casting_rounds_the_activation_before_the_multiply(
    op, extra, hf_name, variant, dtype
):
    from transformers.activations import ACT2FN

    generator = torch.Generator().manual_seed(5)
    gate = (torch.randn(24, 516, generator=generator) * 3).to(dtype)
    up = (torch.randn(24, 516, generator=generator) + 0.5).to(dtype)
    llama = _gated(op, extra, gate, up, "llama", variant)
    gemma = _gated(op, extra, gate, up, "gemma", variant)
    # Exactly: the kernel's own activation rounded to the dtype (up = 1), times up in the dtype.
    activated = _gated(op, extra, gate, torch.ones_like(up), "gemma", variant)
    assert torch.equal(llama, activated * up)
    # Against Hugging Face's act_fn(gate) * up, where torch's float32 activation is accurate.
    expected = ACT2FN[hf_name](gate) * up
    accurate = gate.float() > -2
    distance = ulp_distance(llama, expected)[accurate]
    assert distance.max() <= 2 and (distance > 0).float().mean() < 1e-3
    assert (ulp_distance(gemma, expected)[accurate] > 0).float().mean() > 0.1
    if op == "silu_and_mul":
        return
    # Below -2 torch's gelu loses digits to cancellation; the kernel's is the closer one.
    tail = ~accurate
    truth = ACT2FN[hf_name](gate.double())[tail]
    kernel_error = (activated[tail].double() - truth).abs().sum()
    torch_error = (ACT2FN[hf_name](gate)[tail].double() - truth).abs().sum()
    assert kernel_error <= torch_error
