"""The opt-in probe for classes no table declares (``patch(..., probe_unknown=True)``).

A probe can only confirm, so it is built to expose a wrong match: it runs a float32 copy of
the module (never the module itself, never its hooks) on inputs with a nonzero mean, an
outlier channel, a large offset and tiny values, under several weight draws, against the
float64 math of each hypothesis, at float32 tolerance. A hypothesis is accepted only when it
alone agrees everywhere, and then for float32 only: a float32 probe cannot tell how the
class rounds in half precision.
"""

from __future__ import annotations

import copy

import torch

from torch_metalgen.patching.semantics import NormSemantics

# float32 forward vs the float64 math: a few float32 ulps of the row's scale.
RTOL, ATOL = 1e-5, 1e-5
EPS_ATTRIBUTES = ("variance_epsilon", "eps")


def _rms_norm64(x, weight, eps, offset):
    normalized = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return normalized if weight is None else normalized * (offset + weight)


def hypotheses(module: torch.nn.Module) -> list[NormSemantics]:
    """RMSNorm readings of the module's attributes (plain and Gemma's offset)."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 1:
        return []
    for eps in EPS_ATTRIBUTES:
        value = getattr(module, eps, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return [
                NormSemantics("rms_norm", eps=eps, casting=None, offset=offset)
                for offset in (0.0, 1.0)
            ]
    return []


def _inputs(hidden: int, generator: torch.Generator) -> torch.Tensor:
    rows = [
        torch.randn(hidden, generator=generator) + 3.0,  # nonzero mean: LayerNorm differs
        torch.randn(hidden, generator=generator) * 0.5 + 1e3,  # large offset
        torch.randn(hidden, generator=generator) * 1e-3,  # eps matters
        torch.randn(hidden, generator=generator),
    ]
    outlier = torch.randn(hidden, generator=generator)
    outlier[hidden // 3] = 80.0  # a clamp or a saturating nonlinearity shows here
    rows.append(outlier)
    return torch.stack(rows).double()


def _weight_draws(hidden: int, generator: torch.Generator) -> list[torch.Tensor]:
    return [
        1.0 + 0.1 * torch.randn(hidden, generator=generator),
        3.0 * torch.randn(hidden, generator=generator),  # signs and zeros crossings
        torch.randn(hidden, generator=generator) - 1.0,  # (1 + weight) near 0
    ]


def probe(module: torch.nn.Module) -> tuple[NormSemantics | None, str]:
    """(semantics, "") when exactly one hypothesis matches, else (None, why not)."""
    candidates = hypotheses(module)
    if not candidates:
        return None, "unknown class without a 1-D weight and a positive eps/variance_epsilon"
    if any(tensor.is_meta for tensor in [*module.parameters(), *module.buffers()]):
        return None, "unknown class on the meta device: nothing to probe"
    extra = [name for name, _ in module.named_parameters() if name != "weight"]
    extra += [name for name, _ in module.named_buffers()]
    if extra:
        return None, f"unknown class holds {', '.join(extra)}, which an rms_norm would ignore"
    replica = copy.deepcopy(module).to(device="cpu", dtype=torch.float32)
    forward = type(replica).forward  # the class's math; no hooks, no instance overrides
    generator = torch.Generator().manual_seed(0)
    hidden = replica.weight.numel()
    x64 = _inputs(hidden, generator)
    agree = list(candidates)
    with torch.no_grad():
        for weight in _weight_draws(hidden, generator):
            replica.weight.copy_(weight)
            try:
                actual = forward(replica, x64.float())
            except Exception as error:  # a module that can't take (rows, hidden) is not ours
                return None, f"probe forward failed: {type(error).__name__}: {error}"
            if not isinstance(actual, torch.Tensor) or actual.shape != x64.shape:
                return None, "probe output has another shape than its input"
            for candidate in list(agree):
                eps = float(getattr(replica, candidate.eps))
                expected = _rms_norm64(x64, weight.double(), eps, candidate.offset)
                if not torch.allclose(actual.double(), expected, rtol=RTOL, atol=ATOL):
                    agree.remove(candidate)
    if len(agree) != 1:
        return None, (
            "probe: the forward is not x * rsqrt(mean(x^2) + eps) * (offset + weight) on "
            "nonzero-mean / outlier inputs (a LayerNorm, a clamp or another form)"
        )
    return agree[0], ""
