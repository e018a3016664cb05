"""Swap recognized modules of an existing model for torch-metalgen kernels, per instance.

    handle = torch_metalgen.patch(model)       # or: with torch_metalgen.patch(model): ...
    print(handle.report())
    handle.undo()                              # the exact original forwards come back

Only instances change: each swapped module gets ``module.forward`` bound to a new function
(``types.MethodType``); no class, ``torch.nn`` or ``transformers`` attribute is assigned, so
other models, ``print(model)``, hooks and state dicts are untouched.

A module is swapped only when its behaviour is the op's: the candidate must have the
attributes the op reads, and a probe (its own forward on a small random input, against the
op's float64 reference) must agree. That is how Gemma's ``(1 + weight)`` RMSNorm is told
apart from Llama's ``weight * x`` one, whatever the classes are called.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from torch_metalgen import _ops
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS

KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# Probe tolerances: the module's own forward in its dtype against the float64 reference.
PROBE_TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 6e-2}


@dataclass(frozen=True)
class PatchRecord:
    """One module the patch looked at: its name in the model, class, and why."""

    name: str
    cls: str
    reason: str


@dataclass
class PatchHandle:
    """What ``patch`` did; ``undo()`` restores the original forwards (idempotent)."""

    swapped: list[PatchRecord] = field(default_factory=list)
    skipped: list[PatchRecord] = field(default_factory=list)
    dry_run: bool = False
    _restore: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def undo(self) -> None:
        while self._restore:
            self._restore.pop()()

    def __enter__(self) -> PatchHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.undo()

    def report(self) -> str:
        verb = "would swap" if self.dry_run else "swapped"
        lines = [f"torch_metalgen.patch: {verb} {len(self.swapped)}, skipped {len(self.skipped)}"]
        lines += [f"  {verb} {r.name} ({r.cls}): {r.reason}" for r in self.swapped]
        lines += [f"  skipped {r.name} ({r.cls}): {r.reason}" for r in self.skipped]
        return "\n".join(lines)


@dataclass(frozen=True)
class RMSNormLayout:
    """How one family of RMSNorm modules stores what the op needs."""

    # Returns the epsilon for an input, or None when this module can't be served.
    epsilon: Callable[[torch.nn.Module, torch.Tensor], float | None]
    hidden_size: int


def _float_attribute(module: torch.nn.Module, name: str) -> float | None:
    value = getattr(module, name, None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _torch_epsilon(module: torch.nn.Module, x: torch.Tensor) -> float | None:
    # torch.nn.RMSNorm: eps=None means torch.finfo(x.dtype).eps.
    return float(torch.finfo(x.dtype).eps) if module.eps is None else float(module.eps)


def _rms_norm_layout(module: torch.nn.Module) -> tuple[RMSNormLayout | None, str]:
    """The module's layout if it is an RMSNorm candidate, else (None, reason)."""
    if isinstance(module, torch.nn.RMSNorm):
        if len(module.normalized_shape) != 1:
            return None, (
                f"normalizes over {len(module.normalized_shape)} trailing dims; the kernel "
                "normalizes over the last one only"
            )
        return RMSNormLayout(_torch_epsilon, module.normalized_shape[0]), ""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 1:
        return None, "no 1-D weight"
    # HF's Llama family says variance_epsilon; others (Gemma, many ports) say eps.
    for attribute in ("variance_epsilon", "eps"):
        if _float_attribute(module, attribute) is not None:
            epsilon = lambda m, x, name=attribute: _float_attribute(m, name)  # noqa: E731
            return RMSNormLayout(epsilon, weight.numel()), ""
    return None, "no float variance_epsilon or eps attribute"


def _is_candidate(module: torch.nn.Module) -> bool:
    """Worth a closer look: torch's RMSNorm, a class named like one, or a module with HF's
    RMSNorm attributes (T5LayerNorm is one under another name). The probe decides."""
    return (
        isinstance(module, torch.nn.RMSNorm)
        or "rmsnorm" in type(module).__name__.lower()
        or hasattr(module, "variance_epsilon")
    )


def _known_classes() -> set[str]:
    return {t["qualname"] for t in OPS["rms_norm"]["patch_targets"]}


def _device_dtype(
    module: torch.nn.Module, default: tuple[torch.device, torch.dtype]
) -> tuple[torch.device, torch.dtype]:
    """The module's first parameter's (a weightless norm: the model's, passed as default)."""
    for tensor in module.parameters():
        return tensor.device, tensor.dtype
    return default


