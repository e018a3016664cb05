"""torch-metalgen: generated Metal kernels for PyTorch on Apple silicon.

    import torch_metalgen
    y = torch_metalgen.rms_norm(x, weight, eps=1e-6)    # or torch.ops.metalgen.rms_norm
    handle = torch_metalgen.patch(model)                 # swap recognized modules
    torch_metalgen.register_attention()                  # attn_implementation="metalgen"
    handle.undo()                                        # or torch_metalgen.unpatch(model)
    print(torch_metalgen.quantize(model, bits=4))        # nn.Linear -> int4 QuantizedLinear
    with torch_metalgen.patch_on_load(): model = ...     # patch models as they are built

On ``mps`` tensors the ops run their Metal kernels; on every other device they run a
reference built from ATen ops. On Linux, ``torch_metalgen.sim.simulate()`` runs the Metal
kernels themselves through the MSL simulator.
"""

from torch_metalgen import (
    _compat,  # noqa: F401  (first: fails with the fix when torch differs from the build's)
    _ops,  # noqa: F401  (loads _C: registers torch.ops.metalgen.*)
    functional,
    nn,
)
from torch_metalgen._version import __version__
from torch_metalgen.attention import register_attention
from torch_metalgen.functional import *  # noqa: F403  (one wrapper per op spec)
from torch_metalgen.patching import PatchHandle, patch, patch_on_load, unpatch
from torch_metalgen.quantization import (
    QuantizationReport,
    load_mlx_state_dict,
    load_quantized_state_dict,
    quantize,
    quantize_weight,
)

__all__ = [
    *functional.__all__,
    "patch",
    "unpatch",
    "patch_on_load",
    "register_attention",
    "PatchHandle",
    "quantize",
    "quantize_weight",
    "QuantizationReport",
    "load_quantized_state_dict",
    "load_mlx_state_dict",
    "nn",
    "ops_list",
    "__version__",
]


def ops_list() -> list[str]:
    """Names of every op this build registers under ``torch.ops.metalgen``."""
    from torch_metalgen._generated.registry import OPS

    return sorted(OPS)


def _install_tuning() -> None:
    """On a Mac, the user's launch preferences (``python -m torch_metalgen tune``)."""
    import torch

    if not torch.backends.mps.is_available():
        return
    try:
        from torch_metalgen import tuning

        tuning.install()
    except Exception as error:  # a damaged table costs speed, never the import
        import warnings

        warnings.warn(f"torch_metalgen: launch preferences not installed: {error}", stacklevel=2)


_install_tuning()
