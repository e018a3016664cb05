"""LayerNorm over the last dim with weight and bias (two-pass mean / centered variance)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16384
hidden = 4096
eps = 1e-5


class Model(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class ModelMetalgen(Model):
    def forward(self, x):
        return torch.ops.metalgen.layer_norm(x, self.weight, self.bias, self.eps)


def get_inputs():
    return [torch.randn(batch_size, hidden)]


def get_init_inputs():
    return [hidden, eps]


METALGEN_OPS = ("layer_norm",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True  # a row holding inf or NaN normalizes to NaN: defined
NEAR_CONSTANT = False
SHAPES = {
    "16k-x-4096": dict(batch_size=16384, hidden=4096),
    "vit-b-tokens": dict(batch_size=32 * 197, hidden=768),
    "gpt2-decode": dict(batch_size=1, hidden=768),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, hidden=31),
    "3x33": dict(batch_size=3, hidden=33),
    "5x1000": dict(batch_size=5, hidden=1000),
    "2x4097": dict(batch_size=2, hidden=4097),
}
HELD_OUT_SHAPES = {  # never used while tuning
    "11x6000": dict(batch_size=11, hidden=6000),
    "129x384": dict(batch_size=129, hidden=384),
}


def flops(inputs):
    return 7 * inputs[0].numel()
