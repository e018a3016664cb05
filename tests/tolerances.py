"""One comparison helper and the per-dtype tolerance table for every op test.

Starting points from reference/verification.md (torch.testing defaults, MLX tests), widened
only where the kernel's single final rounding differs from the reference's rounding.
"""

from __future__ import annotations

import torch

# dtype -> (rtol, atol) against the float64 reference.
TOLERANCES = {
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-3, 1e-4),
    torch.bfloat16: (1.6e-2, 1e-3),
}
# The relative-norm error ||out - ref|| / ||ref|| must also stay below this.
RELATIVE_NORM = {torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}


def assert_close_to_reference(actual: torch.Tensor, reference64: torch.Tensor) -> None:
    """Elementwise per-dtype tolerance plus a relative-norm bound, vs a float64 reference."""
    assert actual.shape == reference64.shape, (actual.shape, reference64.shape)
    rtol, atol = TOLERANCES[actual.dtype]
    torch.testing.assert_close(actual.double(), reference64, rtol=rtol, atol=atol)
    denominator = reference64.norm().item()
    if denominator > 0:
        relative = (actual.double() - reference64).norm().item() / denominator
        assert relative <= RELATIVE_NORM[actual.dtype], f"relative-norm error {relative:.3g}"
