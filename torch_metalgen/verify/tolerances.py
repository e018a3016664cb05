"""Per-dtype tolerances (rule 2): never a flat 1e-2.

Starting points from verification.md: torch.testing's defaults (rtol, atol) per dtype, plus a
bound on the relative-norm error ||out - ref|| / ||ref||, and the factor by which a candidate
may be worse than PyTorch eager in the same storage dtype (rule 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    rel_norm: float  # bound on ||out - ref||_2 / ||ref||_2
    scale_atol: bool = True  # shrink atol to 1% of median |ref| (rule 3)

    def describe(self) -> str:
        return f"rtol {self.rtol:g}, atol {self.atol:g}, rel-norm {self.rel_norm:g}"


TOLERANCES: dict[torch.dtype, Tolerance] = {
    # torch.testing.assert_close defaults; rel-norm about 10 ulps of the storage dtype
    torch.float32: Tolerance(rtol=1.3e-6, atol=1e-5, rel_norm=1e-5),
    torch.float16: Tolerance(rtol=1e-3, atol=1e-5, rel_norm=5e-3),
    torch.bfloat16: Tolerance(rtol=1.6e-2, atol=1e-5, rel_norm=4e-2),
}

# A candidate passes when its error is within the tolerance above OR no worse than this
# factor times PyTorch eager's own error in the same storage dtype (both against float64).
EAGER_FACTOR = 2.0

# ... but the relative-norm bar follows eager only up to this multiple of the dtype's rel-norm
# tolerance: at 16.7M float32 elements eager's own Frobenius norm is off by ~6e-4, and a bar of
# 2x that let a kernel that rounds its inputs to float16 (~2e-4 more) pass.
EAGER_BAR_CAP = 10.0

# What KernelBench used: kept only so tests can show why it is not enough.
KERNELBENCH_FLAT = Tolerance(rtol=1e-2, atol=1e-2, rel_norm=float("inf"), scale_atol=False)


def tolerance_for(dtype: torch.dtype) -> Tolerance:
    try:
        return TOLERANCES[dtype]
    except KeyError:
        raise ValueError(
            f"no tolerance for dtype {dtype}; add it to TOLERANCES in {__file__}"
        ) from None
