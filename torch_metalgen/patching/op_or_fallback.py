"""What a patched call does, for module forwards (``forwards.PatchedForward``) and an
attention's rotary function (``rotary.PatchedRotary``) alike: run the op through an adapter,
or, when the adapter declines the call (mixed dtypes, float64, other arguments), run the
original and count the reason."""

from __future__ import annotations

from collections import Counter

import torch


class OpOrFallback:
    """Subclasses say which adapter serves the call (``adapter``) and what the original
    call is (``original``). Holds the module itself, no closures, so ``copy.deepcopy`` and
    pickling rebind it to the copied model."""

    def __init__(self, module: torch.nn.Module, semantics, plan) -> None:
        self.module = module
        self.semantics = semantics
        self.plan = plan
        self.op = plan.op
        self.calls = 0
        self.fallbacks: Counter[str] = Counter()

    def adapter(self):
        raise NotImplementedError

    def original(self, *args, **kwargs):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        output, why = self.adapter().run(self.module, self.semantics, self.plan, args, kwargs)
        counting = not torch.compiler.is_compiling()  # counters would be guarded on, recompiling
        if counting:
            self.calls += 1
        if output is None:
            if counting:
                self.fallbacks[why] += 1
            return self.original(*args, **kwargs)
        return output
