"""Torch compatibility policy: the extension works only with the torch it was built against.

A C++ extension links against libtorch's C++ ABI, which changes between torch feature releases
(2.13 -> 2.14): a mismatch fails at import with an undefined symbol, or worse, loads and
misbehaves. setup.py's build_ext records the build's torch in ``_built_torch.py``; importing
torch_metalgen compares it with the running torch (same major.minor release required; patch
releases keep the ABI) and fails with the one-line fix. Builds that carry no record (an
extension copied in by hand) are not checked.
"""

from __future__ import annotations

import re

import torch


def feature_release(version: str) -> tuple[int, int]:
    """(major, minor) of a torch version string such as '2.13.0+cpu'."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"version: expected a torch version like '2.13.0', got {version!r}")
    return int(match[1]), int(match[2])


def mismatch_message(built: str, running: str) -> str | None:
    """The error to raise when the running torch cannot load an extension built for `built`."""
    if feature_release(built) == feature_release(running):
        return None
    major, minor = feature_release(built)
    return (
        f"torch_metalgen was built against torch {built} but torch {running} is installed; "
        f"a C++ extension only loads with the torch it was built for. Fix: "
        f"`pip install 'torch=={major}.{minor}.*'`, or rebuild torch-metalgen against this "
        "torch (`pip install --no-build-isolation --no-cache-dir --force-reinstall "
        "torch-metalgen`; from a checkout `pip install --no-build-isolation -e .`)."
    )


def built_torch() -> str | None:
    """The torch version recorded by the build, or None when the build left no record."""
    try:
        from torch_metalgen._built_torch import BUILT_TORCH
    except ImportError:
        return None
    return BUILT_TORCH


def require_matching_torch() -> None:
    """Raises ImportError with the fix when the running torch differs from the build's."""
    built = built_torch()
    message = None if built is None else mismatch_message(built, torch.__version__)
    if message is not None:
        raise ImportError(message)


require_matching_torch()
