"""Drop-in modules. Their forwards read only Hugging Face attribute names (``weight``,
``variance_epsilon``), so the same forward can be bound onto an existing HF instance."""

from __future__ import annotations

import torch

from torch_metalgen.functional import rms_norm
from torch_metalgen.quantization.module import QuantizedLinear

__all__ = ["QuantizedLinear", "RMSNorm"]


class RMSNorm(torch.nn.Module):
    """RMSNorm over the last dimension, like ``LlamaRMSNorm``: ``weight * x / rms(x)``.

    Args:
        hidden_size: length of the normalized (last) dimension.
        eps: added to the mean square (stored as ``variance_epsilon``, HF's name).
        elementwise_affine: learnable ``weight`` initialised to ones; ``False`` for none.
    """

    def __init__(
        self,
        hidden_size: int,
        eps: float = 1e-6,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"RMSNorm: hidden_size must be a positive int, got {hidden_size!r}")
        self.hidden_size = hidden_size
        self.variance_epsilon = float(eps)
        if elementwise_affine:
            self.weight = torch.nn.Parameter(torch.ones(hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return rms_norm(hidden_states, self.weight, self.variance_epsilon)

    def extra_repr(self) -> str:
        return f"{self.hidden_size}, eps={self.variance_epsilon}"
