"""QuantizedLinear: an nn.Linear whose weight is stored packed (int4/int8, MLX's layout)."""

from __future__ import annotations

import torch

from torch_metalgen.functional import dequantize_weight, quantized_linear
from torch_metalgen.quantization.format import check_format, quantize_weight


class QuantizedLinear(torch.nn.Module):
    """``y = x @ W^T + bias`` with W held as ``qweight``/``scales``/``biases`` buffers.

    Build one with :meth:`from_linear` (or load a state dict into one built with the
    format). The buffers' names are the state-dict keys: ``qweight`` (uint32),
    ``scales``, ``biases`` (affine mode only), ``bias`` (if the layer has one). The forward
    runs ``torch_metalgen.quantized_linear``: the Metal kernels on ``mps``, the simulator
    under ``torch_metalgen.sim.simulate()``, an ATen reference elsewhere. ``model.to(dtype)``
    converts scales, biases and bias with the rest of the model; inputs of another dtype
    are served by converting those buffers per call (convert the model instead).

    Args:
        in_features, out_features: the layer's sizes.
        bits: 4 or 8. group_size: a multiple of 32 dividing in_features, or None (one
        group per output channel). mode: "affine" or "symmetric". bias: whether the layer
        has a bias. dtype: of scales, biases and bias.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bits: int = 4,
        group_size: int | None = 64,
        mode: str = "affine",
        bias: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"QuantizedLinear: {name} must be a positive int, got {value!r}")
        group_size = check_format(bits, group_size, mode, in_features, "QuantizedLinear")
        self.in_features = in_features
        self.out_features = out_features
        self.bits = bits
        self.group_size = group_size
        self.mode = mode
        dtype = dtype or torch.get_default_dtype()
        groups = in_features // group_size
        words = in_features * bits // 32
        self.register_buffer(
            "qweight", torch.zeros(out_features, words, dtype=torch.uint32, device=device)
        )
        self.register_buffer("scales", torch.ones(out_features, groups, dtype=dtype, device=device))
        if mode == "affine":
            self.register_buffer(
                "biases", torch.zeros(out_features, groups, dtype=dtype, device=device)
            )
        else:
            self.biases = None
        if bias:
            self.register_buffer("bias", torch.zeros(out_features, dtype=dtype, device=device))
        else:
            self.bias = None

    @classmethod
    def from_linear(
        cls,
        linear: torch.nn.Linear,
        bits: int = 4,
        group_size: int | None = 64,
        mode: str = "affine",
        dtype: torch.dtype | None = None,
    ) -> QuantizedLinear:
        """A QuantizedLinear computing ``linear`` with its weight quantized by
        ``torch_metalgen.quantize_weight(linear.weight, bits, group_size, mode, dtype)``;
        on linear's device, scales/biases/bias of ``dtype`` (default the weight's).
        transformers' ``Conv1D`` (GPT-2's projections: a linear with a transposed weight)
        is accepted too."""
        weight = linear_weight(linear)
        if weight is None:
            raise TypeError(
                f"QuantizedLinear.from_linear: linear must be a torch.nn.Linear (or "
                f"transformers' Conv1D), got {type(linear).__name__}"
            )
        dtype = dtype or weight.dtype
        packed = quantize_weight(weight, bits, group_size, mode, dtype)
        out_features, in_features = weight.shape
        module = cls(
            in_features,
            out_features,
            bits,
            packed.group_size,
            mode,
            bias=linear.bias is not None,
            device="meta",
            dtype=dtype,
        )
        module.qweight = packed.qweight
        module.scales = packed.scales
        module.biases = packed.biases
        if linear.bias is not None:
            module.bias = linear.bias.detach().to(dtype).clone()
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scales, biases, bias = self.scales, self.biases, self.bias
        if scales.dtype != x.dtype:  # per-call conversion; model.to(dtype) avoids it
            scales = scales.to(x.dtype)
            biases = None if biases is None else biases.to(x.dtype)
            bias = None if bias is None else bias.to(x.dtype)
        return quantized_linear(x, self.qweight, scales, biases, bias, self.bits, self.group_size)

    def dequantized_weight(self) -> torch.Tensor:
        """The (out_features, in_features) weight this layer computes with, scales' dtype."""
        return dequantize_weight(self.qweight, self.scales, self.biases, self.bits, self.group_size)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bits={self.bits}, group_size={self.group_size}, mode={self.mode}, "
            f"bias={self.bias is not None}"
        )


def linear_weight(module: torch.nn.Module) -> torch.Tensor | None:
    """The (out_features, in_features) weight of an ``nn.Linear`` or of transformers'
    ``Conv1D`` (whose weight is stored (in_features, out_features)); None for anything else."""
    if isinstance(module, torch.nn.Linear):
        return module.weight.detach()
    is_conv1d = type(module).__name__ == "Conv1D" and type(module).__module__.startswith(
        "transformers."
    )
    if is_conv1d and getattr(module, "weight", None) is not None and module.weight.dim() == 2:
        return module.weight.detach().t()
    return None
