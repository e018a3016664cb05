"""Patching by declared semantics: which modules compute which op, and the swap itself.

semantics.py     what a module computes, as data (op, eps attribute, offset, casting)
families.py      the tables: known classes per model family, hub layer names, activations
capabilities.py  what the op registry serves (the one place that reads it)
adapters.py      one adapter per semantic kind: checks and the op call
rotary.py        an attention's rotary call, through transformers' hub-kernel routing
forwards.py      the per-instance forward / extra_repr replacements
probe.py         the opt-in strict probe for undeclared classes
core.py          patch(), unpatch(), PatchHandle
on_load.py       patch_on_load(): patch models as they are built
"""

from torch_metalgen.patching.core import PatchHandle, PatchRecord, patch, unpatch
from torch_metalgen.patching.on_load import LoadSession, patch_on_load

__all__ = ["patch", "unpatch", "patch_on_load", "PatchHandle", "PatchRecord", "LoadSession"]
