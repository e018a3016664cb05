"""AddressSanitizer pass over the decode_attention kernels (both variants, every dtype, the
odd head dim 80 whose last 32-element chunk is half used, a strided query, a boolean mask,
causal with a window): out-of-bounds device, threadgroup or thread memory aborts the run and
becomes a SimulatorError report."""

from __future__ import annotations

import pytest
import torch

from torch_metalgen import _ops

sim = pytest.importorskip("torch_metalgen.sim")

pytestmark = pytest.mark.asan


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("variant", ["single_pass", "split_kv"])
def test_kernels_are_clean_under_asan(variant, dtype):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 4, 80, generator=generator).transpose(1, 2).to(dtype)
    k = torch.randn(2, 2, 301, 80, generator=generator).to(dtype)
    v = torch.randn(2, 2, 301, 80, generator=generator).to(dtype)
    mask = torch.rand(2, 1, 3, 301, generator=generator) > 0.2
    plans, out = _ops._C.plan_decode_attention(q, k, v, None, mask, True, 250, 0.0, variant=variant)
    sim.run_plan(plans, asan=True)
    assert torch.isfinite(out).all()
