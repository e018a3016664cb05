"""Linear layer with bias followed by GELU (a transformer MLP's first half, unfused)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 2048
in_features = 4096
out_features = 4096


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return F.gelu(self.linear(x))


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "2048x4096x4096": dict(batch_size=2048, in_features=4096, out_features=4096),
    "vit-b-mlp": dict(batch_size=32 * 197, in_features=768, out_features=3072),
}
CHECK_SHAPES = {
    "31x33->17": dict(batch_size=31, in_features=33, out_features=17),
    "1x1000->65": dict(batch_size=1, in_features=1000, out_features=65),
}
HELD_OUT_SHAPES = {"5x257->129": dict(batch_size=5, in_features=257, out_features=129)}


def flops(inputs):
    return (
        2 * inputs[0].shape[0] * in_features * out_features + 10 * inputs[0].shape[0] * out_features
    )
