"""Inputs for the rotary_embedding tests, as Hugging Face's attention makes them: q and k
are ``proj(x).view(batch, seq, heads, head_dim).transpose(1, 2)`` views, cos/sin come from a
float32 inv_freq and angles (``LlamaRotaryEmbedding``) rounded to the model dtype."""

from __future__ import annotations

import torch

from torch_metalgen._generated.references import REFERENCES


def projection_view(batch, heads, seq, head_dim, dtype, generator, values=None) -> torch.Tensor:
    """A (batch, heads, seq, head_dim) view of a (batch, seq, heads * head_dim) projection."""
    flat = torch.randn(batch, seq, heads * head_dim, generator=generator, dtype=torch.float64)
    if values is not None:
        flat = values((batch, seq, heads * head_dim), generator)
    return flat.to(dtype).view(batch, seq, heads, head_dim).transpose(1, 2)


def tables(batch, seq, rotary_dim, dtype, offset=0, base=10000.0, interleaved=False):
    """HF's cos, sin: (batch, seq, rotary_dim), float32 math, rounded to dtype."""
    inv_freq = 1.0 / (
        base ** (torch.arange(0, rotary_dim, 2, dtype=torch.int64).float() / rotary_dim)
    )
    positions = torch.arange(offset, offset + seq).expand(batch, seq)
    angles = positions[..., None].float() * inv_freq
    if interleaved:
        angles = angles.repeat_interleave(2, -1)
    else:
        angles = torch.cat((angles, angles), -1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def case(
    batch=2,
    q_heads=4,
    k_heads=2,
    seq=5,
    head_dim=64,
    rotary_dim=None,
    dtype=torch.float32,
    seed=0,
    offset=0,
    interleaved=False,
    values=None,
):
    """(q, k, cos, sin) in HF's layout; rotary_dim defaults to head_dim."""
    generator = torch.Generator().manual_seed(seed)
    rotary_dim = head_dim if rotary_dim is None else rotary_dim
    q = projection_view(batch, q_heads, seq, head_dim, dtype, generator, values)
    k = projection_view(batch, k_heads, seq, head_dim, dtype, generator, values)
    cos, sin = tables(batch, seq, rotary_dim, dtype, offset, interleaved=interleaved)
    return q, k, cos, sin


def reference64(q, k, cos, sin, positions=None, base=10000.0, rotary_dim=-1, interleaved=False):
    """The float64 definition (round_products rounds nothing in float64)."""
    double = [None if t is None else t.double() for t in (q, k, cos, sin)]
    return REFERENCES["rotary_embedding"](*double, positions, base, rotary_dim, interleaved, False)


def ulp(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The spacing of `dtype` at |values| (float64), at least its smallest normal's."""
    info = torch.finfo(dtype)
    magnitude = values.abs().clamp_min(info.tiny)
    return torch.exp2(torch.floor(torch.log2(magnitude))) * info.eps


def products_rounding_bound(q, cos, sin, interleaved=False):
    """Per element, the most HF's storage-dtype arithmetic (each product rounded, then
    the sum) can differ from the exact result: half an ulp of each product and of the sum."""
    rot = cos.shape[-1]
    x = q.double()[..., :rot]
    if interleaved:
        rotated = torch.stack((-x[..., 1::2], x[..., 0::2]), -1).flatten(-2)
    else:
        rotated = torch.cat((-x[..., rot // 2 :], x[..., : rot // 2]), -1)
    c = (cos if cos.dim() == 3 else cos.unsqueeze(0)).double().unsqueeze(1)
    s = (sin if sin.dim() == 3 else sin.unsqueeze(0)).double().unsqueeze(1)
    first, second = x * c, rotated * s
    total = (first + second).abs() + ulp(first, q.dtype) / 2 + ulp(second, q.dtype) / 2
    return (ulp(first, q.dtype) + ulp(second, q.dtype) + ulp(total, q.dtype)) / 2
