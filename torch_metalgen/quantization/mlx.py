"""MLX interop: load a state dict that MLX (mlx-lm, an mlx-community checkpoint's
safetensors) quantized into a PyTorch model.

mlx-lm writes a quantized layer ``<name>`` as ``<name>.weight`` (uint32, packed exactly as
quantized_linear reads it), ``<name>.scales`` and ``<name>.biases`` (float16/bfloat16,
affine mode), plus ``<name>.bias`` when the layer has one. It quantizes embeddings the same
way. The names are the Hugging Face module names (mlx-lm's Llama, Mistral, Qwen2 ... keep
them), so the conversion only renames ``weight`` to ``qweight`` for nn.Linear layers and
dequantizes what the PyTorch model holds in floating point (embeddings).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from torch_metalgen.functional import dequantize_weight
from torch_metalgen.quantization.model import _format_of, load_quantized_state_dict
from torch_metalgen.quantization.module import linear_weight


def _packed_prefixes(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the layers MLX quantized: a uint32 ``.weight`` next to ``.scales``."""
    prefixes = []
    for key in state_dict:
        if not key.endswith(".scales"):
            continue
        prefix = key[: -len(".scales")]
        weight = state_dict.get(f"{prefix}.weight")
        if weight is not None and weight.dtype in (torch.uint32, torch.int32):
            prefixes.append(prefix)
    return prefixes


def convert_mlx_state_dict(
    state_dict: Mapping[str, torch.Tensor], model: torch.nn.Module
) -> dict[str, torch.Tensor]:
    """An MLX-quantized state dict in this package's naming, for ``model``'s architecture:
    the packed weight of each ``nn.Linear`` as ``<name>.qweight`` (scales, biases, bias
    unchanged); a packed weight of any other module (an embedding) dequantized to its
    scales' dtype as ``<name>.weight``. Other tensors pass through. MLX's affine format is
    this package's, bit for bit: no code is repacked."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"convert_mlx_state_dict: model must be a torch.nn.Module, got {type(model).__name__}"
        )
    modules = dict(model.named_modules())
    converted = dict(state_dict)
    for prefix in _packed_prefixes(state_dict):
        module = modules.get(prefix)
        if module is None:
            raise ValueError(
                f"convert_mlx_state_dict: the state dict quantizes {prefix!r}, which the model "
                "does not have (a checkpoint of another architecture?)"
            )
        packed = converted.pop(f"{prefix}.weight")
        if linear_weight(module) is not None:
            converted[f"{prefix}.qweight"] = packed.view(torch.uint32)
            continue
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
            raise ValueError(
                f"convert_mlx_state_dict: {prefix!r} is a quantized "
                f"{type(module).__name__}, which has no 2-D weight to dequantize into"
            )
        scales = converted.pop(f"{prefix}.scales")
        biases = converted.pop(f"{prefix}.biases", None)
        bits, group_size = _format_of(prefix, *weight.shape, packed, scales)
        converted[f"{prefix}.weight"] = dequantize_weight(
            packed.view(torch.uint32), scales, biases, bits, group_size
        )
    return converted


def load_mlx_state_dict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
):
    """Convert (``convert_mlx_state_dict``) and load an MLX-quantized state dict into a fresh
    model of the same architecture; its nn.Linear layers become ``QuantizedLinear`` of the
    checkpoint's bits and group size. Returns what ``load_state_dict`` returns."""
    return load_quantized_state_dict(model, convert_mlx_state_dict(state_dict, model), strict)
