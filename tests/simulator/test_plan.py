"""LaunchPlans from the project's C++ extension, and simulate() over torch.ops.metalgen."""

from __future__ import annotations

import pytest
import torch

from torch_metalgen import sim

_C = pytest.importorskip(
    "torch_metalgen._C",
    reason="torch_metalgen._C is not built "
    "(pip install --no-build-isolation -e .); it provides the LaunchPlans",
)


def _reference(x, weight, eps):
    x64 = x.double()
    y = x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps)
    return y * weight.double() if weight is not None else y


def test_metal_source_dir_finds_the_repository_sources():
    assert (sim.metal_source_dir() / "rms_norm.metal").is_file()


@pytest.mark.parametrize("shape", [(64, 4096), (3, 33), (2, 5000), (1, 1)])
def test_run_plan_rms_norm(shape):
    x = torch.randn(*shape)
    weight = torch.randn(shape[-1])
    plans, out = _C.plan_rms_norm(x, weight, 1e-6)
    sim.run_plan(plans, check_orders=True)
    torch.testing.assert_close(out.double(), _reference(x, weight, 1e-6), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_simulate_runs_the_metal_kernel_instead_of_the_reference(dtype):
    import torch_metalgen  # noqa: F401  (registers torch.ops.metalgen)

    x = torch.randn(4, 300, dtype=dtype)
    weight = torch.randn(300, dtype=dtype)
    with sim.simulate(check_orders=True) as mode:
        y = torch.ops.metalgen.rms_norm(x, weight, 1e-5)
        z = torch.relu(y)  # other ops pass through
    assert len(mode.launches) == 1 and mode.launches[0].startswith("rms_norm_")
    tolerance = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    torch.testing.assert_close(
        y.double(), _reference(x, weight, 1e-5), rtol=tolerance, atol=tolerance
    )
    assert torch.equal(z, torch.relu(y))
