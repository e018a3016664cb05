"""Shared test configuration: tiers are directories (unit, ops, sim, mps, models)."""

import os

import pytest
import torch

# GitHub-hosted macOS runners report MPS as available, but Apple's Virtualization Framework
# gives them no usable Metal device (GitHub's runner docs; actions/runner-images#9918): their
# CI sets this so the mps tier skips instead of failing or flaking. See docs/mac.md.
SKIP_MPS_ENV = "METALGEN_SKIP_MPS"


def mps_skip_reason() -> str | None:
    """Why tests marked mps cannot run here, or None when a real Apple GPU is usable."""
    if os.environ.get(SKIP_MPS_ENV) == "1":
        return f"{SKIP_MPS_ENV}=1: this machine's MPS device is not a usable Apple GPU"
    if not torch.backends.mps.is_available():
        return "needs a real Apple GPU (torch.backends.mps unavailable)"
    return None


def pytest_collection_modifyitems(config, items):
    # Tests marked mps need a real Apple GPU; never fake one.
    reason = mps_skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "mps" in item.keywords:
            item.add_marker(skip)
