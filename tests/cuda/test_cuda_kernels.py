"""Every project kernel through the CUDA back end (GPU): each op x variant x dtype at the
specs' sample sizes against float64 (registry-driven: a new op is covered by itself), the
dispatch mode on torch.ops.metalgen.*, and launches it must refuse."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from tests.cuda.tier import require_gpu
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.tolerances import mismatch

pytestmark = pytest.mark.cuda

FEATURES = Path(__file__).resolve().parent / "kernels" / "features.metal"


def _all_cases():
    from torch_metalgen.sim.cuda.cases import all_cases

    return all_cases()


@pytest.mark.parametrize("case", _all_cases(), ids=lambda c: c.name)
def test_every_kernel_matches_float64(case):
    require_gpu()
    from torch_metalgen.sim.cuda.cases import run_case

    outcome = run_case(case)
    if outcome.status == "skip":
        pytest.skip(outcome.reason)
    assert outcome.status == "pass", f"{case.name} ({'+'.join(outcome.kernels)}): {outcome.reason}"


@pytest.mark.parametrize(
    "case",
    list({(c.op, c.dtype): c for c in _all_cases()}.values()),  # one per op x dtype
    ids=lambda c: f"{c.op}/{c.dtype}",
)
def test_every_case_has_float64_expected_outputs(case):
    # No GPU needed: the reference half of run_case. It once turned packed uint32 weights into
    # float64, so every quantized case failed on the GPU before a kernel was compared.
    from torch_metalgen.sim.cuda.cases import expected_outputs, sample_arguments

    args = sample_arguments(case)
    outputs = expected_outputs(case.op, args)
    assert outputs and all(o.dtype == torch.float64 and o.isfinite().all() for o in outputs)


def test_extension_errors_reach_python():
    # No GPU needed. The lent H100s once linked _C.so against a second libstdc++: every C++
    # exception (an argument check, a refused variant) then killed the process, and the tier's
    # pytest run with it. The check scripts/cuda_tier.sh runs after building:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "torch_metalgen.sim.cuda.sweep", "exceptions"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "ok: ValueError" in done.stdout, done.stdout + done.stderr


def test_ops_run_the_metal_kernels_under_enable():
    require_gpu()
    import torch_metalgen  # noqa: F401
    from torch_metalgen.sim import cuda

    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(33, 4097, generator=g), torch.randn(4097, generator=g)
    with cuda.enable() as mode:
        y = torch.ops.metalgen.rms_norm(x.cuda(), w.cuda(), 1e-6)
    assert mode.launches == ["rms_norm_looped_float32"]
    assert y.device.type == "cuda"
    assert not mismatch(y.cpu(), REFERENCES["rms_norm"](x.double(), w.double(), 1e-6))
    with cuda.enable(variant="single_row"), pytest.raises(cuda.VariantNotApplicable):
        torch.ops.metalgen.rms_norm(x.cuda(), w.cuda(), 1e-6)  # 4097 > single_row's limit


def test_malformed_launches_are_refused_before_running():
    require_gpu()
    from torch_metalgen.sim import LaunchArgumentError, cuda

    library = cuda.compile_library(FEATURES)
    out = torch.empty(64, device="cuda")
    with pytest.raises(LaunchArgumentError, match="reads buffer\\(0\\)"):
        library.launch("simd_functions", buffers={1: out}, grid=(64,), threadgroup=(64,))
    with pytest.raises(LaunchArgumentError, match="must be a torch.Tensor on cuda"):
        library.launch(
            "simd_functions", buffers={0: torch.empty(64), 1: out}, grid=(64,), threadgroup=(64,)
        )
    with pytest.raises(LaunchArgumentError, match="threads per threadgroup"):
        library.launch(
            "simd_functions", buffers={0: out, 1: out}, grid=(2048,), threadgroup=(2048,)
        )
    with pytest.raises(LaunchArgumentError, match="needs 8 bytes"):
        library.launch(
            "bindings",
            buffers={0: out, 3: out},
            bytes={1: struct.pack("f", 1.0), 2: struct.pack("f", 1.0)},
            threadgroup_memory={0: 256},
            grid=(64,),
            threadgroup=(64,),
        )
    with pytest.raises(LaunchArgumentError, match="no kernel 'nope'"):
        library.launch("nope")
