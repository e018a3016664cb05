"""Op specs, one module per op family. ``all_specs()`` is the registry the generator reads."""

from __future__ import annotations

import importlib
import pkgutil

from generator.model import OpSpec


def all_specs() -> list[OpSpec]:
    """Every ``SPEC`` in this package, sorted by op name (so output order is deterministic)."""
    specs = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, OpSpec):
            specs.append(spec)
    return sorted(specs, key=lambda spec: spec.name)
