"""Softmax over the last dim (attention probabilities, vocabulary logits)."""

import torch
import torch.nn as nn

batch_size = 8192
dim = 4096


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=-1)


class ModelMetalgen(Model):
    def forward(self, x):
        return torch.ops.metalgen.softmax(x, 1.0, None, False, False)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []


METALGEN_OPS = ("softmax",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
# A 152k-vocabulary row averages 1/152064 = 6.6e-6, under float32's atol (1e-5), so the
# near-constant filter fires there for the native inputs (seen on the CUDA tier): that case
# is skipped; the other distributions check the shape with atol scaled to the outputs. Rows
# up to 32k stay above atol and are checked by every distribution (rule 3).
NEAR_CONSTANT = True
SHAPES = {
    "8192x4096": dict(batch_size=8192, dim=4096),
    "llama7b-prefill-probs": dict(batch_size=32 * 512, dim=512),
    "llama-vocab": dict(batch_size=64, dim=32000),
    "qwen2-vocab-decode": dict(batch_size=1, dim=152064),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, dim=31),
    "3x33": dict(batch_size=3, dim=33),
    "5x1000": dict(batch_size=5, dim=1000),
    "2x4097": dict(batch_size=2, dim=4097),
}
HELD_OUT_SHAPES = {"13x2999": dict(batch_size=13, dim=2999)}


def flops(inputs):
    return 5 * inputs[0].numel()
