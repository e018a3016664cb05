"""AddressSanitizer pass over every layer_norm, group_norm and softmax kernel: out-of-bounds
device, threadgroup or thread memory aborts the run and becomes a SimulatorError report.
Odd sizes, so the N_READS tails (where overruns hide) are exercised."""

from __future__ import annotations

import pytest
import torch

from torch_metalgen import _ops

sim = pytest.importorskip("torch_metalgen.sim")

pytestmark = pytest.mark.asan


def _cases():
    x = torch.randn(3, 37)
    w = torch.randn(37)
    image = torch.randn(2, 6, 5, 7)
    channel = torch.randn(6)
    scores = torch.randn(2, 3, 5, 37)
    mask = torch.randn(2, 1, 5, 37)
    yield "layer_norm", (x, w, w, 1e-5)
    yield "group_norm", (image, 3, channel, channel, 1e-5, True)
    yield "softmax", (scores, 0.5, mask, True, False)


CASES = [
    (op, variant, args) for op, args in _cases() for variant in getattr(_ops._C, f"{op}_variants")()
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("op, variant, args", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_kernel_is_clean_under_asan(op, variant, args, dtype):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    args = tuple(a.to(dtype) if isinstance(a, torch.Tensor) else a for a in args)
    plans, out = getattr(_ops._C, f"plan_{op}")(*args, variant=variant)
    sim.run_plan(plans, asan=True)
    assert torch.isfinite(out).all()
