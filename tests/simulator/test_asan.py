"""AddressSanitizer runs (subprocess): out-of-bounds device and threadgroup accesses."""

from __future__ import annotations

import struct

import pytest
import torch

from tests.simulator.broken import launch_early_return
from torch_metalgen import sim

pytestmark = pytest.mark.asan


def test_off_by_one_device_read_is_reported_with_its_line(library, asan_available):
    lib = library("broken", asan=True)
    x, out = torch.randn(100), torch.zeros(100)
    with pytest.raises(sim.OutOfBoundsError) as caught:
        lib.launch(
            "off_by_one",
            buffers={0: x, 1: out},
            bytes={2: struct.pack("I", 100)},
            grid=(100,),
            threadgroup=(64,),
        )
    message = str(caught.value)
    assert "kernel 'off_by_one'" in message
    assert "heap-buffer-overflow" in message
    assert "broken.metal:37" in message
    # One element less and the same kernel is clean.
    lib.launch(
        "off_by_one",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("I", 99)},
        grid=(100,),
        threadgroup=(64,),
    )
    assert torch.equal(out[:99], x[:99] + x[1:])


def test_threadgroup_array_overflow(library, asan_available):
    lib = library("broken", asan=True)
    with pytest.raises(sim.OutOfBoundsError, match=r"threadgroup_overflow.*broken.metal:47"):
        lib.launch(
            "threadgroup_overflow", buffers={0: torch.zeros(32)}, grid=(32,), threadgroup=(32,)
        )


def test_asan_build_computes_the_same_results(library, asan_available):
    lib = library("threadgroup", asan=True)
    x = torch.randn(6, 777)
    out = torch.empty(6)
    lib.launch(
        "row_sum_float",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("I", 777)},
        grid=(6,),
        threadgroup=(256,),
        dispatch="threadgroups",
        outputs=(1,),
    )
    torch.testing.assert_close(out.double(), x.double().sum(1), rtol=1e-5, atol=1e-4)


def test_simulator_errors_cross_the_process_boundary(library, asan_available):
    lib = library("broken", asan=True)
    with pytest.raises(sim.BarrierDivergenceError, match=r"threads \[36-63\] already returned"):
        launch_early_return(lib, 100)
