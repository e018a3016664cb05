"""Drop-in modules. Their forwards read only Hugging Face attribute names (``weight``,
``variance_epsilon``), so the same forward can be bound onto an existing HF instance."""

from __future__ import annotations

import torch

from torch_metalgen.functional import rms_norm
from torch_metalgen.quantization.module import QuantizedLinear

__all__ = ["QuantizedLinear", "RMSNorm"]


CASTING_MODES = ("gemma", "llama")


class RMSNorm(torch.nn.Module):
    """RMSNorm over the last dimension: ``(offset + weight) * x / rms(x)``.

    Args:
        hidden_size: length of the normalized (last) dimension.
        eps: added to the mean square (stored as ``variance_epsilon``, HF's name).
        elementwise_affine: learnable ``weight`` (ones, or zeros with an offset, so a new
            module is the identity scale either way); ``False`` for none.
        offset: added to the weight: ``1.0`` is Gemma's ``(1 + weight)``, whose checkpoints
            store ``weight - 1``.
        casting_mode: how a float16/bfloat16 result is rounded. ``"llama"`` rounds the
            normalized value to the input dtype, then multiplies by the weight (Llama,
            Mistral, Qwen, Phi-3, T5: the same bits as ``LlamaRMSNorm``); ``"gemma"``
            multiplies in float32 and rounds once (Gemma, OLMo 2, ``torch.nn.RMSNorm``). The
            two agree in float32.
    """

    def __init__(
        self,
        hidden_size: int,
        eps: float = 1e-6,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        offset: float = 0.0,
        casting_mode: str = "gemma",
    ) -> None:
        super().__init__()
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"RMSNorm: hidden_size must be a positive int, got {hidden_size!r}")
        if casting_mode not in CASTING_MODES:
            raise ValueError(
                f"RMSNorm: casting_mode must be one of {CASTING_MODES}, got {casting_mode!r}"
            )
        if offset and not elementwise_affine:
            raise ValueError("RMSNorm: offset needs a weight (elementwise_affine=True)")
        self.hidden_size = hidden_size
        self.variance_epsilon = float(eps)
        self.offset = float(offset)
        self.casting_mode = casting_mode
        if elementwise_affine:
            initial = torch.full((hidden_size,), 1.0 - self.offset, device=device, dtype=dtype)
            self.weight = torch.nn.Parameter(initial)
        else:
            self.register_parameter("weight", None)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return rms_norm(
            hidden_states, self.weight, self.variance_epsilon, self.offset, self.casting_mode
        )

    def extra_repr(self) -> str:
        options = f", offset={self.offset}" if self.offset else ""
        options += f", casting_mode={self.casting_mode!r}" if self.casting_mode != "gemma" else ""
        return f"{self.hidden_size}, eps={self.variance_epsilon}{options}"
