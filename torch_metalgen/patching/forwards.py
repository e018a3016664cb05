"""The per-instance replacements: a patched ``forward`` and an ``extra_repr`` note (for an
attention's rotary call, the forward of its private rotary function: ``rotary.py``).

Both are plain objects stored in the module's ``__dict__`` that hold the module itself (no
closures), so ``copy.deepcopy`` rebinds them to the copy and pickling keeps them pointing at
the loaded module; ``torch_metalgen.unpatch`` removes them wherever they are.
"""

from __future__ import annotations

import torch

from torch_metalgen.patching import rotary
from torch_metalgen.patching.adapters import ADAPTERS
from torch_metalgen.patching.capabilities import CallPlan
from torch_metalgen.patching.op_or_fallback import OpOrFallback


class PatchedForward(OpOrFallback):
    """Runs the module's op; falls back to the original forward (counted, with the reason)
    when a call is outside what the op serves (mixed dtypes, float64, other arguments)."""

    def __init__(self, module: torch.nn.Module, semantics, plan: CallPlan) -> None:
        super().__init__(module, semantics, plan)
        # An instance forward that was there before the patch (restored by undo), or None.
        # (None, not a sentinel object: deepcopy and pickle would copy a sentinel.)
        self.previous = module.__dict__.get("forward")

    def adapter(self):
        return ADAPTERS[self.semantics.kind]

    def original(self, *args, **kwargs):
        if self.previous is not None:
            return self.previous(*args, **kwargs)
        return type(self.module).forward(self.module, *args, **kwargs)

    def restore(self) -> None:
        """Put back what ``forward`` was before the patch, if this object is still there."""
        if self.module.__dict__.get("forward") is not self:
            return
        if self.previous is None:
            del self.module.__dict__["forward"]
        else:
            self.module.__dict__["forward"] = self.previous


class PatchedExtraRepr:
    """``print(model)`` shows the patch: the module's own extra_repr plus ``metalgen=<op>``."""

    def __init__(self, module: torch.nn.Module, op: str) -> None:
        self.module = module
        self.op = op
        self.previous = module.__dict__.get("extra_repr")

    def __call__(self) -> str:
        own = (
            self.previous()
            if self.previous is not None
            else type(self.module).extra_repr(self.module)
        )
        return f"{own}, metalgen={self.op}" if own else f"metalgen={self.op}"

    def restore(self) -> None:
        if self.module.__dict__.get("extra_repr") is not self:
            return
        if self.previous is None:
            del self.module.__dict__["extra_repr"]
        else:
            self.module.__dict__["extra_repr"] = self.previous


def install(module: torch.nn.Module, semantics, plan: CallPlan):
    """Patch ``module``: its own forward, or (rotary) its private rotary function's."""
    if semantics.kind == "rotary":
        forward = rotary.install(module, semantics, plan)
    else:
        forward = PatchedForward(module, semantics, plan)
        module.__dict__["forward"] = forward
    module.__dict__["extra_repr"] = PatchedExtraRepr(module, plan.op)
    return forward


def remove(module: torch.nn.Module) -> bool:
    """Undo the patch on ``module`` (whoever made it); True if it was patched."""
    forward = patched_forward(module)
    if forward is None:
        return False
    forward.restore()
    extra_repr = module.__dict__.get("extra_repr")
    if isinstance(extra_repr, PatchedExtraRepr):
        extra_repr.restore()
    return True


def patched_forward(module: torch.nn.Module) -> PatchedForward | rotary.PatchedRotary | None:
    forward = module.__dict__.get("forward")
    if isinstance(forward, PatchedForward):
        return forward
    return rotary.patched(module)
