"""``python -m torch_metalgen selftest``: every kernel (op x variant x dtype) once through
the MSL simulator against its float64 reference, as a quick health check of a machine."""

from __future__ import annotations

import torch

from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS

# op -> sample arguments for a dtype (odd sizes on purpose).
SAMPLES = {
    "rms_norm": lambda dtype, g: (
        torch.randn(5, 1031, generator=g).to(dtype),
        torch.randn(1031, generator=g).to(dtype),
        1e-6,
    ),
}
# Max |kernel - reference| / max |reference| accepted per dtype.
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


def run_selftest() -> int:
    from torch_metalgen import sim

    failures = 0
    for op, info in OPS.items():
        plan_function = getattr(_ops._C, f"plan_{op}")
        for variant in info["variants"]:
            for dtype_name in info["dtypes"]:
                dtype = getattr(torch, dtype_name)
                args = SAMPLES[op](dtype, torch.Generator().manual_seed(0))
                plan, out = plan_function(*args, variant=variant)
                sim.run_plan(plan)
                expected = REFERENCES[op](*(a.double() if torch.is_tensor(a) else a for a in args))
                error = ((out.double() - expected).abs().max() / expected.abs().max()).item()
                ok = error <= TOLERANCE[dtype]
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {plan.kernel:<32} relative error {error:.2e}")
    print("selftest passed" if not failures else f"selftest: {failures} kernels failed")
    return 1 if failures else 0
