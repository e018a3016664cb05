"""Each class of kernel bug is caught, with a message that names kernel, threadgroup,
threads and .metal line. Every kernel here is broken on purpose (kernels/broken.metal)."""

from __future__ import annotations

import struct

import pytest
import torch

from tests.simulator.broken import launch_early_return
from torch_metalgen import sim


def test_missing_barrier_is_a_named_error_by_default(library):
    lib = library("broken")
    x, out = torch.randn(256), torch.empty(256)
    with pytest.raises(
        sim.UninitializedReadError, match=r"missing_barrier.*broken\.metal:13.*declared at broken"
    ):
        lib.launch("missing_barrier", buffers={0: x, 1: out}, grid=(256,), threadgroup=(256,))


def test_missing_barrier_is_order_dependent_and_reads_poison(library):
    # Without the memory checks, the poison and the second order still expose it.
    lib = library("broken")
    x = torch.randn(256)
    out = torch.empty(256)
    lib.launch(
        "missing_barrier",
        buffers={0: x, 1: out},
        grid=(256,),
        threadgroup=(256,),
        order="forward",
        check_memory=False,
    )
    # Forward order: a thread reads slots that later threads have not written: poison NaN.
    assert out.isnan().any()
    with pytest.raises(sim.OrderDependenceError, match=r"missing_barrier.*forward and reverse"):
        lib.launch(
            "missing_barrier",
            buffers={0: x, 1: out},
            grid=(256,),
            threadgroup=(256,),
            check_orders=True,
            check_memory=False,
        )


def test_early_return_before_barrier_is_barrier_divergence(library):
    lib = library("broken")
    with pytest.raises(sim.BarrierDivergenceError) as caught:
        launch_early_return(lib, 100)
    message = str(caught.value)
    assert "kernel 'early_return'" in message
    assert "threadgroup (1,0,0)" in message
    assert "threads [0-35] wait at barrier broken.metal:27" in message
    assert "threads [36-63] already returned" in message


def test_barriers_at_different_lines_are_divergence(library):
    lib = library("broken")
    with pytest.raises(
        sim.BarrierDivergenceError,
        match=r"threads \[0-31\] wait at barrier broken.metal:76; threads "
        r"\[32-63\] wait at barrier broken.metal:78",
    ):
        lib.launch("divergent_barrier", buffers={0: torch.zeros(64)}, grid=(64,), threadgroup=(64,))


def test_non_uniform_shuffle_delta(library):
    lib = library("broken")
    with pytest.raises(
        sim.NonUniformArgumentError,
        match=r"broken.metal:62.*simd_shuffle_down.*'delta'.*lanes \[0-15\] pass 1",
    ):
        lib.launch(
            "non_uniform_shuffle",
            buffers={0: torch.randn(64), 1: torch.zeros(64)},
            grid=(64,),
            threadgroup=(64,),
        )


def test_inactive_lane_read_in_partial_simdgroup(library):
    lib = library("broken")
    x, out = torch.randn(40), torch.zeros(40)
    with pytest.raises(sim.InactiveLaneReadError, match=r"broken.metal:69.*reads lane 31"):
        lib.launch("inactive_lane", buffers={0: x, 1: out}, grid=(40,), threadgroup=(40,))
    # In poison mode the launch completes and the absent lane's value is NaN.
    lib.launch(
        "inactive_lane",
        buffers={0: x, 1: out},
        grid=(40,),
        threadgroup=(40,),
        inactive_lanes="poison",
    )
    assert (out[:32] == x[31]).all() and out[32:].isnan().all()


def test_unwritten_tail(library):
    lib = library("broken")
    x, out = torch.randn(10, 4), torch.empty(10, 4)
    with pytest.raises(
        sim.UnwrittenOutputError, match=r"left 8 of 40 elements of output buffer\(1\).*\[32-39\]"
    ):
        lib.launch(
            "unwritten_tail", buffers={0: x, 1: out}, grid=(8,), threadgroup=(4,), outputs=(1,)
        )
    # The same launch with a grid that covers the tail passes.
    lib.launch("unwritten_tail", buffers={0: x, 1: out}, grid=(10,), threadgroup=(4,), outputs=(1,))
    assert torch.equal(out, x * 2)


def test_threadgroup_memory_limit(library):
    lib = library("broken")
    with pytest.raises(sim.ResourceLimitError, match=r"32 KiB.*broken.metal:86.*40960 bytes"):
        lib.launch(
            "too_much_threadgroup_memory",
            buffers={0: torch.zeros(64)},
            grid=(64,),
            threadgroup=(64,),
        )


def test_errors_do_not_poison_later_launches(library):
    lib = library("broken")
    with pytest.raises(sim.BarrierDivergenceError):
        launch_early_return(lib, 100)
    x, out = torch.randn(128), torch.zeros(128)
    launch_early_return(lib, 128, x, out)
    assert torch.equal(out, x)


def test_stack_overflow_is_an_error_not_a_crash(library):
    lib = library("broken")
    out = torch.zeros(64)
    for _ in range(2):  # the runtime recovers and can fault again
        with pytest.raises(sim.ResourceLimitError, match=r"stack_overflow.*overflowed its"):
            lib.launch(
                "stack_overflow",
                buffers={0: out},
                bytes={1: struct.pack("I", 65536)},
                grid=(64,),
                threadgroup=(32,),
            )
    x, y = torch.randn(128), torch.zeros(128)
    launch_early_return(lib, 128, x, y)
    assert torch.equal(x, y)


def test_random_order_is_seeded(library):
    lib = library("broken")
    x = torch.randn(256)

    def run(seed):
        out = torch.empty(256)
        lib.launch(
            "missing_barrier",
            buffers={0: x, 1: out},
            grid=(256,),
            threadgroup=(256,),
            order="random",
            seed=seed,
            check_memory=False,
        )
        return out

    # The racy kernel exposes the schedule: same seed, same result; other seeds differ.
    assert torch.allclose(run(1), run(1), equal_nan=True)
    first = run(1)
    assert any(not torch.allclose(first, run(seed), equal_nan=True) for seed in (2, 3, 4))