def _probe(
    module: torch.nn.Module, layout: RMSNormLayout, device: torch.device, dtype: torch.dtype
) -> str:
    """Empty string if the module's forward computes RMSNorm, else why not."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, layout.hidden_size, generator=generator).to(device=device, dtype=dtype)
    eps = layout.epsilon(module, x)
    with torch.no_grad():
        try:
            actual = module(x)
        except Exception as error:  # a module that can't take (rows, hidden) is not ours
            return f"probe forward failed: {type(error).__name__}: {error}"
        weight = getattr(module, "weight", None)
        expected = REFERENCES["rms_norm"](
            x.double().cpu(), None if weight is None else weight.double().cpu(), eps
        )
    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return "probe output has a different shape"
    error = (actual.double().cpu() - expected).abs().max().item()
    tolerance = PROBE_TOLERANCE.get(dtype, 1e-4) * max(1.0, expected.abs().max().item())
    if not error <= tolerance:
        return (
            f"forward is not x * rsqrt(mean(x^2) + eps) * weight (probe max error {error:.3g}; "
            "e.g. Gemma's (1 + weight) form)"
        )
    return ""


def _make_forward(original: Callable, layout: RMSNormLayout) -> Callable:
    def forward(module: torch.nn.Module, hidden_states: torch.Tensor, *args, **kwargs):
        weight = module.weight
        eps = layout.epsilon(module, hidden_states)
        servable = (
            not args
            and not kwargs
            and hidden_states.dtype in KERNEL_DTYPES
            and eps is not None
            and eps > 0
            and (
                weight is None
                or (weight.dtype == hidden_states.dtype and weight.device == hidden_states.device)
            )
        )
        if not servable:  # mixed dtypes etc.: the original forward defines the semantics
            return original(hidden_states, *args, **kwargs)
        return torch.ops.metalgen.rms_norm(hidden_states, weight, eps)

    return forward


def patch(model: torch.nn.Module, *, dry_run: bool = False, force: bool = False) -> PatchHandle:
    """Swap every recognized module of ``model`` (the model itself included) in place.

    Args:
        model: any ``torch.nn.Module``; Hugging Face transformers models first of all.
        dry_run: report what would be swapped, change nothing.
        force: swap modules even where no Metal kernel runs natively (not on ``mps``, or a
            build without the MPS glue): the swapped op then runs its reference, or the
            Metal kernel through the simulator inside ``torch_metalgen.sim.simulate()``.

    Returns a ``PatchHandle``: ``.swapped`` / ``.skipped`` records with reasons,
    ``.report()``, ``.undo()``; use it as a context manager to undo on exit.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"patch: model must be a torch.nn.Module, got {type(model).__name__}")
    handle = PatchHandle(dry_run=dry_run)
    native = _ops.mps_kernels_available()
    known = _known_classes()
    model_device_dtype = _device_dtype(model, default=(torch.device("cpu"), torch.float32))
    for name, module in model.named_modules():
        if not _is_candidate(module):
            continue
        label = name or "<model>"
        cls = f"{type(module).__module__}.{type(module).__qualname__}"
        layout, reason = _rms_norm_layout(module)
        if layout is None:
            handle.skipped.append(PatchRecord(label, cls, reason))
            continue
        device, dtype = _device_dtype(module, default=model_device_dtype)
        if not force and not (native and device.type == "mps"):
            where = "this build has no MPS kernels" if not native else f"it is on {device}"
            handle.skipped.append(
                PatchRecord(label, cls, f"no native Metal kernel: {where} (force=True swaps it)")
            )
            continue
        reason = _probe(module, layout, device, dtype)
        if reason:
            handle.skipped.append(PatchRecord(label, cls, reason))
            continue
        is_known = cls in known or isinstance(module, torch.nn.RMSNorm)
        how = "known RMSNorm class" if is_known else "recognized by attributes"
        handle.swapped.append(
            PatchRecord(label, cls, f"-> torch.ops.metalgen.rms_norm ({how}, probe agrees)")
        )
        if not dry_run:
            _swap_forward(module, layout, handle)
    return handle


def _swap_forward(module: torch.nn.Module, layout: RMSNormLayout, handle: PatchHandle) -> None:
    had_instance_forward = "forward" in module.__dict__
    previous = module.__dict__.get("forward")
    module.forward = types.MethodType(_make_forward(module.forward, layout), module)

    def restore() -> None:
        if had_instance_forward:
            module.forward = previous
        else:
            del module.forward

    handle._restore.append(restore)
