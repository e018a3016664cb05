"""The plan functions honour the pipeline's threads-per-threadgroup limit (review
2026-12-mac finding 8): a variant whose threadgroup does not fit is skipped, sized-to-limit
variants shrink, a forced variant that does not fit is a ValueError. Plain C++ planning,
no simulator."""

from __future__ import annotations

import pytest
import torch

from torch_metalgen import _ops


def plan(n, rows=2, **options):
    plans, _ = _ops._C.plan_rms_norm(torch.randn(rows, n), None, 1e-6, **options)
    return plans


def test_default_limit_is_the_device_maximum():
    (launch,) = plan(2048)
    assert launch.kernel == "rms_norm_single_row_float32" and launch.threadgroup == (512, 1, 1)


def test_a_variant_that_does_not_fit_is_skipped():
    # single_row needs 512 threads for n = 2048; under 256 the looped variant takes over.
    (launch,) = plan(2048, max_threads=256)
    assert launch.kernel == "rms_norm_looped_float32" and launch.threadgroup == (256, 1, 1)
    # simd_rows needs 8 x 32 threads; under 128 short rows go to single_row (32 threads).
    (launch,) = plan(64, max_threads=128)
    assert launch.kernel == "rms_norm_single_row_float32" and launch.threadgroup == (32, 1, 1)


def test_the_limit_is_rounded_down_to_the_simd_width():
    (launch,) = plan(8192, max_threads=1000)
    assert launch.threadgroup == (992, 1, 1)


def test_a_forced_variant_that_does_not_fit_is_a_value_error():
    with pytest.raises(ValueError, match="variant single_row needs more threads .* limit 256"):
        plan(2048, max_threads=256, variant="single_row")


@pytest.mark.parametrize("limit", [0, 31, -1])
def test_a_limit_below_one_simd_group_is_rejected(limit):
    with pytest.raises(ValueError, match="max_threads must be at least 32"):
        plan(64, max_threads=limit)


def test_empty_tensors_plan_no_launch():
    assert plan(64, rows=0) == [] and plan(0, rows=3) == []


def test_unknown_variant_is_named_even_for_empty_input():
    with pytest.raises(ValueError, match="unknown variant 'tiled'"):
        plan(64, rows=0, variant="tiled")
