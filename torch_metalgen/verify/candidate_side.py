"""The candidate's half of one verification case: what must run in the candidate's process.

The candidate runs twice on the same inputs, under two different poisons (NaN, then a finite
sentinel) of free device memory and of every ``empty`` allocation (rule 7); each output is
snapshotted right after a current-stream synchronize, then the device is synchronized fully
and an output that changed since its snapshot was still being written (async). Between the
runs the inputs must be bit-identical to their clones (rule 8) and the precision flags
unchanged (rule 11).

For an untrusted candidate this runs in a worker process (``verify/worker.py``); the verdict
itself (references, tolerances, determinism, unwritten elements) is computed in the
verifier's process from the snapshots alone, so a candidate that tampers with this module in
its own process only weakens these four checks, never the comparison with the references.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from torch_metalgen.verify import compare
from torch_metalgen.verify.device import (
    POISON_VALUES,
    poisoned,
    precision_regime,
    restore_regime,
    stream_synchronize,
    synchronize,
)

PASS, FAIL, SKIP, BAD_PROBLEM = "pass", "FAIL", "skip", "bad-problem"


class Rejected(Exception):
    """A case failed one rule: ``rule`` names it, ``reason`` says what to fix."""

    def __init__(self, rule: str, reason: str, status: str = FAIL) -> None:
        super().__init__(reason)
        self.rule, self.reason, self.status = rule, reason, status


@dataclass(frozen=True)
class CandidateChecks:
    """Which candidate-side rules run (each can be switched off for the self-tests)."""

    poison: bool = True
    async_check: bool = True
    check_inputs: bool = True
    regime_check: bool = True


def as_tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in as_tensors(item)]
    raise Rejected("output", f"output is {type(out).__name__}, not a tensor or tuple of tensors")


def call(
    model,
    inputs: list,
    context: contextlib.AbstractContextManager,
    dispatch_poison: bool,
    device: torch.device,
    poison: float | None,
    sizes: list[int],
) -> list[torch.Tensor]:
    """``model(*inputs)`` as tensors, under ``poison`` (None: none), stream-synchronized."""
    with (
        context,
        poisoned(
            device,
            poison if poison is not None else 0.0,
            sizes,
            enabled=poison is not None,
            dispatch=dispatch_poison,
        ),
    ):
        out = as_tensors(model(*inputs))
    stream_synchronize(device)
    return out


def run_candidate_twice(
    built,
    inputs: list,
    device: torch.device,
    checks: CandidateChecks,
    context_factory=contextlib.nullcontext,
    dispatch_poison: bool = True,
    between=None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run ``built`` twice (see the module docstring); the two output snapshots, or Rejected.
    ``between()`` runs after the second run and before the full synchronize (in one process:
    the references, which also gives late writers time to show themselves)."""
    clones = [t.clone() if isinstance(t, torch.Tensor) else t for t in inputs]
    sizes = [t.numel() * t.element_size() for t in inputs if isinstance(t, torch.Tensor)]

    def run(poison_index: int, args: list) -> tuple[list, list]:
        poison = POISON_VALUES[poison_index] if checks.poison else None
        out = call(built, args, context_factory(), dispatch_poison, device, poison, sizes)
        return out, [t.clone() for t in out]

    regime = precision_regime()
    out_a, snap_a = run(0, inputs)
    if checks.regime_check and precision_regime() != regime:
        after = precision_regime()
        changed = {k: (regime[k], after[k]) for k in regime if regime[k] != after[k]}
        restore_regime(regime)
        raise Rejected(
            "precision",
            f"the candidate changed the precision regime {changed}: "
            "lower-precision math must be part of the op contract, not a global flag",
        )
    if checks.check_inputs:
        for index, (now, before) in enumerate(zip(inputs, clones, strict=False)):
            if isinstance(now, torch.Tensor) and not compare.bit_equal(now, before):
                raise Rejected(
                    "inputs",
                    f"input {index} was modified by the candidate; the op "
                    "is not in-place by contract (clone before writing)",
                )
    second = [c.clone() if isinstance(c, torch.Tensor) else c for c in clones]
    out_b, snap_b = run(1, second)
    if between is not None:
        between()
    synchronize(device)
    if checks.async_check:
        for out, snap in ((out_a, snap_a), (out_b, snap_b)):
            for index, (now, then) in enumerate(zip(out, snap, strict=False)):
                if not compare.bit_equal(now, then):
                    n = int(compare.bit_differences(now, then).sum())
                    raise Rejected(
                        "async",
                        f"output {index} changed after the candidate "
                        f"returned and its stream was synchronized ({n} elements): "
                        "work is still running on another stream or thread; join "
                        "it before returning",
                    )
    return snap_a, snap_b
