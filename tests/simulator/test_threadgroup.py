"""Threadgroup memory, barriers, atomics, simdgroup_barrier, resource limits."""

from __future__ import annotations

import struct

import pytest
import torch

from torch_metalgen import sim


@pytest.mark.parametrize(
    "dtype,kernel", [(torch.float32, "row_sum_float"), (torch.float16, "row_sum_half")]
)
@pytest.mark.parametrize("n,threads", [(4096, 1024), (33, 64), (1, 32), (1000, 96)])
def test_row_sum_threadgroup_reduction(library, dtype, kernel, n, threads):
    lib = library("threadgroup")
    rows = 5
    x = torch.randn(rows, n, dtype=dtype)
    out = torch.empty(rows)
    lib.launch(
        kernel,
        buffers={0: x, 1: out},
        bytes={2: struct.pack("I", n)},
        grid=(rows,),
        threadgroup=(threads,),
        dispatch="threadgroups",
        outputs=(1,),
    )
    torch.testing.assert_close(out.double(), x.double().sum(1), rtol=1e-5, atol=1e-4)


def test_dynamic_threadgroup_buffer(library):
    lib = library("threadgroup")
    x = torch.arange(256, dtype=torch.float32)
    out = torch.empty(256)
    lib.launch(
        "reverse_block",
        buffers={0: x, 1: out},
        threadgroup_memory={0: 64 * 4},
        grid=(256,),
        threadgroup=(64,),
        outputs=(1,),
    )
    expected = x.view(4, 64).flip(1).reshape(-1)
    assert torch.equal(out, expected)


def test_threadgroup_buffer_length_is_checked(library):
    lib = library("threadgroup")
    x, out = torch.zeros(64), torch.zeros(64)
    with pytest.raises(sim.LaunchArgumentError, match=r"threadgroup\(0\)"):
        lib.launch("reverse_block", buffers={0: x, 1: out}, grid=(64,), threadgroup=(64,))
    with pytest.raises(sim.LaunchArgumentError, match="multiple of 16"):
        lib.launch(
            "reverse_block",
            buffers={0: x, 1: out},
            threadgroup_memory={0: 100},
            grid=(64,),
            threadgroup=(64,),
        )
    with pytest.raises(sim.ResourceLimitError, match="32 KiB"):
        lib.launch(
            "reverse_block",
            buffers={0: x, 1: out},
            threadgroup_memory={0: 40960},
            grid=(64,),
            threadgroup=(64,),
        )


def test_atomics_device_threadgroup_and_float(library):
    lib = library("threadgroup")
    n, group = 1000, 128
    values = torch.randint(0, 1000, (n,), dtype=torch.int32)
    bins = torch.zeros(8, dtype=torch.int32)
    seen = torch.zeros(1, dtype=torch.int32)
    total = torch.zeros(1)
    lib.launch(
        "histogram",
        buffers={0: values, 1: bins, 2: seen, 3: total},
        grid=(n,),
        threadgroup=(group,),
    )
    assert bins.tolist() == torch.bincount(values % 8, minlength=8).tolist()
    assert seen.item() == group  # the largest threadgroup's count
    assert total.item() == n * 0.5


def test_simdgroup_barrier_exchanges_within_a_simdgroup(library):
    lib = library("threadgroup")
    x = torch.randn(64)
    out = torch.empty(64)
    for order in ("forward", "reverse"):
        lib.launch(
            "simd_exchange",
            buffers={0: x, 1: out},
            grid=(64,),
            threadgroup=(64,),
            order=order,
            outputs=(1,),
        )
        assert torch.equal(out, x[torch.arange(64) ^ 1])


def test_more_than_1024_threads_is_rejected(library):
    lib = library("basics")
    with pytest.raises(sim.ResourceLimitError, match="1024"):
        lib.launch(
            "axpy",
            buffers={0: torch.zeros(4), 1: torch.zeros(4)},
            bytes={2: struct.pack("If", 4, 1.0)},
            grid=(2048,),
            threadgroup=(2048,),
        )


def test_launch_argument_errors_name_the_problem(library):
    lib = library("basics")
    with pytest.raises(sim.LaunchArgumentError, match="no kernel named 'axpi'.*axpy"):
        lib.launch("axpi", buffers={}, grid=(1,), threadgroup=(1,))
    with pytest.raises(sim.LaunchArgumentError, match=r"parameter 'y'.*buffer\(1\)"):
        lib.launch(
            "axpy",
            buffers={0: torch.zeros(4)},
            bytes={2: struct.pack("If", 4, 1.0)},
            grid=(4,),
            threadgroup=(4,),
        )
    with pytest.raises(sim.LaunchArgumentError, match="needs 8 bytes"):
        lib.launch(
            "axpy",
            buffers={0: torch.zeros(4), 1: torch.zeros(4)},
            bytes={2: struct.pack("I", 4)},
            grid=(4,),
            threadgroup=(4,),
        )
