"""AddressSanitizer pass over the rotary_embedding kernel in both modes (tables,
positions): out-of-bounds device memory aborts the run and becomes a report. q and k are
Hugging Face's strided views (the ASan run binds each view's span, as the GPU does), with
partial rotary and a GQA head count that 4 heads per thread do not divide, so the
pass-through threads and the last head group are exercised; the outputs match the
in-process run bit for bit."""

from __future__ import annotations

import pytest
import torch

from tests.ops.rotary_cases import case
from torch_metalgen import _ops

sim = pytest.importorskip("torch_metalgen.sim")

pytestmark = pytest.mark.asan


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("mode", ["tables", "positions"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_kernel_is_clean_under_asan(dtype, mode, interleaved):
    if not sim.toolchain_info().get("asan"):
        pytest.skip("this clang has no AddressSanitizer runtime (ziglang fallback)")
    q, k, cos, sin = case(2, 5, 2, 3, 40, 24, dtype, seed=1, interleaved=interleaved)
    if mode == "tables":
        args = (q, k, cos, sin, None, 10000.0, -1, interleaved, False)
    else:
        args = (q, k, None, None, torch.arange(7, 10), 10000.0, 24, interleaved, False)
    plans, isolated = _ops._C.plan_rotary_embedding(*args)
    sim.run_plan(plans, asan=True)
    plans, in_process = _ops._C.plan_rotary_embedding(*args)
    sim.run_plan(plans)
    for a, b in zip(isolated, in_process, strict=True):
        assert torch.equal(a, b)
