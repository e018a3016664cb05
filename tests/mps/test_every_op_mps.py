"""Every op of the generated registry on a real Apple GPU (skipped without one; never faked).

Driven by ``_generated/registry.py`` and each spec's ``samples``, as tests/ops/test_every_op.py
is on the CPU, so an op added later is run on the GPU by its first Mac CI run without a line
here: its Metal kernels against the float64 reference, in every dtype, with inputs left
unchanged, the same bits on a second run, and opcheck on MPS tensors. The op-specific mps
tests (test_rms_norm_mps.py, test_quantized_linear_mps.py) cover variants and edge cases.
"""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import float64_inputs, mismatch
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS
from torch_metalgen._generated.samples import SAMPLES

pytestmark = pytest.mark.mps

CASES = [(op, getattr(torch, dtype)) for op, info in OPS.items() for dtype in info["dtypes"]]


@pytest.fixture(autouse=True)
def _needs_mps_kernels():
    if not torch_metalgen._ops.mps_kernels_available():
        pytest.skip("this build has no MPS kernels (built off macOS)")


def _tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _to(args, device: str) -> list:
    return [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]


def run_on(device: str, op: str, dtype: torch.dtype) -> tuple[tuple, list]:
    """The op on ``device`` for its samples: (outputs on the CPU, the CPU arguments)."""
    args = SAMPLES[op](dtype, torch.Generator().manual_seed(0))
    moved = _to(args, device)
    before = [a.clone() for a in moved if isinstance(a, torch.Tensor)]
    outputs = _tuple(getattr(torch.ops.metalgen, op)(*moved))
    after = [a for a in moved if isinstance(a, torch.Tensor)]
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True)), (
        f"{op} modified an input"
    )
    return tuple(o.cpu() for o in outputs), args


@pytest.mark.parametrize("op, dtype", CASES, ids=str)
def test_op_on_the_gpu_matches_the_float64_reference(op, dtype):
    outputs, args = run_on("mps", op, dtype)
    expected = _tuple(REFERENCES[op](*float64_inputs(args)))
    assert len(outputs) == len(expected)
    for actual, reference in zip(outputs, expected, strict=True):
        assert actual.dtype == dtype
        problem = mismatch(actual, reference)
        assert not problem, f"{op} {dtype}: {problem}"
    again, _ = run_on("mps", op, dtype)
    for first, second in zip(outputs, again, strict=True):
        assert torch.equal(first.view(torch.uint8), second.view(torch.uint8)), "not deterministic"


@pytest.mark.parametrize("op", sorted(OPS))
def test_opcheck_on_mps_tensors(op):
    args = _to(SAMPLES[op](torch.float32, torch.Generator().manual_seed(0)), "mps")
    torch.library.opcheck(getattr(torch.ops.metalgen, op).default, tuple(args))
