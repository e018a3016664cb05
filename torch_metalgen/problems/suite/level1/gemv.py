"""Matrix-vector product of a linear layer at batch 1 (LLM decode): y = x @ W^T."""

import torch
import torch.nn as nn

batch_size = 1
in_features = 4096
out_features = 11008


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)

    def forward(self, x):
        return self.linear(x)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "llama7b-decode-up": dict(in_features=4096, out_features=11008),
    "llama7b-decode-down": dict(in_features=11008, out_features=4096),
    "llama7b-decode-qkv": dict(in_features=4096, out_features=3 * 4096),
}
CHECK_SHAPES = {
    "31->33": dict(in_features=31, out_features=33),
    "1000->7": dict(in_features=1000, out_features=7),
    "4097->65": dict(in_features=4097, out_features=65),
}
HELD_OUT_SHAPES = {"2999->129": dict(in_features=2999, out_features=129)}


def flops(inputs):
    return 2 * inputs[0].shape[0] * in_features * out_features
