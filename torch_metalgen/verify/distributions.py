"""Input distributions (rule 5). Each refills the floating-point inputs a problem allows,
keeping their shapes; the problem's own ``get_inputs`` draw is kept as "native"."""

from __future__ import annotations

from collections.abc import Callable

import torch

Sampler = Callable[[tuple[int, ...], torch.Generator], torch.Tensor]


def _normal(shape, gen):
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def _uniform(shape, gen):
    return torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1


def _laplace(shape, gen):
    u = torch.rand(shape, generator=gen, dtype=torch.float64) - 0.5
    return -torch.sign(u) * torch.log1p(-2 * u.abs())


def _exponential(shape, gen):
    return -torch.log1p(-torch.rand(shape, generator=gen, dtype=torch.float64))


def _lognormal(shape, gen):
    return torch.exp(torch.randn(shape, generator=gen, dtype=torch.float64))


def _pareto(shape, gen):
    # heavy tail, alpha = 3 (finite variance, so sums stay finite in fp16), random sign
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    sign = torch.where(torch.rand(shape, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
    return sign * (1 - u).pow(-1 / 3)


def _large_offset(shape, gen):
    # mean 100, std 1: catches naive E[x^2] - E[x]^2 variance and un-shifted exp
    return 100 + torch.randn(shape, generator=gen, dtype=torch.float64)


def _nonfinite(shape, gen):
    x = torch.randn(shape, generator=gen, dtype=torch.float64).flatten()
    n = x.numel()
    if n:
        picks = torch.randperm(n, generator=gen)[: max(3, n // 1000)]
        specials = torch.tensor([float("inf"), float("-inf"), float("nan")], dtype=x.dtype)
        x[picks] = specials[torch.arange(picks.numel()) % 3]
    return x.reshape(shape)


DISTRIBUTIONS: dict[str, Sampler] = {
    "normal": _normal,
    "uniform": _uniform,
    "laplace": _laplace,
    "exponential": _exponential,
    "lognormal": _lognormal,
    "pareto": _pareto,
    "offset100": _large_offset,
}
NONFINITE = "inf-nan"
NATIVE = "native"  # the problem's own get_inputs() draw


def distribution_argument(text: str) -> str:
    """argparse ``type=`` for a distribution name: a typo is a usage error naming the choices."""
    import argparse

    known = (NATIVE, *DISTRIBUTIONS, NONFINITE)
    if text not in known:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(known)}")
    return text


def all_distributions(nonfinite: bool) -> tuple[str, ...]:
    names = (NATIVE, *DISTRIBUTIONS)
    return (*names, NONFINITE) if nonfinite else names


def refill(inputs: list, distribution: str, seed: int, allowed: tuple[int, ...] | None) -> list:
    """Replace allowed floating-point inputs with draws from ``distribution`` (same dtype)."""
    if distribution == NATIVE:
        return inputs
    sampler = _nonfinite if distribution == NONFINITE else DISTRIBUTIONS.get(distribution)
    if sampler is None:
        raise ValueError(
            f"distribution {distribution!r} is not one of {[NATIVE, *DISTRIBUTIONS, NONFINITE]}"
        )
    gen = torch.Generator().manual_seed(seed)
    out = []
    for index, value in enumerate(inputs):
        wanted = allowed is None or index in allowed
        if wanted and isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
            value = sampler(tuple(value.shape), gen).to(value.dtype)
        out.append(value)
    return out
