"""Packed weights for the quantized-op tests: the formats under test and random or
representable weights in each, built with the package's own quantize_weight."""

from __future__ import annotations

import torch

from torch_metalgen.quantization import QuantizedWeight, pack_codes, quantize_weight

# (name, bits, mode, group_size); group_size None = one group per output channel.
FORMATS = [
    ("int4-affine-g32", 4, "affine", 32),
    ("int4-affine-g64", 4, "affine", 64),
    ("int4-affine-g128", 4, "affine", 128),
    ("int4-symmetric-g64", 4, "symmetric", 64),
    ("int8-affine-g64", 8, "affine", 64),
    ("int8-symmetric-channel", 8, "symmetric", None),
    ("int8-affine-g128", 8, "affine", 128),
]
FORMAT_IDS = [f[0] for f in FORMATS]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def random_weight(rows: int, in_features: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    """A Linear-like weight with a nonzero mean, one outlier row and one all-zero group."""
    generator = torch.Generator().manual_seed(seed)
    w = 0.05 * torch.randn(rows, in_features, generator=generator) + 0.01
    w[rows // 2] *= 30.0
    w[0, :32] = 0.0
    return w.to(dtype)


def packed(rows, in_features, bits, mode, group_size, dtype, seed=0) -> QuantizedWeight:
    return quantize_weight(random_weight(rows, in_features, seed, dtype), bits, group_size, mode)


def representable(rows, in_features, bits, mode, group_size, dtype, seed=0) -> torch.Tensor:
    """A weight the format holds exactly: per group w = s * (q + k) with s a power of two,
    codes q covering their whole range (so both ends of the group are hit) and k an integer
    offset (affine; MLX's algorithm makes the bias a whole number of steps), or
    w = s * (q - 2^(bits-1)) with |q - 2^(bits-1)| reaching 2^(bits-1) - 1 (symmetric).
    Every value has at most 8 significant bits: exact in float16 and bfloat16."""
    generator = torch.Generator().manual_seed(seed)
    group_size = group_size or in_features
    groups = in_features // group_size
    levels = 2**bits - 1
    zero = 2 ** (bits - 1)
    exponent = torch.randint(-9, -3, (rows, groups, 1), generator=generator)
    step = torch.pow(2.0, exponent.double())
    if mode == "affine":
        codes = torch.randint(0, levels + 1, (rows, groups, group_size), generator=generator)
        codes[..., 0], codes[..., 1] = 0, levels
        # q + k in [-levels, levels]: both signs of edge, 0 included.
        offset = torch.randint(-levels, 1, (rows, groups, 1), generator=generator)
        w = step * (codes + offset)
    else:
        codes = torch.randint(1, levels + 1, (rows, groups, group_size), generator=generator)
        codes[..., 0] = zero + zero - 1
        w = step * (codes - zero)
    return w.reshape(rows, in_features).to(dtype)


def random_codes(rows, in_features, bits, generator) -> torch.Tensor:
    """Packed uniformly random codes (every bit pattern of a word is a valid format)."""
    codes = torch.randint(0, 2**bits, (rows, in_features), generator=generator)
    return pack_codes(codes, bits)
