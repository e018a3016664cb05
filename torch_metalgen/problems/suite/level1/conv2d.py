"""3x3 convolution, stride 1, padding 1 (UNet / ResNet body)."""

import torch
import torch.nn as nn

batch_size = 8
in_channels = 128
out_channels = 128
height = 128
width = 128


class Model(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels]


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "8x128x128x128": dict(batch_size=8, in_channels=128, out_channels=128, height=128, width=128),
    "sd-unet-64": dict(batch_size=2, in_channels=320, out_channels=320, height=64, width=64),
}
CHECK_SHAPES = {
    "1x3x31x33": dict(batch_size=1, in_channels=3, out_channels=5, height=31, width=33),
    "2x16x9x9": dict(batch_size=2, in_channels=16, out_channels=8, height=9, width=9),
}
HELD_OUT_SHAPES = {
    "1x7x17x5": dict(batch_size=1, in_channels=7, out_channels=3, height=17, width=5)
}


def flops(inputs):
    n, c, h, w = inputs[0].shape
    return 2 * n * out_channels * h * w * c * 9
