"""Dense matrix product C = A @ B."""

import torch
import torch.nn as nn

M = 2048
K = 4096
N = 4096


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return a @ b


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "2048x4096x4096": dict(M=2048, K=4096, N=4096),
    "llama7b-prefill-up": dict(M=512, K=4096, N=11008),
}
CHECK_SHAPES = {
    "31x33x17": dict(M=31, K=33, N=17),
    "1x1000x33": dict(M=1, K=1000, N=33),
    "65x257x129": dict(M=65, K=257, N=129),
}
HELD_OUT_SHAPES = {"100x4097x3": dict(M=100, K=4097, N=3)}


def flops(inputs):
    a, b = inputs
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]
