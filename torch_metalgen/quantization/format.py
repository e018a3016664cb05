"""quantize_weight: a float weight (N, K) -> the packed format of quantized_linear.

The format (docs/quantization.md) is MLX's: ``qweight`` (N, K * bits / 32) uint32 with
32 / bits codes per word, least significant first; ``scales`` (N, K / group_size) and, in
the affine mode, ``biases`` of the same shape. Affine is ``mx.quantize``'s algorithm to the
bit (float32 math; see ``_affine``), so weights quantized here and by MLX are
interchangeable. Symmetric: scale = max|w| / (2^(bits-1) - 1) per group, codes stored with
the zero point 2^(bits-1) added, no biases.

Quantization runs on the CPU in float32 whatever the weight's device (results are moved
back): it is a one-time conversion, and CPU float32 arithmetic is what makes the codes
bit-identical to MLX's. The inverse, ``torch_metalgen.dequantize_weight``, is a kernel op.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

BITS = (4, 8)
MODES = ("affine", "symmetric")
# MLX's minimum scale (mlx/backend/cpu/quantized.cpp: eps = 1e-7).
_AFFINE_EPS = 1e-7
_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


class QuantizedWeight(NamedTuple):
    """A packed weight: ``biases`` is None in the symmetric mode."""

    qweight: torch.Tensor
    scales: torch.Tensor
    biases: torch.Tensor | None
    bits: int
    group_size: int

    @property
    def mode(self) -> str:
        return "symmetric" if self.biases is None else "affine"


def check_format(bits, group_size, mode, in_features: int | None, where: str) -> int | None:
    """Validates the format arguments against a weight's in_features (K); returns the group
    size (None -> K: one group per output channel). With in_features None, the arguments
    alone are checked (before any weight is seen). Errors name the argument."""
    if isinstance(bits, bool) or bits not in BITS:
        raise ValueError(f"{where}: bits must be 4 or 8, got {bits!r}")
    if mode not in MODES:
        raise ValueError(f"{where}: mode must be 'affine' or 'symmetric', got {mode!r}")
    if group_size is None:
        if in_features is None:
            return None
        group_size = in_features
    if isinstance(group_size, bool) or not isinstance(group_size, int):
        raise TypeError(f"{where}: group_size must be an int or None, got {group_size!r}")
    if group_size <= 0 or group_size % 32:
        raise ValueError(
            f"{where}: group_size must be a positive multiple of 32 (32, 64 or 128 as MLX "
            f"writes them, or None for one group per output channel), got {group_size}"
        )
    if in_features is not None and in_features % group_size:
        raise ValueError(
            f"{where}: in_features ({in_features}) must be divisible by group_size "
            f"({group_size}); groups run along in_features (the weight's last dimension)"
        )
    return group_size


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """(N, K) integer codes in [0, 2^bits) -> (N, K * bits / 32) uint32, code j of a word in
    bits [bits * j, bits * j + bits)."""
    per_word = 32 // bits
    rows, in_features = codes.shape
    shifts = torch.arange(0, 32, bits, dtype=torch.int64, device=codes.device)
    words = (codes.to(torch.int64).reshape(rows, in_features // per_word, per_word) << shifts).sum(
        -1
    )
    return words.to(torch.uint32)


def unpack_codes(qweight: torch.Tensor, bits: int) -> torch.Tensor:
    """The inverse of ``pack_codes``: (N, W) uint32 (or int32) -> (N, W * 32 / bits) int64."""
    words = qweight.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    shifts = torch.arange(0, 32, bits, dtype=torch.int64, device=qweight.device)
    codes = (words.unsqueeze(-1) >> shifts) & ((1 << bits) - 1)
    return codes.reshape(qweight.shape[0], qweight.shape[1] * (32 // bits))


def _affine(groups: torch.Tensor, bits: int, dtype: torch.dtype):
    """MLX's affine quantization of float32 groups (rows, groups, group_size), step by step
    as mlx/backend/cpu/quantized.cpp does it: the scale spans min..max; the edge of larger
    magnitude becomes the bias, and the scale is adjusted so that the edge is an integer
    number of steps away from 0 (then 0 is exactly representable). Codes use the float32
    scale; scales and biases are stored rounded to ``dtype``."""
    levels = float(2**bits - 1)
    w_max = groups.amax(-1)
    w_min = groups.amin(-1)
    min_is_edge = w_min.abs() > w_max.abs()
    scale = torch.clamp_min((w_max - w_min) / levels, _AFFINE_EPS)
    scale = torch.where(min_is_edge, scale, -scale)
    edge = torch.where(min_is_edge, w_min, w_max)
    steps = torch.round(edge / scale)
    nonzero = steps != 0
    scale = torch.where(nonzero, edge / torch.where(nonzero, steps, 1.0), scale)
    bias = torch.where(nonzero, edge, 0.0)
    codes = torch.round((groups - bias.unsqueeze(-1)) / scale.unsqueeze(-1))
    codes = torch.clamp(codes, 0, levels)
    return codes, scale.to(dtype), bias.to(dtype)


def _symmetric(groups: torch.Tensor, bits: int, dtype: torch.dtype):
    """Symmetric quantization: scale = max|w| / (2^(bits-1) - 1) rounded to ``dtype`` (an
    all-zero group gets scale 1), codes round(w / scale) clamped to [-2^(bits-1),
    2^(bits-1) - 1] and stored with 2^(bits-1) added. The codes use the stored scale."""
    zero = 2 ** (bits - 1)
    largest = groups.abs().amax(-1)
    scale = torch.where(largest > 0, largest / (zero - 1), 1.0).to(dtype)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # underflow to 0 in dtype
    codes = torch.round(groups / scale.float().unsqueeze(-1))
    codes = torch.clamp(codes, -zero, zero - 1) + zero
    return codes, scale, None


def quantize_weight(
    w: torch.Tensor,
    bits: int = 4,
    group_size: int | None = 64,
    mode: str = "affine",
    dtype: torch.dtype | None = None,
) -> QuantizedWeight:
    """Quantize a (out_features, in_features) weight for ``quantized_linear``.

    Args:
        w: float32/float16/bfloat16 weight, any device; not modified.
        bits: 4 or 8.
        group_size: 32, 64 or 128 (MLX's), any positive multiple of 32 dividing
            in_features, or None for one group per output channel (int8 per-channel).
        mode: "affine" (MLX's ``mx.quantize``: scale and bias per group, bit-compatible)
            or "symmetric" (scale only, zero point 2^(bits-1)).
        dtype: dtype of scales and biases (default w's). The weight is rounded to it first,
            as MLX quantizes a weight of that dtype.

    Returns ``QuantizedWeight(qweight, scales, biases, bits, group_size)`` on w's device;
    ``torch_metalgen.dequantize_weight(qweight, scales, biases, bits, group_size)``
    inverts it exactly on the weights the format represents.
    """
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"quantize_weight: w must be a torch.Tensor, got {type(w).__name__}")
    if w.dim() != 2:
        raise ValueError(
            f"quantize_weight: w must be 2-D (out_features, in_features), got shape "
            f"{tuple(w.shape)}"
        )
    if w.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"quantize_weight: w must be float32, float16 or bfloat16, got {w.dtype}")
    dtype = w.dtype if dtype is None else dtype
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"quantize_weight: dtype must be float32, float16 or bfloat16, got {dtype!r}"
        )
    rows, in_features = w.shape
    group_size = check_format(bits, group_size, mode, in_features, "quantize_weight")
    if not bool(torch.isfinite(w).all()):
        raise ValueError("quantize_weight: w has inf or NaN values, which no scale represents")
    groups = w.detach().to("cpu", dtype).float()
    groups = groups.reshape(rows, in_features // group_size, group_size)
    quantizer = _affine if mode == "affine" else _symmetric
    codes, scales, biases = quantizer(groups, bits, dtype)
    qweight = pack_codes(codes.reshape(rows, in_features), bits)
    device = w.device
    return QuantizedWeight(
        qweight.to(device),
        scales.contiguous().to(device),
        None if biases is None else biases.contiguous().to(device),
        bits,
        group_size,
    )
