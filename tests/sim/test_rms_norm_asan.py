"""AddressSanitizer pass over every rms_norm kernel: out-of-bounds device, threadgroup or
thread memory aborts the run and becomes a SimulatorError report."""

from __future__ import annotations

import pytest
import torch

from torch_metalgen import _ops

sim = pytest.importorskip("torch_metalgen.sim")

pytestmark = pytest.mark.asan


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("variant", list(_ops._C.rms_norm_variants()))
def test_kernel_is_clean_under_asan(variant, dtype):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    x = torch.randn(3, 37).to(dtype)  # odd length: the N_READS tail is where overruns hide
    weight = torch.randn(37).to(dtype)
    plans, out = _ops._C.plan_rms_norm(x, weight, 1e-6, 1.0, "llama", variant=variant)
    sim.run_plan(plans, asan=True)
    assert torch.isfinite(out).all()
