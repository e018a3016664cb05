"""Baselines (rule 16): PyTorch eager and torch.compile (Inductor) on the same device, dtype
and process; MLX where it is installed and the problem gives an MLX version. Each says why
it is unavailable instead of silently dropping out."""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import torch

from torch_metalgen.problems import Problem


def _available(problem: Problem, device: torch.device) -> str | None:
    return None


@dataclass
class Baseline:
    """``build(problem, model, init_inputs, device, dtype)`` makes the timed callable;
    ``unavailable(problem, device)`` says why it cannot run here, or None."""

    name: str
    build: Callable[[Problem, torch.nn.Module, list, torch.device, torch.dtype], object]
    unavailable: Callable[[Problem, torch.device], str | None] = _available


def _eager(problem, model, init, device, dtype):
    return copy.deepcopy(model).to(device, dtype).eval()


def _compiled(problem, model, init, device, dtype):
    torch._dynamo.reset()  # fresh caches: no recompile limit carried over between problems
    return torch.compile(copy.deepcopy(model).to(device, dtype).eval(), dynamic=False)


def _mlx_unavailable(problem: Problem, device: torch.device) -> str | None:
    if device.type != "mps":
        return "MLX runs on Apple GPUs only"
    if importlib.util.find_spec("mlx") is None:
        return "mlx is not installed (pip install mlx)"
    # MLX has its own arrays and queue: timing it fairly needs inputs made in MLX up front
    # and mx.eval as the synchronize. Until that exists, say so rather than time conversions.
    return "MLX timing is not implemented in this harness yet"


def _mlx(problem, model, init, device, dtype):
    raise NotImplementedError("MLX baseline: see _mlx_unavailable")


BASELINES = {
    "eager": Baseline("eager", _eager),
    "compile": Baseline("compile", _compiled),
    "mlx": Baseline("mlx", _mlx, _mlx_unavailable),
}
