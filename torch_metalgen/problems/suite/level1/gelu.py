"""GELU (exact, erf form), elementwise."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16384
dim = 16384


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.gelu(x)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []


DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
NEAR_CONSTANT = False
SHAPES = {
    "8k-x-16k": dict(batch_size=8192, dim=16384),
    "llama7b-prefill-mlp": dict(batch_size=2048, dim=11008),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, dim=31),
    "3x33": dict(batch_size=3, dim=33),
    "5x4097": dict(batch_size=5, dim=4097),
}
HELD_OUT_SHAPES = {"7x3001": dict(batch_size=7, dim=3001)}


def flops(inputs):
    return 8 * inputs[0].numel()
