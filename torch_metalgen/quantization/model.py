"""quantize(model): replace a model's nn.Linear layers by QuantizedLinear, and load the
state dict of a quantized model (ours, or one quantized by MLX) into a fresh model."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch

from torch_metalgen.quantization.format import check_format
from torch_metalgen.quantization.module import QuantizedLinear, linear_weight

# Layers left in floating point unless `skip` says otherwise: the output projection (its
# logits are the most sensitive, and it is often tied to the embedding). Embeddings are not
# nn.Linear and are never touched.
DEFAULT_SKIP = ("lm_head", "*.lm_head")


def _tensor_bytes(tensors: Iterable[torch.Tensor | None]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's parameters and buffers (shared tensors counted once)."""
    seen: dict[int, torch.Tensor] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        seen.setdefault(id(tensor), tensor)
    return _tensor_bytes(seen.values())


@dataclass
class QuantizationReport:
    """What ``quantize`` did: layers replaced and skipped (with why), and the bytes of the
    model's parameters and buffers before and after."""

    bits: int
    group_size: int | None
    mode: str
    replaced: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    bytes_before: int = 0
    bytes_after: int = 0

    def __str__(self) -> str:
        group = "per output channel" if self.group_size is None else f"groups of {self.group_size}"
        lines = [
            f"quantized {len(self.replaced)} nn.Linear layers to int{self.bits} {self.mode}, "
            f"{group}: {self.bytes_before / 2**20:.2f} MiB -> {self.bytes_after / 2**20:.2f} MiB "
            f"({self.bytes_before / max(self.bytes_after, 1):.2f}x smaller)"
        ]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        lines += [f"  note {name}: {note}" for name, note in self.notes.items()]
        return "\n".join(lines)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def quantize(
    model: torch.nn.Module,
    bits: int = 4,
    group_size: int | None = 64,
    mode: str = "affine",
    skip: Iterable[str] = DEFAULT_SKIP,
    dtype: torch.dtype | None = None,
) -> QuantizationReport:
    """Replace every ``nn.Linear`` of ``model`` (in place) by a ``QuantizedLinear``
    (transformers' ``Conv1D``, GPT-2's transposed linear, too).

    Args:
        bits, group_size, mode, dtype: the format (``torch_metalgen.quantize_weight``);
            group_size None quantizes per output channel.
        skip: module names (fnmatch patterns over ``model.named_modules()`` names) left as
            they are; default ``("lm_head", "*.lm_head")``. Pass ``()`` to quantize the
            output projection too. Embeddings are never nn.Linear and stay as they are.

    Layers whose in_features no group size fits are skipped with the reason. Returns a
    ``QuantizationReport`` (print it): replaced and skipped layers, bytes before and after.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"quantize: model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(skip, str):
        raise TypeError("quantize: skip must be a collection of name patterns, not one string")
    check_format(bits, group_size, mode, None, "quantize")
    skip = tuple(skip)
    report = QuantizationReport(bits, group_size, mode, bytes_before=model_bytes(model))
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if linear_weight(module) is not None and not isinstance(module, QuantizedLinear)
    ]
    owners: dict[int, list[str]] = {}
    for module_name, module in model.named_modules():
        for parameter_name, parameter in module.named_parameters(recurse=False):
            owners.setdefault(id(parameter), []).append(f"{module_name}.{parameter_name}")
    for name, linear in targets:
        if _matches(name, skip):
            report.skipped[name] = "matches skip"
            continue
        shared = [o for o in owners.get(id(linear.weight), []) if o != f"{name}.weight"]
        if shared:  # a tied output projection: the float weight stays for its other users
            report.notes[name] = f"weight tied to {', '.join(shared)}, which keeps it in float"
        try:
            check_format(bits, group_size, mode, linear_weight(linear).shape[1], name)
        except ValueError as error:
            report.skipped[name] = str(error)
            continue
        _replace(model, name, QuantizedLinear.from_linear(linear, bits, group_size, mode, dtype))
        report.replaced.append(name)
    report.bytes_after = model_bytes(model)
    return report


def _replace(model: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def _format_of(
    name: str, out_features: int, in_features: int, qweight: torch.Tensor, scales: torch.Tensor
) -> tuple[int, int]:
    """(bits, group_size) of a packed weight for a linear layer, from the tensors' shapes."""
    words, groups = qweight.shape[-1], scales.shape[-1]
    if qweight.shape[0] != out_features or scales.shape[0] != out_features:
        raise ValueError(
            f"{name}: packed weight has {qweight.shape[0]} rows and scales "
            f"{scales.shape[0]}, but the layer has out_features={out_features}"
        )
    if (words * 32) % in_features or groups == 0 or in_features % groups:
        raise ValueError(
            f"{name}: qweight {tuple(qweight.shape)} / scales {tuple(scales.shape)} do not fit "
            f"in_features={in_features} with bits 4 or 8"
        )
    return words * 32 // in_features, in_features // groups


def load_quantized_state_dict(
    model: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    strict: bool = True,
):
    """Load the state dict of a quantized model into ``model`` (a fresh, unquantized one of
    the same architecture): each ``nn.Linear`` (or transformers ``Conv1D``) whose
    ``<name>.qweight`` is in the state dict becomes a ``QuantizedLinear`` of the format
    the tensors' shapes give (bits and group size; affine when ``<name>.biases`` is
    present), then ``model.load_state_dict(state_dict, strict)`` runs. Returns what
    load_state_dict returns. MLX's naming is read through ``load_mlx_state_dict``."""
    for name, module in list(model.named_modules()):
        weight = linear_weight(module)
        if weight is None or isinstance(module, QuantizedLinear):
            continue
        qweight = state_dict.get(f"{name}.qweight")
        scales = state_dict.get(f"{name}.scales")
        if qweight is None or scales is None or qweight.dtype not in (torch.uint32, torch.int32):
            continue
        out_features, in_features = weight.shape
        bits, group_size = _format_of(name, out_features, in_features, qweight, scales)
        mode = "affine" if f"{name}.biases" in state_dict else "symmetric"
        replacement = QuantizedLinear(
            in_features,
            out_features,
            bits,
            group_size,
            mode,
            bias=getattr(module, "bias", None) is not None,
            device=weight.device,
            dtype=scales.dtype,
        )
        _replace(model, name, replacement)
    return model.load_state_dict(state_dict, strict=strict)
