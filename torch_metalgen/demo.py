"""``python -m torch_metalgen demo``: patch a small transformer, run it, compare.

On a Mac with MPS the patched model runs the Metal kernels natively and the demo also
times both models. Elsewhere the patched model runs the same Metal kernels through the
MSL simulator (``torch_metalgen.sim``) on the CPU: slow, but the real kernel code.
"""

from __future__ import annotations

import statistics
import time

import torch

import torch_metalgen
from torch_metalgen import tiny_models
from torch_metalgen.tolerances import LOGITS_TOLERANCE


def resolve_device(name: str) -> torch.device:
    """The device ``--device NAME`` asks for; ``ValueError`` (one line, naming the fix) when it
    is not a device name or not present on this machine, so the CLI exits without a traceback."""
    if name == "auto":
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "mps", "cuda"):
        raise ValueError(f"--device {name!r}: expected auto, cpu, mps or cuda[:N]")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "--device mps: no MPS device here (torch.backends.mps.is_available() is False; it "
            "needs Apple silicon, macOS 14+ and a macOS torch build); use --device auto or cpu, "
            "which run the same Metal kernels through the simulator"
        )
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"--device {name}: no CUDA device here (torch.cuda.is_available() is False); "
                "use --device auto or cpu"
            )
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {name}: this machine has {count} CUDA device(s)")
    return device


def _median_ms(fn, repeats: int = 20) -> float:
    fn()
    torch.mps.synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.mps.synchronize()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def run_demo(dtype_name: str = "float32", device_name: str = "auto") -> int:
    dtype = getattr(torch, dtype_name)
    device = resolve_device(device_name)
    native = device.type == "mps" and torch_metalgen._ops.mps_kernels_available()
    model = tiny_models.build("llama", dtype).to(device)
    input_ids = tiny_models.input_ids(batch=2, length=16).to(device)
    print(f"tiny Llama (2 layers, hidden 64, random weights) in {dtype_name} on {device}")

    with torch.no_grad():
        expected = model(input_ids).logits
        handle = torch_metalgen.patch(model, force=not native)
        print(handle.report())
        if native:
            how = "Metal kernels on the GPU"
            actual = model(input_ids).logits
        else:
            from torch_metalgen import sim

            how = "Metal kernels through the MSL simulator (torch_metalgen.sim)"
            with sim.simulate():
                actual = model(input_ids).logits
        print(f"patched model ran the {how}")
        error = (actual.double() - expected.double()).abs().max().item()
        scale = expected.double().abs().max().item()
        relative = error / scale
        tolerance = LOGITS_TOLERANCE[dtype]
        ok = relative <= tolerance and len(handle.swapped) > 0
        print(
            f"max |patched - unpatched| = {error:.3e} (relative {relative:.3e}, "
            f"tolerance {tolerance:.0e}): {'OK' if ok else 'MISMATCH'}"
        )
        if native:
            patched_ms = _median_ms(lambda: model(input_ids))
            handle.undo()
            unpatched_ms = _median_ms(lambda: model(input_ids))
            print(
                f"forward: unpatched {unpatched_ms:.3f} ms, patched {patched_ms:.3f} ms, "
                f"speedup {unpatched_ms / patched_ms:.2f}x (median of 20)"
            )
        handle.undo()
    return 0 if ok else 1
