"""What every op in the generated registry must do, whatever its spec: driven by
``_generated/registry.py`` and each spec's ``samples``, so a new op is covered without a
line here. The op-specific tests (tests/ops/test_<op>_op.py) cover its own edge cases."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.tolerances import float64_inputs, mismatch
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS
from torch_metalgen._generated.samples import SAMPLES

CASES = [(op, getattr(torch, dtype)) for op, info in OPS.items() for dtype in info["dtypes"]]


def _tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _call(op, args):
    return getattr(torch.ops.metalgen, op)(*args)


@pytest.mark.parametrize("op, dtype", CASES, ids=str)
def test_cpu_reference_impl_matches_the_torch_reference(op, dtype):
    # The C++ reference impl (spec.cpu_reference) is checked against the spec's
    # torch_reference, the one definition of the op's math.
    args = SAMPLES[op](dtype, torch.Generator().manual_seed(0))
    outputs = _tuple(_call(op, args))
    expected = _tuple(REFERENCES[op](*float64_inputs(args)))
    assert len(outputs) == len(expected) == len(OPS[op]["outputs"])
    for actual, reference in zip(outputs, expected, strict=True):
        assert actual.dtype == dtype
        problem = mismatch(actual, reference)
        assert not problem, problem


@pytest.mark.parametrize("op", sorted(OPS))
def test_fake_impl_gives_the_real_shapes_and_dtypes(op):
    from torch._subclasses.fake_tensor import FakeTensorMode

    args = SAMPLES[op](torch.float16, torch.Generator().manual_seed(0))
    real = _tuple(_call(op, args))
    with FakeTensorMode() as mode:
        fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
        fake = _tuple(_call(op, fake_args))
    assert [(f.shape, f.dtype) for f in fake] == [(r.shape, r.dtype) for r in real]
    assert all(f.is_contiguous() for f in fake)


@pytest.mark.parametrize("op", sorted(OPS))
def test_public_wrapper_exists_and_names_a_non_tensor_argument(op):
    wrapper = getattr(torch_metalgen, op)
    assert wrapper is getattr(torch_metalgen.functional, op)
    assert op in torch_metalgen.ops_list()
    args = SAMPLES[op](torch.float32, torch.Generator().manual_seed(0))
    first = OPS[op]["arguments"][0][1]
    with pytest.raises(TypeError, match=f"{op}: {first} must be a torch.Tensor, got list"):
        wrapper([1.0, 2.0], *args[1:])
    _tuple(wrapper(*args))  # and the wrapper runs the op


@pytest.mark.parametrize("op", sorted(OPS))
def test_opcheck_on_the_samples(op):
    args = SAMPLES[op](torch.float32, torch.Generator().manual_seed(0))
    torch.library.opcheck(getattr(torch.ops.metalgen, op).default, tuple(args))


@pytest.mark.parametrize("op", [op for op, info in OPS.items() if info["autograd"] == "reference"])
def test_backward_matches_float64_autograd_of_the_reference(op):
    args = SAMPLES[op](torch.float32, torch.Generator().manual_seed(0))
    leaves = [a.clone().requires_grad_() if isinstance(a, torch.Tensor) else a for a in args]
    outputs = _tuple(_call(op, leaves))
    grads = [torch.randn_like(o) for o in outputs]
    torch.autograd.backward(outputs, grads)
    leaves64 = [
        a.detach().double().requires_grad_() if isinstance(a, torch.Tensor) else a for a in args
    ]
    expected = _tuple(REFERENCES[op](*leaves64))
    torch.autograd.backward(expected, [g.double() for g in grads])
    for leaf, leaf64 in zip(leaves, leaves64, strict=True):
        if isinstance(leaf, torch.Tensor):
            torch.testing.assert_close(leaf.grad.double(), leaf64.grad, rtol=1e-4, atol=1e-5)
