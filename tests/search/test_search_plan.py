"""The Python launch plan (generator/search/plan.py) against the C++ plan the extension was
built with: same kernels, geometry, params bytes and bindings for every spec, dtype,
variant and pipeline limit, at the spec's constants. And the C++-expression subset."""

from __future__ import annotations

import pytest
import torch

from generator.search.plan import contiguous_arguments, plan, sizes_of
from generator.specs import all_specs
from torch_metalgen import _ops
from torch_metalgen.spec_expressions import ExpressionError, evaluate

SPECS = {s.name: s for s in all_specs()}


def _variations(spec, dtype, generator):
    """The spec's samples, plus one row of x where the op takes that with the sample's other
    arguments (odd shapes reach other variants): an op that refuses it (residual, k or
    scales of the sample's shape) is compared on its samples alone."""
    arguments = spec.samples(dtype, generator)
    found = [arguments]
    x = arguments[0]
    if x.dim() > 1:
        one_row = (x[..., :1, :].contiguous(), *arguments[1:])
        try:
            getattr(_ops._C, f"plan_{spec.name}")(*contiguous_arguments(spec, one_row))
            found.append(one_row)
        except (ValueError, RuntimeError):
            pass
    return found


@pytest.mark.parametrize("op", sorted(SPECS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_python_plan_matches_the_built_plan(op, dtype):
    spec = SPECS[op]
    generator = torch.Generator().manual_seed(3)
    compared = 0
    for arguments in _variations(spec, dtype, generator):
        arguments = contiguous_arguments(spec, arguments)
        for variant in ["", *(v.name for v in spec.variants)]:
            for limit in (1024, 256, 64):
                try:
                    built, outputs = getattr(_ops._C, f"plan_{op}")(
                        *arguments, variant=variant, max_threads=limit
                    )
                except (ValueError, RuntimeError) as error:  # the Python plan refuses too
                    outs = getattr(_ops._C, f"plan_{op}")(*arguments)[1]  # the arguments are valid
                    outs = outs if isinstance(outs, tuple) else (outs,)
                    with pytest.raises((ValueError, RuntimeError)):
                        plan(spec, arguments, outs, variant=variant, max_threads=limit)
                    assert str(error)
                    continue
                outs = outputs if isinstance(outputs, tuple) else (outputs,)
                ours = plan(spec, arguments, outs, variant=variant, max_threads=limit)
                assert [p.kernel for p in ours] == [p.kernel for p in built]
                for mine, theirs in zip(ours, built, strict=True):
                    assert mine.grid == tuple(theirs.grid)
                    assert mine.threadgroup == tuple(theirs.threadgroup)
                    assert mine.dispatch == theirs.dispatch
                    assert mine.bytes == [(int(i), bytes(d)) for i, d in theirs.bytes]
                    assert [(i, o) for i, _, o in mine.buffers] == [
                        (int(i), bool(o)) for i, _, o in theirs.buffers
                    ]
                    assert mine.threadgroup_memory == [
                        (int(i), int(n)) for i, n in theirs.threadgroup_memory
                    ]
                    for (_, a, _), (_, b, _) in zip(mine.buffers, theirs.buffers, strict=True):
                        # arguments and outputs are the very tensors; temporaries alike
                        assert a.data_ptr() == b.data_ptr() or (
                            a.shape == b.shape and a.dtype == b.dtype
                        )
                compared += 1
    assert compared >= len(spec.variants)


def test_other_constants_change_the_plan():
    spec = SPECS["rms_norm"]
    x = torch.randn(20, 300)
    _, out = _ops._C.plan_rms_norm(x, None, 1e-6)
    shipped = plan(spec, (x, None, 1e-6, 0.0, "gemma"), (out,))
    tuned = plan(spec, (x, None, 1e-6, 0.0, "gemma"), (out,), {"ROWS_PER_THREADGROUP": 4})
    assert shipped[0].grid == (3, 1, 1) and shipped[0].threadgroup == (256, 1, 1)
    assert tuned[0].grid == (5, 1, 1) and tuned[0].threadgroup == (128, 1, 1)
    looped = plan(
        spec, (x, None, 1e-6, 0.0, "gemma"), (out,), {"SIMD_ROW_MAX": 128, "SINGLE_ROW_MAX": 256}
    )
    assert looped[0].variant == "looped"
    assert sizes_of(spec, (x, None, 1e-6, 0.0, "gemma"), (out,)) == {"n": 300, "rows": 20}
    with pytest.raises(ValueError, match="does not exist"):
        plan(spec, (x, None, 1e-6, 0.0, "gemma"), (out,), {"NO_SUCH": 1})
    with pytest.raises(ValueError, match="is a uint"):
        plan(spec, (x, None, 1e-6, 0.0, "gemma"), (out,), {"N_READS": 2.5})


def test_expressions_follow_cpp():
    assert evaluate("-7 / 2", {}) == -3 and evaluate("-7 % 2", {}) == -1  # truncation
    assert evaluate("a > 2 ? 10 : 20", {"a": 3}) == 10
    # Only the side C++ evaluates: the absent mask is never asked its size.
    assert evaluate("m.has_value() && m->size(-1) > 1 ? m->stride(-1) : 0", {"m": None}) == 0
    assert evaluate("std::vector<int64_t>{a * 2, 3}", {"a": 4}) == [8, 3]
    assert evaluate("static_cast<uint32_t>(x.size(-1))", {"x": torch.zeros(2, 5)}) == 5
    for bad in ("a +", "open('x')", "__import__", "a ? b"):
        with pytest.raises(ExpressionError):
            evaluate(bad, {"a": 1, "b": 2})
