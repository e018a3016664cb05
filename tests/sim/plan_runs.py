"""Running one op's kernels through the simulator by verification.md's rules, for the
layer_norm, group_norm and softmax sim tests: candidate first on fresh outputs (poisoned, so
an unwritten element is an error), inputs unchanged, forward and reverse schedules
bit-for-bit."""

from __future__ import annotations

import importlib

import pytest
import torch

from torch_metalgen import _ops

sim = pytest.importorskip("torch_metalgen.sim")


def same_bits(a, b) -> bool:
    """Bitwise equality of two tensors, or of two tuples of tensors (multi-output ops)."""
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_bits(x, y) for x, y in zip(a, b, strict=True))
    return a.shape == b.shape and torch.equal(
        a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8)
    )


def variants(op: str) -> list[str]:
    return list(getattr(_ops._C, f"{op}_variants")())


def launch_kernels(op: str, variant: str) -> list[str]:
    """The kernel functions a variant launches, in order, as its spec declares them."""
    spec = importlib.import_module(f"generator.specs.{op}").SPEC
    (chosen,) = [v for v in spec.variants if v.name == variant]
    return [launch.kernel for launch in chosen.all_launches()]


def run_kernel(op: str, args: tuple, variant: str, order: str = "forward") -> torch.Tensor:
    """Plans `op` on `args` with the forced `variant`, simulates its launches in order and
    returns the output (a tuple for a multi-output op)."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    before = [t.clone() for t in tensors]
    plans, out = getattr(_ops._C, f"plan_{op}")(*args, variant=variant)
    dtype = str(args[0].dtype).split(".")[1]
    expected = [f"{op}_{kernel}_{dtype}" for kernel in launch_kernels(op, variant)]
    assert [plan.kernel for plan in plans] == expected, [plan.kernel for plan in plans]
    sim.run_plan(plans, order=order, check_unwritten=True)
    for tensor, copy in zip(tensors, before, strict=True):
        assert same_bits(tensor, copy), "the kernel modified an input"
    return out


def run_both_orders(op: str, args: tuple, variant: str) -> torch.Tensor:
    """The output of the forward schedule, after checking the reverse one gives the same bits."""
    forward = run_kernel(op, args, variant, "forward")
    reverse = run_kernel(op, args, variant, "reverse")
    pairs = (
        zip(forward, reverse, strict=True) if isinstance(forward, tuple) else [(forward, reverse)]
    )
    assert all(same_bits(a, b) for a, b in pairs), "the result depends on the scheduling order"
    return forward
