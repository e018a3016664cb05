"""Attention probabilities: softmax(scores * scale + causal_mask) over the last dim."""

import math

import torch
import torch.nn as nn

batch_size = 4
heads = 32
seq = 1024
head_dim = 128


class Model(nn.Module):
    def __init__(self, head_dim):
        super().__init__()
        self.scale = 1 / math.sqrt(head_dim)

    def forward(self, scores, mask):
        return torch.softmax(scores * self.scale + mask, dim=-1)


class ModelMetalgen(Model):
    """One launch: scale, the broadcast mask and the softmax fused (eager runs three)."""

    def forward(self, scores, mask):
        return torch.ops.metalgen.softmax(scores, self.scale, mask, False, False)


def get_inputs():
    scores = torch.randn(batch_size, heads, seq, seq) * math.sqrt(head_dim)
    mask = torch.full((seq, seq), float("-inf")).triu(1)
    return [scores, mask]


def get_init_inputs():
    return [head_dim]


RANDOMIZED_INPUTS = (0,)  # the mask stays a causal mask
METALGEN_OPS = ("softmax",)
DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "4x32x1024": dict(batch_size=4, heads=32, seq=1024),
    "llama7b-prefill": dict(batch_size=1, heads=32, seq=512),
}
CHECK_SHAPES = {
    "1x2x31": dict(batch_size=1, heads=2, seq=31),
    "1x1x33": dict(batch_size=1, heads=1, seq=33),
    "2x3x100": dict(batch_size=2, heads=3, seq=100),
}
HELD_OUT_SHAPES = {"1x4x257": dict(batch_size=1, heads=4, seq=257)}


def flops(inputs):
    return 7 * inputs[0].numel()
