"""Fixtures for the harness self-tests (helpers live in harness_helpers.py)."""

from __future__ import annotations

import pytest
from harness_helpers import RMS_NORM

from torch_metalgen.problems import load_problem


@pytest.fixture
def rms_problem():
    return load_problem(RMS_NORM)  # fresh module per test: spies on Model cannot leak
