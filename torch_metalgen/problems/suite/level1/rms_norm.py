"""RMSNorm over the last dim (Llama): y = x * rsqrt(mean(x^2) + eps) * weight.

Accumulates in float32 whatever the storage dtype (the op contract); the reference stays
dtype-generic so the harness's float64 copy is float64 throughout.
"""

import torch
import torch.nn as nn

batch_size = 16384  # rows (tokens)
hidden = 4096
eps = 1e-6


class Model(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        acc = torch.promote_types(x.dtype, torch.float32)
        xf = x.to(acc)
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.to(acc)).to(x.dtype)


class ModelMetalgen(Model):
    def forward(self, x):
        return torch.ops.metalgen.rms_norm(x, self.weight, self.eps)


def get_inputs():
    return [torch.randn(batch_size, hidden)]


def get_init_inputs():
    return [hidden, eps]


METALGEN_OPS = ("rms_norm",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True  # a row holding inf or NaN normalizes to NaN: defined
NEAR_CONSTANT = False
SHAPES = {
    "16k-x-4096": dict(batch_size=16384, hidden=4096),  # ~1-15 ms on M-series
    "llama7b-decode": dict(batch_size=1, hidden=4096),
    "llama7b-prefill": dict(batch_size=2048, hidden=4096),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, hidden=31),
    "3x33": dict(batch_size=3, hidden=33),
    "5x1000": dict(batch_size=5, hidden=1000),
    "2x4097": dict(batch_size=2, hidden=4097),
    "7x128": dict(batch_size=7, hidden=128),
}
HELD_OUT_SHAPES = {  # never used while tuning
    "9x8191": dict(batch_size=9, hidden=8191),
    "257x2048": dict(batch_size=257, hidden=2048),
}


def flops(inputs):
    return 4 * inputs[0].numel()  # square, sum, scale, weight
