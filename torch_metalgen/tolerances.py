"""The project's one tolerance table: how close a kernel's output must be to the float64
reference, per storage dtype, and how close a patched model's logits must be to the
unpatched model's. Every test, the selftest, the demo and the verifier import it.

Starting points from the project's verification rules (torch.testing's defaults per dtype,
MLX's tests, a relative-norm bound ||out - ref|| / ||ref||), widened only where a kernel's
single final rounding to the storage dtype differs from the reference's rounding: a
float16 result is within about one ulp (2^-11 ~ 4.9e-4 relative, here 2e-3 to allow the
float32 accumulation), a bfloat16 one within one ulp (2^-8 ~ 3.9e-3, here 1.6e-2 like
torch.testing).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tolerance:
    """Elementwise ``|out - ref| <= atol + rtol * |ref|`` plus a relative-norm bound."""

    rtol: float
    atol: float
    rel_norm: float  # bound on ||out - ref||_2 / ||ref||_2

    def describe(self) -> str:
        return f"rtol {self.rtol:g}, atol {self.atol:g}, rel-norm {self.rel_norm:g}"


# A kernel's output against the op's float64 reference.
TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float32: Tolerance(rtol=1e-5, atol=1e-5, rel_norm=1e-6),
    torch.float16: Tolerance(rtol=2e-3, atol=1e-4, rel_norm=1e-3),
    torch.bfloat16: Tolerance(rtol=1.6e-2, atol=1e-3, rel_norm=8e-3),
}

# A patched model's logits against the unpatched model's, as max |diff| / max |unpatched|:
# a few ulps of the storage dtype, grown through the layers.
LOGITS_TOLERANCE: dict[torch.dtype, float] = {
    torch.float32: 1e-5,
    torch.float16: 1e-2,
    torch.bfloat16: 4e-2,
}


def float64_inputs(args) -> tuple:
    """An op's arguments as its float64 reference takes them: floating tensors in float64,
    integer tensors (packed quantized weights) and non-tensors as they are."""
    return tuple(
        a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args
    )


def tolerance_for(dtype: torch.dtype) -> Tolerance:
    try:
        return TOLERANCES[dtype]
    except KeyError:
        raise ValueError(
            f"no tolerance for dtype {dtype}; the table (torch_metalgen/tolerances.py) has "
            f"{sorted(str(d) for d in TOLERANCES)}"
        ) from None


def mismatch(actual: torch.Tensor, reference64: torch.Tensor) -> str:
    """Why ``actual`` is not within its dtype's tolerance of the float64 reference, or ""."""
    if actual.shape != reference64.shape:
        return f"shape {tuple(actual.shape)} != reference shape {tuple(reference64.shape)}"
    tolerance = tolerance_for(actual.dtype)
    difference = (actual.double() - reference64).abs()
    allowed = tolerance.atol + tolerance.rtol * reference64.abs()
    # NaN where the reference has NaN is agreement; anywhere else it is a mismatch.
    both_nan = actual.double().isnan() & reference64.isnan()
    bad = ~((difference <= allowed) | both_nan)
    if bad.any():
        worst = int(torch.where(bad, difference.nan_to_num(float("inf")), 0).argmax())
        got, want = actual.flatten()[worst].item(), reference64.flatten()[worst].item()
        return (
            f"{int(bad.sum())} of {actual.numel()} elements outside {tolerance.describe()} "
            f"(worst: {got!r} vs {want!r})"
        )
    finite = ~both_nan
    denominator = reference64[finite].norm().item()
    if denominator > 0:
        relative = (actual.double() - reference64)[finite].norm().item() / denominator
        if relative > tolerance.rel_norm:
            return f"relative-norm error {relative:.3g} > {tolerance.rel_norm:g}"
    return ""


def assert_close_to_reference(actual: torch.Tensor, reference64: torch.Tensor) -> None:
    """Elementwise per-dtype tolerance plus a relative-norm bound, vs a float64 reference."""
    problem = mismatch(actual, reference64)
    assert not problem, problem
