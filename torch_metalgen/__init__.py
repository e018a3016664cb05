"""torch-metalgen: generated Metal kernels for PyTorch on Apple silicon.

    import torch_metalgen
    y = torch_metalgen.rms_norm(x, weight, eps=1e-6)    # or torch.ops.metalgen.rms_norm
    handle = torch_metalgen.patch(model)                 # swap recognized modules
    handle.undo()

On ``mps`` tensors the ops run their Metal kernels; on every other device they run a
reference built from ATen ops. On Linux, ``torch_metalgen.sim.simulate()`` runs the Metal
kernels themselves through the MSL simulator.
"""

from torch_metalgen import (
    _ops,  # noqa: F401  (loads _C: registers torch.ops.metalgen.*)
    nn,
)
from torch_metalgen._version import __version__
from torch_metalgen.functional import rms_norm
from torch_metalgen.patch import PatchHandle, patch

__all__ = ["rms_norm", "patch", "PatchHandle", "nn", "ops_list", "__version__"]


def ops_list() -> list[str]:
    """Names of every op this build registers under ``torch.ops.metalgen``."""
    from torch_metalgen._generated.registry import OPS

    return sorted(OPS)
