"""A Llama-style decoder layer: RMSNorm, attention with RoPE and a KV cache, SwiGLU MLP.

Decode (one new token over a cache) and prefill (a prompt, empty cache) shapes of a 7B-class
model: hidden 4096, 32 heads of 128, intermediate 11008.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 1
seq = 512  # new tokens
past = 0  # cached tokens
hidden = 4096
heads = 32
head_dim = 128
intermediate = 11008
eps = 1e-6


def rms_norm(x, weight, eps):
    acc = torch.promote_types(x.dtype, torch.float32)
    xf = x.to(acc)
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.to(acc)).to(x.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Model(nn.Module):
    def __init__(self, hidden, heads, head_dim, intermediate, eps):
        super().__init__()
        self.heads, self.head_dim, self.eps = heads, head_dim, eps
        self.input_norm = nn.Parameter(torch.ones(hidden))
        self.post_norm = nn.Parameter(torch.ones(hidden))
        self.qkv = nn.Linear(hidden, 3 * heads * head_dim, bias=False)
        self.o = nn.Linear(heads * head_dim, hidden, bias=False)
        self.gate_up = nn.Linear(hidden, 2 * intermediate, bias=False)
        self.down = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x, k_cache, v_cache, cos, sin):
        b, s, _ = x.shape
        h = rms_norm(x, self.input_norm, self.eps)
        q, k, v = self.qkv(h).view(b, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat((k_cache, k), dim=2)
        v = torch.cat((v_cache, v), dim=2)
        p = k_cache.shape[2]
        mask = torch.ones(s, p + s, dtype=torch.bool, device=x.device).tril(p)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.o(attn.transpose(1, 2).reshape(b, s, -1))
        gate, up = self.gate_up(rms_norm(x, self.post_norm, self.eps)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


def get_inputs():
    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(past, past + seq, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((angles, angles), dim=-1)
    return [
        torch.randn(batch_size, seq, hidden),
        torch.randn(batch_size, heads, past, head_dim),
        torch.randn(batch_size, heads, past, head_dim),
        emb.cos().float(),
        emb.sin().float(),
    ]


def get_init_inputs():
    return [hidden, heads, head_dim, intermediate, eps]


RANDOMIZED_INPUTS = (0, 1, 2)
DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {
    "llama7b-decode-ctx1024": dict(batch_size=1, seq=1, past=1024),
    "llama7b-prefill-512": dict(batch_size=1, seq=512, past=0),
}
CHECK_SHAPES = {
    "tiny-prefill-31": dict(seq=31, past=0, hidden=128, heads=4, head_dim=32, intermediate=344),
    "tiny-decode-33": dict(seq=1, past=33, hidden=128, heads=2, head_dim=64, intermediate=200),
}
HELD_OUT_SHAPES = {
    "tiny-chunk-7-past-9": dict(seq=7, past=9, hidden=96, heads=3, head_dim=32, intermediate=255)
}


def flops(inputs):
    tokens = inputs[0].shape[0] * inputs[0].shape[1]
    weights = 4 * hidden * heads * head_dim + 3 * hidden * intermediate
    context = past + seq
    return 2 * tokens * weights + 4 * tokens * heads * head_dim * context
