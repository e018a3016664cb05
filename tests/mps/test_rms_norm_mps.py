"""The same rms_norm cases on a real Apple GPU (skipped without one; never faked)."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES

pytestmark = pytest.mark.mps


@pytest.fixture(autouse=True)
def _needs_mps_kernels():
    if not torch_metalgen._ops.mps_kernels_available():
        pytest.skip("this build has no MPS kernels (built off macOS)")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "shape",
    [(1, 1), (3, 31), (17, 33), (4, 512), (2, 1000), (3, 4096), (2, 4097), (1, 10007)],
    ids=str,
)
def test_matches_float64_reference(shape, dtype):
    x = torch.randn(shape).to(dtype)
    weight = torch.randn(shape[-1]).to(dtype)
    out = torch_metalgen.rms_norm(x.to("mps"), weight.to("mps"), 1e-5).cpu()
    expected = REFERENCES["rms_norm"](x.double(), weight.double(), 1e-5)
    assert_close_to_reference(out, expected)


def test_views_and_offsets_on_mps():
    base = torch.randn(8, 70, device="mps")
    x = base[2:6, 3:67]
    out = torch_metalgen.rms_norm(x, None).cpu()
    assert_close_to_reference(out, REFERENCES["rms_norm"](x.cpu().double(), None, 1e-6))


def test_kernel_is_ordered_with_pytorch_work_on_the_stream():
    # The op encodes into PyTorch's open encoder: the add before and the mul after see it.
    x = torch.randn(64, 256, device="mps")
    y = torch_metalgen.rms_norm(x + 1, None) * 2
    expected = REFERENCES["rms_norm"]((x + 1).cpu().double(), None, 1e-6) * 2
    assert_close_to_reference(y.cpu(), expected)
