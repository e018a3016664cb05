"""``patch_on_load()``: patch models as they are built, so nobody patches by hand after
``from_pretrained``.

    with torch_metalgen.patch_on_load(force=True) as session:
        model = AutoModelForCausalLM.from_pretrained(path)
    print(session.report())

While the block runs, a torch module-registration hook notes every module that gets
children. On exit (after ``from_pretrained`` has loaded weights and settled dtypes, which
the patch decision reads) the outermost of those still alive are patched with the options
given. Nothing global outlives the block: the hook is removed on exit.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from torch_metalgen.patching.core import PatchHandle, patch


@dataclass
class LoadSession:
    """The handles of the models ``patch_on_load`` patched, in build order."""

    handles: list[PatchHandle] = field(default_factory=list)

    def undo(self) -> None:
        for handle in self.handles:
            handle.undo()

    def report(self) -> str:
        return "\n".join(handle.report() for handle in self.handles) or "no models were built"


def _roots(parents: list[torch.nn.Module]) -> list[torch.nn.Module]:
    inside = {id(child) for parent in parents for child in parent.modules() if child is not parent}
    return [parent for parent in parents if id(parent) not in inside]


@contextlib.contextmanager
def patch_on_load(**patch_options) -> Iterator[LoadSession]:
    """Patch (``torch_metalgen.patch(model, **patch_options)``) every model built in the
    block; yields a ``LoadSession`` whose ``handles`` fill in when the block exits."""
    unknown = set(patch_options) - {"dry_run", "force", "probe_unknown"}
    if unknown:
        raise TypeError(f"patch_on_load: unknown option(s) {sorted(unknown)}")
    parents: weakref.WeakValueDictionary[int, torch.nn.Module] = weakref.WeakValueDictionary()
    order: list[int] = []

    def note(parent: torch.nn.Module, name: str, child) -> None:
        if id(parent) not in parents:
            parents[id(parent)] = parent
            order.append(id(parent))

    session = LoadSession()
    hook = torch.nn.modules.module.register_module_module_registration_hook(note)
    try:
        yield session
    finally:
        hook.remove()
    alive = [parents[key] for key in dict.fromkeys(order) if key in parents]
    session.handles.extend(patch(model, **patch_options) for model in _roots(alive))
