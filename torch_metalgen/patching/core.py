"""``patch(model)``: swap the modules whose declared semantics an op in the registry serves.

Per instance only: a patched module gets a ``forward`` (and an ``extra_repr`` note) in its
own ``__dict__``; no class, ``torch.nn`` or ``transformers`` attribute is assigned. Deciding
runs no user code: the decision reads the class, its attributes and the registry, so
``dry_run`` and meta-device models run no forward and no hook. The one exception is the
opt-in ``probe_unknown`` (``probe.py``), which runs a float32 copy's class forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from torch_metalgen import _ops
from torch_metalgen.patching import attention, capabilities, forwards, probe
from torch_metalgen.patching.adapters import ADAPTERS
from torch_metalgen.patching.families import declared_semantics, qualified_name
from torch_metalgen.patching.semantics import NotReachable


@dataclass(frozen=True)
class PatchRecord:
    """One module the patch looked at: its name in the model, class, and why."""

    name: str
    cls: str
    reason: str


@dataclass
class PatchHandle:
    """What ``patch`` did. ``undo()`` restores the original forwards of the modules this
    handle patched (any order across handles, idempotent); ``report()`` says what was
    swapped, skipped and why, and how many calls fell back to the original forward."""

    swapped: list[PatchRecord] = field(default_factory=list)
    skipped: list[PatchRecord] = field(default_factory=list)
    dry_run: bool = False
    _patched: list[tuple[str, forwards.PatchedForward]] = field(default_factory=list, repr=False)
    # Models whose attention implementation this handle switched to "metalgen".
    _attention: list[torch.nn.Module] = field(default_factory=list, repr=False)

    def undo(self) -> None:
        while self._patched:
            _, forward = self._patched.pop()
            if forwards.patched_forward(forward.module) is forward:
                forwards.remove(forward.module)
        while self._attention:
            attention.restore(self._attention.pop())

    def attention_routing(self) -> dict[str, int]:
        """Attention calls of the switched models per route (torch_metalgen.attention)."""
        from torch_metalgen.attention import routing

        total: dict[str, int] = {}
        for model in self._attention:
            for route, calls in routing(model).items():
                total[route] = total.get(route, 0) + calls
        return total

    def __enter__(self) -> PatchHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.undo()

    def fallbacks(self) -> dict[str, dict[str, int]]:
        """Module name -> {reason: calls} for calls that ran the original forward."""
        return {name: dict(f.fallbacks) for name, f in self._patched if f.fallbacks}

    def calls(self) -> dict[str, int]:
        """Module name -> calls through the patched forward (outside torch.compile)."""
        return {name: f.calls for name, f in self._patched}

    def report(self) -> str:
        verb = "would swap" if self.dry_run else "swapped"
        fallbacks = self.fallbacks()
        total = sum(sum(reasons.values()) for reasons in fallbacks.values())
        lines = [
            f"torch_metalgen.patch: {verb} {len(self.swapped)}, skipped {len(self.skipped)}, "
            f"fallbacks {total} calls"
        ]
        lines += [f"  {verb} {r.name} ({r.cls}): {r.reason}" for r in self.swapped]
        lines += [f"  skipped {r.name} ({r.cls}): {r.reason}" for r in self.skipped]
        for name, reasons in fallbacks.items():
            lines += [f"  fell back {name}: {n} calls: {why}" for why, n in reasons.items()]
        for route, calls in sorted(self.attention_routing().items()):
            lines.append(f"  attention: {calls} calls -> {route}")
        return "\n".join(lines)


def _looks_norm_like(module: torch.nn.Module) -> bool:
    return "norm" in type(module).__name__.lower() or hasattr(module, "variance_epsilon")


def _device_dtype(module: torch.nn.Module, default):
    for tensor in module.parameters():
        return tensor.device, tensor.dtype
    return default


def _decide(module, semantics, source: str, device, dtype, native: bool, force: bool):
    """(call plan, reason) to swap, or (None, reason) to skip."""
    if isinstance(semantics, NotReachable):
        return None, semantics.reason
    adapter = ADAPTERS[semantics.kind]
    why = adapter.unfit(module, semantics)
    if why:
        return None, why
    op, options = adapter.options(module, semantics)
    plan, why = capabilities.plan(op, options, adapter.value_names(module, semantics))
    if plan is None:
        return None, why
    why = capabilities.missing(op, dtype, options)
    if why:
        return None, why
    if not force and not (native and device.type == "mps"):
        where = "this build has no MPS kernels" if not native else f"it is on {device}"
        return None, f"no native Metal kernel: {where} (force=True swaps it)"
    note = ""
    if dtype == torch.float32 and plan.unservable:
        half = ", ".join(str(d).removeprefix("torch.") for d in plan.unservable)
        note = f"; float32 only, {half} calls fall back: {next(iter(plan.unservable.values()))}"
    return plan, f"-> torch.ops.metalgen.{op} ({source}{note})"


def patch(
    model: torch.nn.Module,
    *,
    dry_run: bool = False,
    force: bool = False,
    probe_unknown: bool = False,
) -> PatchHandle:
    """Swap every module of ``model`` (itself included) whose declared semantics an op serves.

    Args:
        model: any ``torch.nn.Module``; Hugging Face transformers models first of all.
        dry_run: report what would be swapped; change nothing, run nothing.
        force: swap modules even where no Metal kernel runs natively (not on ``mps``, or a
            build without the MPS glue): the op then runs its reference, or the Metal
            kernel through the simulator inside ``torch_metalgen.sim.simulate()``.
        probe_unknown: also consider norm-like classes no table declares, accepting one only
            when a strict float32 probe (``patching.probe``) identifies it; float32 only.

    Returns a ``PatchHandle`` (``.swapped`` / ``.skipped`` records with reasons,
    ``.report()``, ``.undo()``, ``.fallbacks()``); as a context manager it undoes on exit.
    Modules already patched are reported as skipped, not patched twice.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"patch: model must be a torch.nn.Module, got {type(model).__name__}")
    for flag, value in (("dry_run", dry_run), ("force", force), ("probe_unknown", probe_unknown)):
        if not isinstance(value, bool):
            raise TypeError(f"patch: {flag} must be a bool, got {type(value).__name__}")
    handle = PatchHandle(dry_run=dry_run)
    native = _ops.mps_kernels_available()
    default = _device_dtype(model, default=(torch.device("cpu"), torch.float32))
    for name, module in model.named_modules():
        label = name or "<model>"
        cls = qualified_name(type(module))
        semantics, source = declared_semantics(module)
        if forwards.patched_forward(module) is not None:
            op = forwards.patched_forward(module).op
            handle.skipped.append(
                PatchRecord(label, cls, f"already patched (-> {op}) by an earlier patch()")
            )
            continue
        if semantics is None:
            if not _looks_norm_like(module):
                continue
            if not probe_unknown:
                reason = "not a declared class (probe_unknown=True probes it)"
                handle.skipped.append(PatchRecord(label, cls, reason))
                continue
            if dry_run:
                reason = "not a declared class; a real run would probe it (dry_run runs nothing)"
                handle.skipped.append(PatchRecord(label, cls, reason))
                continue
            semantics, why = probe.probe(module)
            if semantics is None:
                handle.skipped.append(PatchRecord(label, cls, why))
                continue
            source = "identified by the float32 probe"
        device, dtype = _device_dtype(module, default=default)
        plan, reason = _decide(module, semantics, source, device, dtype, native, force)
        if plan is None:
            handle.skipped.append(PatchRecord(label, cls, reason))
            continue
        handle.swapped.append(PatchRecord(label, cls, reason))
        if not dry_run:
            handle._patched.append((label, forwards.install(module, semantics, plan)))
    if attention.is_transformers_model(model):
        device = default[0]
        switch, reason = attention.decide(model, native and device.type == "mps", force)
        record = PatchRecord("<model>", qualified_name(type(model)), reason)
        (handle.swapped if switch else handle.skipped).append(record)
        if switch and not dry_run:
            attention.switch(model)
            handle._attention.append(model)
    return handle


def unpatch(model: torch.nn.Module) -> int:
    """Remove every torch-metalgen patch in ``model``, whichever handle made it (also in
    deep copies and unpickled models, which no handle reaches). Returns how many."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"unpatch: model must be a torch.nn.Module, got {type(model).__name__}")
    removed = sum(forwards.remove(module) for module in model.modules())
    return removed + sum(
        attention.restore(module)
        for module in model.modules()
        if attention.is_transformers_model(module)
    )
