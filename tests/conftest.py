"""Shared test configuration: tiers are directories (unit, ops, sim, mps, models)."""

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    # Tests marked mps need a real Apple GPU; never fake one.
    if torch.backends.mps.is_available():
        return
    skip = pytest.mark.skip(reason="needs a real Apple GPU (torch.backends.mps unavailable)")
    for item in items:
        if "mps" in item.keywords:
            item.add_marker(skip)
