"""Loads the C++ extension (op schemas, reference impls, launch plans) and the fake impls."""

from __future__ import annotations

import torch  # noqa: F401  (the extension links against torch's libraries)

try:
    from torch_metalgen import _C
except ImportError as error:  # pragma: no cover - exercised only by broken installs
    raise ImportError(
        "torch_metalgen._C is not built. From a source checkout run "
        "`pip install --no-build-isolation -e .`; the extension must be built against the "
        f"torch you import ({torch.__version__}). Original error: {error}"
    ) from error

from torch_metalgen import autograd  # noqa: E402,F401  (register_autograd)
from torch_metalgen._generated import fake_impls  # noqa: E402,F401  (register_fake)


def mps_kernels_available() -> bool:
    """True when this build has the Metal kernels and an MPS device is usable now."""
    return bool(_C.mps_kernels_available()) and torch.backends.mps.is_available()
