"""The same rms_norm cases on a real Apple GPU (skipped without one; never faked).

Covers what only the GPU path exercises: the setBuffer offset of contiguous views with a
nonzero storage offset (review 2026-12-mac, finding 9), empty launches, every kernel variant
and dtype with and without a weight, the input distributions of the verifier, opcheck on MPS
tensors and ordering with PyTorch's own work on the stream.
"""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.verify.distributions import DISTRIBUTIONS

pytestmark = pytest.mark.mps

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# One row length per kernel variant (simd_rows <= 512 < single_row <= 4096 < looped).
VARIANT_LENGTHS = [64, 1000, 5000]


@pytest.fixture(autouse=True)
def _needs_mps_kernels():
    if not torch_metalgen._ops.mps_kernels_available():
        pytest.skip("this build has no MPS kernels (built off macOS)")


def reference64(x, weight, eps):
    return REFERENCES["rms_norm"](
        x.cpu().double(), None if weight is None else weight.cpu().double(), eps
    )


@pytest.mark.parametrize("with_weight", [True, False], ids=["weight", "no_weight"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape",
    [(1, 1), (3, 31), (17, 33), (4, 512), (2, 1000), (3, 4096), (2, 4097), (1, 10007)],
    ids=str,
)
def test_matches_float64_reference(shape, dtype, with_weight):
    x = torch.randn(shape).to(dtype)
    weight = torch.randn(shape[-1]).to(dtype) if with_weight else None
    out = torch_metalgen.rms_norm(x.to("mps"), None if weight is None else weight.to("mps"), 1e-5)
    assert out.device.type == "mps" and out.dtype == dtype and out.shape == x.shape
    assert_close_to_reference(out.cpu(), reference64(x, weight, 1e-5))


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n", VARIANT_LENGTHS)
def test_input_distributions(distribution, dtype, n):
    generator = torch.Generator().manual_seed(n)
    x = DISTRIBUTIONS[distribution]((6, n), generator).to(dtype)
    weight = DISTRIBUTIONS[distribution]((n,), generator).to(dtype)
    out = torch_metalgen.rms_norm(x.to("mps"), weight.to("mps"), 1e-6).cpu()
    assert_close_to_reference(out, reference64(x, weight, 1e-6))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n", VARIANT_LENGTHS)
def test_contiguous_views_with_a_storage_offset(dtype, n):
    # Contiguous, so nothing is copied: the kernel reads the caller's buffer at
    # setBuffer:offset: = storage_offset * element_size (odd element offsets included).
    base = torch.randn(8, n, device="mps").to(dtype)
    weight_base = torch.randn(n + 7, device="mps").to(dtype)
    x = base[2:6]
    weight = weight_base[3 : 3 + n]
    assert x.is_contiguous() and x.storage_offset() == 2 * n
    assert weight.is_contiguous() and weight.storage_offset() == 3
    before = base.cpu()
    out = torch_metalgen.rms_norm(x, weight, 1e-6)
    assert out.storage_offset() == 0
    assert_close_to_reference(out.cpu(), reference64(x, weight, 1e-6))
    assert torch.equal(base.cpu(), before)  # the input's storage is only read


def test_noncontiguous_view_on_mps():
    base = torch.randn(8, 70, device="mps")
    x = base[2:6, 3:67]
    assert not x.is_contiguous()
    out = torch_metalgen.rms_norm(x, None).cpu()
    assert_close_to_reference(out, reference64(x, None, 1e-6))


@pytest.mark.parametrize("shape", [(0, 8), (4, 0), (2, 0, 8)], ids=str)
def test_empty_tensors_launch_nothing_and_keep_the_shape(shape):
    x = torch.randn(shape, device="mps")
    weight = torch.ones(shape[-1], device="mps") if shape[-1] else None
    out = torch_metalgen.rms_norm(x, weight)
    assert out.device.type == "mps" and out.shape == x.shape and out.numel() == 0


@pytest.mark.parametrize("with_weight", [True, False], ids=["weight", "no_weight"])
def test_opcheck_on_mps_tensors(with_weight):
    x = torch.randn(3, 70, device="mps", requires_grad=True)
    weight = torch.randn(70, device="mps", requires_grad=True) if with_weight else None
    torch.library.opcheck(torch.ops.metalgen.rms_norm.default, (x, weight, 1e-6))


def test_kernel_is_ordered_with_pytorch_work_on_the_stream():
    # The op encodes into PyTorch's open encoder: the add before and the mul after see it.
    x = torch.randn(64, 256, device="mps")
    y = torch_metalgen.rms_norm(x + 1, None) * 2
    expected = reference64(x + 1, None, 1e-6) * 2
    assert_close_to_reference(y.cpu(), expected)
