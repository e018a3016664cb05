"""Test access to the tiny HF models (skips the module when transformers is missing)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from torch_metalgen.tiny_models import (  # noqa: E402
    FAMILIES,
    build,
    example_inputs,
    input_ids,
    is_generative,
)

__all__ = ["FAMILIES", "build", "example_inputs", "input_ids", "is_generative", "modules_of"]

# Max |patched - unpatched| / max |unpatched| on a tiny model's logits: the op tolerance
# grown through 2 layers (to move into the project's one tolerance table).
from torch_metalgen.tolerances import LOGITS_TOLERANCE  # noqa: E402,F401  (the one table)


def modules_of(model: torch.nn.Module, class_name: str) -> list[tuple[str, torch.nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if type(m).__name__ == class_name]
