"""Scaled dot-product attention, (batch, heads, seq, head_dim); causal for prefill."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4
heads = 32
q_len = 1024
kv_len = 1024
head_dim = 128
causal = True


class Model(nn.Module):
    def __init__(self, causal):
        super().__init__()
        self.causal = causal

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)


def get_inputs():
    return [
        torch.randn(batch_size, heads, q_len, head_dim),
        torch.randn(batch_size, heads, kv_len, head_dim),
        torch.randn(batch_size, heads, kv_len, head_dim),
    ]


def get_init_inputs():
    return [causal]


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "4x32x1024-causal": dict(batch_size=4, q_len=1024, kv_len=1024, causal=True),
    "llama7b-prefill": dict(batch_size=1, q_len=512, kv_len=512, causal=True),
    "llama7b-decode-4k": dict(batch_size=1, q_len=1, kv_len=4096, causal=False),
}
CHECK_SHAPES = {
    "h2-q33-k33": dict(batch_size=1, heads=2, q_len=33, kv_len=33, head_dim=64),
    "h3-q1-k1000": dict(batch_size=1, heads=3, q_len=1, kv_len=1000, head_dim=128, causal=False),
    "b2-h1-q31-k31-d128": dict(batch_size=2, heads=1, q_len=31, kv_len=31, head_dim=128),
}
HELD_OUT_SHAPES = {
    "h4-q7-k257": dict(batch_size=1, heads=4, q_len=7, kv_len=257, head_dim=64, causal=False)
}


def flops(inputs):
    q, k, _ = inputs
    full = 4 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * q.shape[3]
    return full / 2 if causal and q.shape[2] == k.shape[2] else full
