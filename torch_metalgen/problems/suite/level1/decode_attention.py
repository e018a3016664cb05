"""Decode attention over a KV cache: one new token per sequence of a 7B-class model with
grouped-query attention (32 query heads over 8 KV heads of 128: Llama 3 8B, Mistral 7B) at
1k, 4k, 16k and 32k cached tokens, in Hugging Face's cache layout.

Bandwidth-bound: the compulsory bytes are K and V read once (2 x 8 x keys x 128 elements,
16 MiB at 4k keys in fp16), q read and the output written once; a kernel that reads K and V
once per query head instead (repeat_kv) moves 4x that.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 1
heads = 32
kv_heads = 8
queries = 1
keys = 4096
head_dim = 128


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q, k, v):
        # One query (or a few, non-causal) per head: every cached key is visible.
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


class ModelMetalgen(Model):
    def forward(self, q, k, v):
        return torch.ops.metalgen.decode_attention(q, k, v, None, None, False, 0, 0.0)


def get_inputs():
    return [
        torch.randn(batch_size, heads, queries, head_dim),
        torch.randn(batch_size, kv_heads, keys, head_dim),
        torch.randn(batch_size, kv_heads, keys, head_dim),
    ]


def get_init_inputs():
    return []


METALGEN_OPS = ("decode_attention",)
DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False  # weighted means of ~N(0, 1) values over up to 32k keys, |out| ~ 0.01-1
SHAPES = {
    "7b-decode-kv1k": dict(keys=1024),
    "7b-decode-kv4k": dict(keys=4096),
    "7b-decode-kv16k": dict(keys=16384),
    "7b-decode-kv32k": dict(keys=32768),
}
CHECK_SHAPES = {
    "h4-kv2-k33-d64": dict(heads=4, kv_heads=2, keys=33, head_dim=64),
    "h8-kv1-q3-k257-d80": dict(heads=8, kv_heads=1, queries=3, keys=257, head_dim=80),
    "h2-kv2-k1-d256": dict(heads=2, kv_heads=2, keys=1, head_dim=256),
    "h6-kv3-k1031-d96": dict(heads=6, kv_heads=3, keys=1031, head_dim=96),
}
HELD_OUT_SHAPES = {
    "h12-kv4-q5-k613-d128": dict(heads=12, kv_heads=4, queries=5, keys=613, head_dim=128)
}


def flops(inputs):
    q, k, _ = inputs
    return 4 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * q.shape[3]


def compulsory_bytes(inputs, outputs, params):
    # q, K and V read once (K and V once per KV head, not per query head), out written once.
    return sum(t.numel() * t.element_size() for t in (*inputs, *outputs))
