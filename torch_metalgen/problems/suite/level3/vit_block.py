"""A ViT encoder block (pre-norm): LayerNorm, multi-head self-attention, LayerNorm, GELU MLP."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 32
tokens = 197
dim = 768
heads = 12
mlp_ratio = 4


class Model(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (
            self.qkv(self.norm1(x))
            .view(b, n, 3, self.heads, d // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        attn = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def get_inputs():
    return [torch.randn(batch_size, tokens, dim)]


def get_init_inputs():
    return [dim, heads, mlp_ratio]


DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = {"vit-b16-224-b32": dict(batch_size=32, tokens=197, dim=768, heads=12)}
CHECK_SHAPES = {
    "tiny-31": dict(batch_size=1, tokens=31, dim=64, heads=2),
    "tiny-33": dict(batch_size=2, tokens=33, dim=96, heads=3),
}
HELD_OUT_SHAPES = {"tiny-50": dict(batch_size=1, tokens=50, dim=128, heads=4)}


def flops(inputs):
    b, n, d = inputs[0].shape
    return 2 * b * n * (4 * d * d + 2 * mlp_ratio * d * d) + 4 * b * n * n * d
