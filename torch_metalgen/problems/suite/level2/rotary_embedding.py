"""Rotary position embedding on q and k, Hugging Face "rotate_half" layout (Llama's
apply_rotary_pos_emb on (seq, head_dim) cos/sin tables)."""

import torch
import torch.nn as nn

batch_size = 4
heads = 32
kv_heads = 32
seq = 2048
head_dim = 128
base = 10000.0
offset = 0  # position of the first token (decode: the context length so far)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q, k, cos, sin):
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


class ModelMetalgen(Model):
    def forward(self, q, k, cos, sin):
        return torch.ops.metalgen.rotary_embedding(q, k, cos, sin, None, base, -1, False, False)


def get_inputs():
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(offset, offset + seq, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((angles, angles), dim=-1)
    return [
        torch.randn(batch_size, heads, seq, head_dim),
        torch.randn(batch_size, kv_heads, seq, head_dim),
        emb.cos().float(),
        emb.sin().float(),
    ]


def get_init_inputs():
    return []


METALGEN_OPS = ("rotary_embedding",)
RANDOMIZED_INPUTS = (0, 1)  # cos/sin stay a rotation table
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
NEAR_CONSTANT = False
SHAPES = {
    "4x32x2048x128": dict(batch_size=4, heads=32, kv_heads=32, seq=2048),
    "llama7b-decode": dict(batch_size=1, heads=32, kv_heads=32, seq=1, offset=4095),
    "llama7b-prefill": dict(batch_size=1, heads=32, kv_heads=32, seq=512),
    "llama7b-prefill-2048": dict(batch_size=1, heads=32, kv_heads=32, seq=2048),
    "llama3-8b-decode-gqa": dict(batch_size=1, heads=32, kv_heads=8, seq=1, offset=4095),
}
CHECK_SHAPES = {
    "1x2x31x64": dict(batch_size=1, heads=2, kv_heads=1, seq=31, head_dim=64),
    "1x3x33x128": dict(batch_size=1, heads=3, kv_heads=3, seq=33, head_dim=128, offset=1000),
}
HELD_OUT_SHAPES = {"2x4x7x96": dict(batch_size=2, heads=4, kv_heads=2, seq=7, head_dim=96)}


def flops(inputs):
    return 3 * (inputs[0].numel() + inputs[1].numel())


def compulsory_bytes(inputs, outputs, params):
    # q, k and the (seq, head_dim) cos/sin tables read once, q_out and k_out written once.
    # At decode the tables are 1/32 of q (Llama-7B: 2 x 256 B of 16 KiB per token).
    return sum(t.numel() * t.element_size() for t in (*inputs, *outputs))
