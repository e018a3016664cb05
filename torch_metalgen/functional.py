"""Typed Python wrappers of the ``torch.ops.metalgen`` ops: ``torch_metalgen.functional.<op>``.

Generated from the specs (``_generated/functional.py``); this module only re-exports them.
"""

from __future__ import annotations

from torch_metalgen._generated.functional import *  # noqa: F403
from torch_metalgen._generated.functional import __all__  # noqa: F401
