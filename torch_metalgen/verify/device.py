"""Device plumbing shared by the verifier and the benchmark: synchronization, memory poison,
the floating-point precision regime. One place knows the difference between cpu, cuda, mps."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

POISON_VALUES = (float("nan"), 31337.0)  # two runs, two poisons: unwritten elements differ
INT_POISON = -123456789


def resolve_device(name: str | None) -> torch.device:
    """'auto' picks mps, then cuda, then cpu. Unknown or absent devices are a clear error."""
    if name in (None, "auto"):
        if torch.backends.mps.is_available():
            return torch.device("mps")
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available (needs an Apple GPU)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name}: use cpu, cuda or mps")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for all queued work on every stream of the device (rule 12)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def stream_synchronize(device: torch.device) -> None:
    """Wait for the *current* stream only: what a consumer of the output would wait for.
    Work a candidate left on another stream is not waited for, which is how it is caught."""
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()  # MPS has one command queue for PyTorch


def empty_cache(device: torch.device) -> None:
    if device.type == "cpu":
        return  # nothing cached; gc.collect() here would cost ~0.1 s per case
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def poison_free_memory(device: torch.device, sizes: list[int], value: float) -> None:
    """Fill blocks of the given byte sizes with ``value`` and free them, so a caching
    allocator (CUDA, MPS) hands these blocks to the candidate's next allocations: an output
    element the candidate never writes then shows the poison instead of stale results."""
    if device.type == "cpu":
        return  # malloc returns fresh pages; PoisonEmpty covers Python-level allocations
    blocks = [
        torch.full((max(1, n // 4),), value, dtype=torch.float32, device=device) for n in sizes
    ]
    synchronize(device)
    del blocks


class PoisonEmpty(TorchDispatchMode):
    """Fill every tensor made by an ``empty``-family op with a poison value.

    ``torch.empty`` hands back whatever the memory held, possibly a previous correct result
    (the "AI CUDA Engineer" kernel passed by reading the reference's freed output). Poisoning
    the allocation makes every element the candidate did not write visible, on every device.
    """

    EMPTY_OPS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.__name__.split(".")[0] in self.EMPTY_OPS and isinstance(out, torch.Tensor):
            if out.dtype.is_floating_point or out.dtype.is_complex:
                out.fill_(self.value)
            elif out.dtype != torch.bool:
                out.fill_(INT_POISON)
        return out


@contextlib.contextmanager
def poisoned(
    device: torch.device,
    value: float,
    sizes: list[int],
    enabled: bool = True,
    dispatch: bool = True,
) -> Iterator[None]:
    """Poison free device memory and (``dispatch``) Python-level empty allocations."""
    if not enabled:
        yield
        return
    poison_free_memory(device, sizes, value)
    with PoisonEmpty(value) if dispatch else contextlib.nullcontext():
        yield


# Flags that can lower float32 math below IEEE (TF32, bf16 passes): PyTorch's new per-backend
# API and the legacy one. Reading a legacy flag raises once both APIs were mixed, so every read
# is guarded and the unreadable state itself is part of the regime.
_NEW_API = (
    "fp32_precision",
    "cuda.matmul.fp32_precision",
    "cudnn.fp32_precision",
    "cudnn.conv.fp32_precision",
    "mkldnn.fp32_precision",
    "mkldnn.matmul.fp32_precision",
    "mkldnn.conv.fp32_precision",
)
_LEGACY = (
    "cuda.matmul.allow_tf32",
    "cudnn.allow_tf32",
    "cuda.matmul.allow_fp16_reduced_precision_reduction",
    "cuda.matmul.allow_bf16_reduced_precision_reduction",
)


def _resolve(path: str):
    *parents, attr = path.split(".")
    obj = torch.backends
    for part in parents:
        obj = getattr(obj, part, None)
        if obj is None:
            return None, attr
    return obj, attr


def _read(path: str) -> object:
    obj, attr = _resolve(path)
    try:
        return getattr(obj, attr) if obj is not None and hasattr(obj, attr) else None
    except RuntimeError as error:
        return f"unreadable ({str(error)[:60]})"


def precision_regime() -> dict[str, object]:
    """Every float32 precision flag PyTorch has, as a comparable dict."""
    regime: dict[str, object] = {}
    try:
        regime["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    except RuntimeError as error:
        regime["float32_matmul_precision"] = f"unreadable ({str(error)[:60]})"
    for path in (*_NEW_API, *_LEGACY):
        value = _read(path)
        if value is not None:
            regime[path] = value
    return regime


def restore_regime(regime: dict[str, object]) -> None:
    """Put back the flags of ``regime`` (the new API first: it drives the legacy view)."""
    for path in (*_NEW_API, *_LEGACY):
        value = regime.get(path)
        obj, attr = _resolve(path)
        if obj is None or value is None or (isinstance(value, str) and "unreadable" in value):
            continue
        try:
            setattr(obj, attr, value)
        except (RuntimeError, AttributeError, ValueError):
            pass


@contextlib.contextmanager
def strict_float32() -> Iterator[None]:
    """IEEE float32 for matmuls and convolutions while verifying or timing (restored after):
    cuDNN's default allows TF32 convolutions, which eager and compile would then both use."""
    saved = precision_regime()
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        restore_regime(saved)


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        from torch_metalgen.bench.speed_of_light import apple_chip_name

        return apple_chip_name() or "Apple GPU (mps)"
    import platform

    return f"CPU ({platform.processor() or platform.machine()})"
