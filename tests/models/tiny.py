"""Test access to the tiny HF models (skips the module when transformers is missing)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from torch_metalgen.tiny_models import FAMILIES, build, input_ids  # noqa: E402

__all__ = ["FAMILIES", "build", "input_ids", "norm_count"]


def norm_count(model: torch.nn.Module, class_name: str) -> int:
    return sum(type(m).__name__ == class_name for m in model.modules())
