"""Error metrics against the float64 reference (rules 1-4) and bit-level comparisons (7-9).

All metrics are computed on CPU in float64. Non-finite values are compared by pattern:
a NaN must be a NaN, an inf an inf of the same sign; finite elements by scaled error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NEAR_CONSTANT_FRACTION = 0.7  # METR's filter: more than 70% of elements within atol


@dataclass
class Errors:
    max_scaled: float  # max |out - ref| / (atol + rtol * |ref|) over elements finite in both
    rel_norm: float  # ||out - ref|| / ||ref|| over elements finite in both
    nonfinite_mismatch: torch.Tensor  # bool mask: NaN/inf pattern differs from the reference


def as64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float64)


def effective_atol(ref: torch.Tensor, atol: float) -> float:
    """atol far below the typical output (rule 3): at most 1% of median |ref|."""
    finite = ref[torch.isfinite(ref)].abs()
    if finite.numel() == 0:
        return atol
    median = float(finite.median())
    return min(atol, 1e-2 * median) if median > 0 else atol


def errors(out: torch.Tensor, ref: torch.Tensor, atol: float, rtol: float) -> Errors:
    out, ref = as64(out), as64(ref)
    out_finite, ref_finite = torch.isfinite(out), torch.isfinite(ref)
    both = out_finite & ref_finite
    same_special = (torch.isnan(out) & torch.isnan(ref)) | (
        torch.isinf(out) & torch.isinf(ref) & (out == ref)
    )
    mismatch = ~both & ~same_special
    diff = (out - ref).where(both, torch.zeros((), dtype=out.dtype))
    scale = atol + rtol * ref.abs().where(both, torch.zeros((), dtype=out.dtype))
    scaled = diff.abs() / scale
    ref_norm = float(torch.linalg.vector_norm(ref.where(both, torch.zeros((), dtype=ref.dtype))))
    diff_norm = float(torch.linalg.vector_norm(diff))
    if ref_norm > 0:
        rel_norm = diff_norm / ref_norm
    else:
        rel_norm = 0.0 if diff_norm == 0 else float("inf")
    return Errors(
        max_scaled=float(scaled.max()) if scaled.numel() else 0.0,
        rel_norm=rel_norm,
        nonfinite_mismatch=mismatch,
    )


def near_constant(ref: torch.Tensor, atol: float) -> str | None:
    """Why ``ref`` is near-constant (METR's filter), or None. Any kernel returning that
    constant would pass a tolerance check, so such a problem proves nothing."""
    ref = as64(ref).flatten()
    ref = ref[torch.isfinite(ref)]
    if ref.numel() == 0:
        return None
    near_zero = float((ref.abs() <= atol).double().mean())
    if near_zero > NEAR_CONSTANT_FRACTION:
        return (
            f"{near_zero:.0%} of reference outputs are within atol={atol:g} of 0 "
            "(an all-zeros kernel would pass)"
        )
    if ref.numel() >= 2:
        near_mean = float(((ref - ref.mean()).abs() <= atol).double().mean())
        if near_mean > NEAR_CONSTANT_FRACTION:
            return (
                f"{near_mean:.0%} of reference outputs are within atol={atol:g} of their "
                f"mean {float(ref.mean()):.4g} (a constant-fill kernel would pass)"
            )
    return None


def bits(t: torch.Tensor) -> torch.Tensor:
    """Integer view of a tensor's bits, so NaN == NaN and -0.0 != 0.0 compare as stored."""
    t = t.detach().contiguous()
    size = t.element_size()
    int_type = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[size]
    return t.view(int_type) if t.dtype != torch.bool else t


def bit_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(bits(a), bits(b)))


def bit_differences(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return bits(a) != bits(b)


def degenerate(out: torch.Tensor, ref: torch.Tensor, inputs: list) -> str | None:
    """Why the candidate's output is a degenerate fill (rule 4), or None."""
    o, r = as64(out).flatten(), as64(ref).flatten()
    if o.numel() == 0:
        return None
    if bool(torch.isnan(o).all()) and not bool(torch.isnan(r).all()):
        return "output is all NaN"
    if bool((o == 0).all()) and not bool((r == 0).all()):
        return "output is all zeros"
    if o.numel() >= 2 and bool((o == o[0]).all()) and not bool((r == r[0]).all()):
        return (
            f"output is a constant fill ({float(o[0]):.6g}; the reference mean is "
            f"{float(r[torch.isfinite(r)].mean()):.6g})"
        )
    for index, value in enumerate(inputs):
        if (
            isinstance(value, torch.Tensor)
            and value.shape == out.shape
            and value.dtype == out.dtype
            and bit_equal(value.cpu(), out.cpu())
            and not bool(torch.equal(as64(value).flatten(), r))
        ):
            return f"output is a copy of input {index}"
    return None
