"""The weight-only quantized linear layer the suite's ``quantized_linear_*`` problems share:
one class per format (bits, group size, mode), the problem files only choose one.

``Model`` holds a random Linear weight quantized at construction (``qweight``, ``scales``,
``biases`` buffers: what a quantized checkpoint stores) and computes the definition with
torch ops: unpack the codes, dequantize in the storage dtype, ``F.linear``. That is also
the eager baseline (PyTorch without a quantized kernel); the float16-weights baseline is
``benchmarks/quantized_decode.py``'s. ``ModelMetalgen`` calls ``metalgen::quantized_linear``
on the same buffers. Compulsory bytes (the harness default: inputs, outputs and every
buffer once) are x, y and the packed weight, which is what makes decode fast.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_metalgen.quantization import quantize_weight, unpack_codes


class QuantizedLinearModel(nn.Module):
    bits = 4
    group_size: int | None = 64
    mode = "affine"

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        weight = torch.randn(out_features, in_features) / in_features**0.5
        # bfloat16 scales and biases (kept as float32 buffers): exact in every storage dtype,
        # so the harness's float64 reference and each dtype's run use the same weight.
        packed = quantize_weight(weight, self.bits, self.group_size, self.mode, torch.bfloat16)
        self.in_features = in_features
        self.effective_group_size = packed.group_size
        self.register_buffer("qweight", packed.qweight)
        self.register_buffer("scales", packed.scales.float())
        if packed.biases is not None:
            self.register_buffer("biases", packed.biases.float())
        else:
            self.biases = None

    def dequantized_weight(self) -> torch.Tensor:
        rows = self.qweight.shape[0]
        codes = unpack_codes(self.qweight, self.bits).to(self.scales.dtype)
        codes = codes.reshape(rows, self.scales.shape[1], self.effective_group_size)
        if self.biases is None:
            weight = (codes - 2 ** (self.bits - 1)) * self.scales.unsqueeze(-1)
        else:
            weight = codes * self.scales.unsqueeze(-1) + self.biases.unsqueeze(-1)
        return weight.reshape(rows, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized_weight().to(x.dtype))


class QuantizedLinearMetalgen(QuantizedLinearModel):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.metalgen.quantized_linear(
            x,
            self.qweight,
            self.scales.to(x.dtype),
            None if self.biases is None else self.biases.to(x.dtype),
            None,
            self.bits,
            self.effective_group_size,
        )


def formats(bits: int, group_size: int | None, mode: str) -> tuple[type, type]:
    """(Model, ModelMetalgen) classes for one format."""
    settings = dict(bits=bits, group_size=group_size, mode=mode)
    model = type("Model", (QuantizedLinearModel,), settings)
    metalgen = type("ModelMetalgen", (QuantizedLinearMetalgen,), settings)
    return model, metalgen


# Shapes every format's problem uses: 7B-class decode (one token) and one prefill.
SHAPES = {
    "llama7b-decode-qkvo": dict(batch_size=1, in_features=4096, out_features=4096),
    "llama7b-decode-up": dict(batch_size=1, in_features=4096, out_features=11008),
    "llama7b-decode-down": dict(batch_size=1, in_features=11008, out_features=4096),
    "llama7b-decode-4-tokens": dict(batch_size=4, in_features=4096, out_features=4096),
    "llama7b-prefill-512": dict(batch_size=512, in_features=4096, out_features=4096),
}
CHECK_SHAPES = {
    "1x128->33": dict(batch_size=1, in_features=128, out_features=33),
    "3x256->7": dict(batch_size=3, in_features=256, out_features=7),
    "17x384->65": dict(batch_size=17, in_features=384, out_features=65),
}
HELD_OUT_SHAPES = {"5x1152->129": dict(batch_size=5, in_features=1152, out_features=129)}


def flops(batch_size: int, in_features: int, out_features: int) -> int:
    return 2 * batch_size * in_features * out_features
