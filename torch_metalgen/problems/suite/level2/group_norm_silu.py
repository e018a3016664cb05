"""GroupNorm then SiLU, as every diffusion UNet / VAE ResBlock starts: fused, the output is
written once instead of written, read and written again."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 2
channels = 320
height = 64
width = 64
groups = 32
eps = 1e-5


class Model(nn.Module):
    def __init__(self, channels, groups, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.groups = groups
        self.eps = eps

    def forward(self, x):
        return F.silu(F.group_norm(x, self.groups, self.weight, self.bias, self.eps))


class ModelMetalgen(Model):
    def forward(self, x):
        return torch.ops.metalgen.group_norm(x, self.groups, self.weight, self.bias, self.eps, True)


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [channels, groups, eps]


METALGEN_OPS = ("group_norm",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
NEAR_CONSTANT = False
SHAPES = {
    "sd15-unet-64x64": dict(batch_size=2, channels=320, height=64, width=64),
    "sd15-unet-8x8": dict(batch_size=2, channels=1280, height=8, width=8),
    "sd-vae-decoder-512": dict(batch_size=1, channels=128, height=512, width=512),
}
CHECK_SHAPES = {
    "1x32x1x2": dict(batch_size=1, channels=32, height=1, width=2),
    "2x64x7x9": dict(batch_size=2, channels=64, height=7, width=9),
}
HELD_OUT_SHAPES = {"1x96x17x23": dict(batch_size=1, channels=96, height=17, width=23)}


def flops(inputs):
    return 12 * inputs[0].numel()
