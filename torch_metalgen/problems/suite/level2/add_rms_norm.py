"""Residual add + RMSNorm (fused in vLLM / llama.cpp): returns (norm(x + r), x + r).

Eager adds in the storage dtype (one rounding), then normalizes in float32 and multiplies by
the weight before rounding once: metalgen::add_rms_norm with its default Gemma-style casting
does the same in one pass.
"""

import torch
import torch.nn as nn

batch_size = 16384
hidden = 4096
eps = 1e-6


class Model(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x, residual):
        h = x + residual
        acc = torch.promote_types(h.dtype, torch.float32)
        hf = h.to(acc)
        y = hf * torch.rsqrt(hf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.to(acc)).to(h.dtype), h


class ModelMetalgen(Model):
    """The fused op: x, residual and weight read once, both outputs written once."""

    def forward(self, x, residual):
        return torch.ops.metalgen.add_rms_norm(x, residual, self.weight, self.eps)


def get_inputs():
    return [torch.randn(batch_size, hidden), torch.randn(batch_size, hidden)]


def get_init_inputs():
    return [hidden, eps]


METALGEN_OPS = ("add_rms_norm",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
NEAR_CONSTANT = False
SHAPES = {
    "16k-x-4096": dict(batch_size=16384, hidden=4096),
    "llama7b-decode": dict(batch_size=1, hidden=4096),
    "llama7b-prefill": dict(batch_size=2048, hidden=4096),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, hidden=31),
    "3x33": dict(batch_size=3, hidden=33),
    "2x4097": dict(batch_size=2, hidden=4097),
}
HELD_OUT_SHAPES = {"9x8191": dict(batch_size=9, hidden=8191)}


def flops(inputs):
    return 5 * inputs[0].numel()  # add, square, sum, scale, weight


def compulsory_bytes(inputs, outputs, params):
    # x and residual read once, the weight once, the normalized output and the sum written
    # once: 4 row-sized tensors and a weight (an unfused add + norm moves 5 row-sized ones:
    # the add reads 2 and writes 1, the norm reads the sum again and writes 1).
    return sum(t.numel() * t.element_size() for t in (*inputs, *outputs, *params))
