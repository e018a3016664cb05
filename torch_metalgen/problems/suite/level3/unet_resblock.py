"""A UNet residual block (Stable Diffusion style): GroupNorm, SiLU, 3x3 conv, twice, plus skip."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 2
channels = 320
height = 64
width = 64
groups = 32


class Model(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels, eps=1e-5)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels, eps=1e-5)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [channels, groups]


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {"sd15-64x64-320": dict(batch_size=2, channels=320, height=64, width=64, groups=32)}
CHECK_SHAPES = {
    "tiny-31x33": dict(batch_size=1, channels=16, height=31, width=33, groups=4),
    "tiny-9x9": dict(batch_size=2, channels=24, height=9, width=9, groups=8),
}
HELD_OUT_SHAPES = {"tiny-17x5": dict(batch_size=1, channels=12, height=17, width=5, groups=3)}


def flops(inputs):
    n, c, h, w = inputs[0].shape
    return 2 * (2 * n * c * h * w * c * 9)
