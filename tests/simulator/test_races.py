"""Memory checks of the default (in-process) build: data races on threadgroup and device
memory, reads of uninitialized threadgroup memory, 64-wide SIMD assumptions and
out-of-bounds accesses, each reported by a named error with the .metal lines; and the
correct twin of each kernel passes (kernels/races.metal)."""

from __future__ import annotations

import re
import struct

import pytest
import torch

from torch_metalgen import sim


@pytest.fixture(scope="module")
def races(library):
    return library("races")


def _line(kernel_text: str) -> int:
    """Line of the first occurrence of `kernel_text` in races.metal."""
    from .conftest import KERNELS

    for number, line in enumerate((KERNELS / "races.metal").read_text().splitlines(), 1):
        if kernel_text in line:
            return number
    raise AssertionError(kernel_text)


def test_threadgroup_read_without_barrier_names_both_threads_and_lines(races):
    x, out = torch.randn(256), torch.empty(256)
    with pytest.raises(sim.DataRaceError) as caught:
        races.launch(
            "neighbour_no_barrier", buffers={0: x, 1: out}, grid=(256,), threadgroup=(256,)
        )
    message = str(caught.value)
    write, read = _line("slots[tid] = x[gid];"), _line("out[gid] = slots[tid == 0 ? 0 : tid - 1];")
    assert re.search(
        rf"thread 1 reads byte 0 of the threadgroup variable declared at races.metal:\d+ .*"
        rf"at races.metal:{read}, and thread 0 wrote it at races.metal:{write}",
        message,
    ), message


@pytest.mark.parametrize("flags", [0, 1], ids=["mem_none", "mem_device"])
def test_barrier_without_mem_threadgroup_does_not_order_threadgroup_memory(races, flags):
    x, out = torch.randn(64), torch.empty(64)
    with pytest.raises(sim.DataRaceError, match="its flags lack mem_flags::mem_threadgroup"):
        races.launch(
            "neighbour_weak_barrier",
            buffers={0: x, 1: out},
            bytes={2: struct.pack("I", flags)},
            grid=(64,),
            threadgroup=(64,),
        )


def test_barrier_with_mem_threadgroup_passes(races):
    x, out = torch.randn(200), torch.empty(200)
    races.launch(
        "neighbour_weak_barrier",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("I", 2)},
        grid=(200,),
        threadgroup=(100,),
        outputs=(1,),
    )
    expected = torch.roll(x.view(2, 100), -1, dims=1).reshape(-1)
    assert torch.equal(out, expected)


def test_non_atomic_threadgroup_increment_is_a_race(races):
    out = torch.zeros(1, dtype=torch.int32)
    with pytest.raises(sim.DataRaceError, match=r"thread 1 reads .* thread 0 wrote it"):
        races.launch("threadgroup_counter", buffers={0: out}, grid=(64,), threadgroup=(64,))
    races.launch("threadgroup_counter_atomic", buffers={0: out}, grid=(64,), threadgroup=(64,))
    assert out.item() == 64


def test_read_of_unwritten_threadgroup_memory_hidden_by_fmax(races):
    x, out = torch.randn(128), torch.empty(128)
    with pytest.raises(sim.UninitializedReadError) as caught:
        races.launch("half_filled_max", buffers={0: x, 1: out}, grid=(128,), threadgroup=(128,))
    line = _line("out[gid] = fmax(buf[tid], 0.0f);")
    assert f"at races.metal:{line} by thread 64 " in str(caught.value)
    assert "byte 256 of the threadgroup variable" in str(caught.value)


def test_read_of_unwritten_threadgroup_uint(races):
    x, out = torch.arange(256, dtype=torch.int32), torch.empty(1, dtype=torch.int32)
    with pytest.raises(sim.UninitializedReadError, match="byte 1024 of the threadgroup"):
        races.launch("unwritten_uint_sum", buffers={0: x, 1: out}, grid=(256,), threadgroup=(256,))


def test_non_atomic_device_counter_across_threadgroups_is_a_race(races):
    counter = torch.zeros(1, dtype=torch.int32)
    with pytest.raises(sim.DataRaceError) as caught:
        races.launch("device_counter", buffers={0: counter}, grid=(4096,), threadgroup=(256,))
    message = str(caught.value)
    line = _line("counter[0] += 1;")
    assert "data race on device memory" in message
    assert re.search(
        rf"of threadgroup \((\d+),0,0\) reads buffer\(0\) byte 0 at races.metal:{line}, and "
        rf"threadgroup \((?!\1)\d+,0,0\) wrote it at races.metal:{line}",
        message,
    ), message


def test_atomic_device_counter_passes_and_counts_traffic(races):
    counter = torch.zeros(1, dtype=torch.int32)
    result = races.launch(
        "device_counter_atomic", buffers={0: counter}, grid=(4096,), threadgroup=(256,)
    )
    assert counter.item() == 4096
    assert result.traffic[0].written == 4 * 4096  # every fetch_add counts
    assert result.traffic[0].distinct_written == 4


def test_threadgroups_writing_the_same_outputs_race(races):
    out = torch.empty(256)
    with pytest.raises(sim.DataRaceError, match=r"writes buffer\(0\) byte 128 .*\(0,0,0\) wrote"):
        races.launch(
            "overlapping_groups",
            buffers={0: out},
            grid=(4,),
            threadgroup=(64,),
            dispatch="threadgroups",
            num_threads=1,  # threadgroup 0 first: which of the two reports is then fixed
        )


def test_reduction_assuming_64_wide_simd_groups_is_a_race(races):
    x, out = torch.randn(256), torch.empty(1)
    line = _line("partial[tid / 64] = s;")
    with pytest.raises(
        sim.DataRaceError,
        match=rf"thread 32 writes byte 0 .* at races.metal:{line}, and thread 0 wrote it at "
        rf"races.metal:{line}",
    ):
        races.launch(
            "reduce_assuming_simd64", buffers={0: x, 1: out}, grid=(256,), threadgroup=(256,)
        )


def test_shuffle_tree_from_offset_32_is_a_simd_width_error(races):
    x, out = torch.randn(64), torch.empty(64)
    with pytest.raises(sim.SimdWidthError, match=r"simd_shuffle_down with delta 32.*64-wide"):
        races.launch("shuffle_tree_from_32", buffers={0: x, 1: out}, grid=(64,), threadgroup=(64,))


def test_simd_lanes_exchanging_need_a_simdgroup_barrier(races):
    x, out = torch.randn(32), torch.empty(32)
    args = dict(buffers={0: x, 1: out}, grid=(32,), threadgroup=(32,))
    with pytest.raises(sim.DataRaceError, match="one SIMD-group.*simdgroup_barrier"):
        races.launch("simd_exchange", bytes={2: struct.pack("I", 0)}, **args)
    races.launch("simd_exchange", bytes={2: struct.pack("I", 1)}, **args)
    assert torch.equal(out, x[torch.arange(32) & ~1])


@pytest.mark.parametrize(
    ("kernel", "what", "line_text"),
    [
        ("read_past_end", r"read of 4 bytes", "out[gid] = x[gid + 1];"),
        ("write_past_end", r"write of 4 bytes", "out[gid + 1] = 1.0f;"),
    ],
)
def test_one_past_the_end_is_out_of_bounds_in_the_default_build(races, kernel, what, line_text):
    n = 1000
    buffers = (
        {0: torch.randn(n), 1: torch.empty(n)} if kernel == "read_past_end" else {0: torch.empty(n)}
    )
    with pytest.raises(sim.OutOfBoundsError) as caught:
        races.launch(kernel, buffers=buffers, grid=(n,), threadgroup=(128,))
    message = str(caught.value)
    assert re.search(
        rf"out-of-bounds {what} at races.metal:{_line(line_text)} by thread "
        rf"103 of threadgroup \(7,0,0\)",
        message,
    ), message
    assert "0 bytes past the end of buffer(0) (4000 bytes)" in message


@pytest.mark.parametrize("n", [1000, 4096, 70000])
def test_index_a_buffer_too_far_back_is_out_of_bounds_not_a_neighbours_write(races, n):
    # Whatever the neighbours' sizes, the copies lie gaps apart that are at least as
    # large as the buffers, so out[gid - n] lands in no tensor.
    x, out = torch.randn(n), torch.zeros(n)
    before = x.clone()
    with pytest.raises(sim.OutOfBoundsError, match=r"out-of-bounds write of 4 bytes"):
        races.launch(
            "write_a_buffer_before",
            buffers={0: x, 1: out},
            bytes={2: struct.pack("i", n)},
            grid=(n,),
            threadgroup=(64,),
        )
    assert torch.equal(x, before)


def test_threadgroup_overflow_is_out_of_bounds(library):
    out = torch.empty(32)
    with pytest.raises(
        sim.OutOfBoundsError,
        match=r"threadgroup memory read .*broken.metal:\d+ "
        r"by thread 31 .*past the end of the threadgroup variable",
    ):
        library("broken").launch(
            "threadgroup_overflow", buffers={0: out}, grid=(32,), threadgroup=(32,)
        )


def test_wild_index_is_reported_not_a_crash(races):
    x, out = torch.randn(64), torch.empty(64)
    with pytest.raises(
        sim.OutOfBoundsError,
        match=r"races.metal:\d+ by thread 1 .*"
        r"bytes past the end of buffer\(\d\)",
    ):
        races.launch("wild_index", buffers={0: x, 1: out}, grid=(64,), threadgroup=(64,))


def test_fault_in_uninstrumented_copy_is_reported_not_a_crash(races):
    x, out = torch.randn(4, 16), torch.empty(4, 16)
    with pytest.raises(
        sim.OutOfBoundsError,
        match=r"invalid memory access \(SIGSEGV.*"
        r"races.metal:\d+",
    ):
        races.launch("wild_struct_copy", buffers={0: x, 1: out}, grid=(4,), threadgroup=(4,))
    # The process and the runtime are fine afterwards.
    y = torch.randn(8)
    races.launch("sum_twice", buffers={0: y, 1: out.view(-1)[:8]}, grid=(8,), threadgroup=(8,))
    assert torch.equal(out.view(-1)[:8], y + y.flip(0))


def test_one_tensor_bound_twice_stays_one_buffer(races):
    x = torch.randn(64)
    same = torch.zeros(1, dtype=torch.int32)
    expected = x * 2
    races.launch("aliased", buffers={0: x, 1: x, 2: same}, grid=(64,), threadgroup=(64,))
    assert same.item() == 1
    assert torch.equal(x, expected)


def test_checks_off_runs_the_racy_kernel(races):
    counter = torch.zeros(1, dtype=torch.int32)
    result = races.launch(
        "device_counter",
        buffers={0: counter},
        grid=(256,),
        threadgroup=(256,),
        check_memory=False,
        num_threads=1,
    )
    assert counter.item() == 256  # one threadgroup, sequential fibers: exact
    assert result.traffic == {}


@pytest.mark.parametrize("dtype", [torch.float16, torch.uint8], ids=["half", "uchar"])
@pytest.mark.parametrize("n", [1, 3, 5, 33])
def test_threadgroups_sharing_words_at_row_ends_pass(races, dtype, n):
    """Rows of 2-byte or 1-byte elements meet inside 4-byte words: each byte has one
    writer, so there is no race (the checker tracks such words byte by byte)."""
    groups = 7
    x = torch.arange(groups * n).to(dtype)
    expected = (x.to(torch.float64) * 3).to(dtype)
    kernel = "scale_rows_in_place_" + ("half" if dtype == torch.float16 else "uchar")
    for order in ("forward", "reverse"):
        y = x.clone()
        races.launch(
            kernel,
            buffers={0: y},
            bytes={1: struct.pack("II", n, n)},
            grid=(groups,),
            threadgroup=(64,),
            dispatch="threadgroups",
            order=order,
            num_threads=2,
        )
        assert torch.equal(y, expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.uint8], ids=["half", "uchar"])
def test_threadgroups_overlapping_by_one_narrow_element_race(races, dtype):
    kernel = "scale_rows_in_place_" + ("half" if dtype == torch.float16 else "uchar")
    y = torch.ones(64, dtype=dtype)
    line = _line("x[i] = T(x[i] * T(3));")
    with pytest.raises(sim.DataRaceError, match=rf"data race on device memory.*races.metal:{line}"):
        races.launch(
            kernel,
            buffers={0: y},
            bytes={1: struct.pack("II", 5, 4)},  # rows of 5, 4 apart: element 4 is shared
            grid=(6,),
            threadgroup=(8,),
            dispatch="threadgroups",
        )


@pytest.mark.parametrize(("words", "byte", "race"), [(2, 5, True), (1, 5, False), (2, 8, False)])
def test_word_writes_and_byte_reads_of_one_tensor(races, words, byte, race):
    data = torch.zeros(4, dtype=torch.int32)
    out = torch.zeros(1, dtype=torch.int32)
    launch = dict(
        buffers={0: data, 1: data, 2: out},
        bytes={3: struct.pack("II", words, byte)},
        grid=(2,),
        threadgroup=(4,),
        dispatch="threadgroups",
    )
    if race:
        with pytest.raises(sim.DataRaceError, match=rf"buffer\((0|1)\) byte {byte}\b"):
            races.launch("words_then_byte", **launch)
    else:
        races.launch("words_then_byte", **launch)
        assert out.item() == 0


def test_non_atomic_ticket_counter_across_threadgroups_is_a_race(races):
    """The review's planted bug p1: one thread per threadgroup reads and bumps a shared
    counter without an atomic."""
    counter, tickets = torch.zeros(1, dtype=torch.int32), torch.zeros(16, dtype=torch.int32)
    with pytest.raises(sim.DataRaceError, match=r"data race on device memory.*buffer\(0\) byte 0"):
        races.launch(
            "ticket_counter",
            buffers={0: counter, 1: tickets},
            grid=(16,),
            threadgroup=(32,),
            dispatch="threadgroups",
        )


def test_copy_of_unwritten_threadgroup_memory_is_reported(races):
    """p2: the copy reads bytes no thread of the threadgroup wrote (they would be NaN)."""
    x, out = torch.randn(256), torch.empty(256)
    line = _line("out[gid] = tile[tid];")
    with pytest.raises(sim.UninitializedReadError, match=rf"races.metal:{line} by thread 128\b"):
        races.launch("copy_half_filled", buffers={0: x, 1: out}, grid=(256,), threadgroup=(256,))


@pytest.mark.parametrize("second_barrier", [0, 1], ids=["missing", "present"])
def test_simd_exchange_in_a_loop_needs_the_second_simdgroup_barrier(races, second_barrier):
    """p7: without the second simdgroup_barrier a lane's next write races with its
    neighbour's read of the previous iteration."""
    x, out = torch.randn(64), torch.empty(64)
    launch = dict(
        buffers={0: x, 1: out},
        bytes={2: struct.pack("I", second_barrier)},
        grid=(64,),
        threadgroup=(32,),  # one SIMD-group per threadgroup: the slots are its own
    )
    if second_barrier:
        races.launch("simd_exchange_loop", **launch)
        lanes = x.view(2, 32).double()
        expected = lanes.clone()
        for _ in range(4):
            expected = expected + expected.roll(-1, dims=1)
        torch.testing.assert_close(out.double(), expected.flatten(), rtol=1e-6, atol=1e-5)
    else:
        with pytest.raises(sim.DataRaceError, match="one SIMD-group"):
            races.launch("simd_exchange_loop", **launch)


@pytest.mark.parametrize("uneven", [1, 0], ids=["uneven", "even"])
def test_barrier_in_a_loop_with_per_thread_trip_counts(races, uneven):
    """p8: threads leave the loop (and return) while others wait at its barrier."""
    out = torch.empty(64)
    launch = dict(
        buffers={0: out}, bytes={1: struct.pack("I", uneven)}, grid=(64,), threadgroup=(64,)
    )
    if uneven:
        with pytest.raises(sim.BarrierDivergenceError, match="already returned"):
            races.launch("barrier_in_uneven_loop", **launch)
    else:
        races.launch("barrier_in_uneven_loop", **launch)
        assert torch.equal(out, torch.full((64,), 11.0))  # 0 + 1 + 3 + 7 in every thread
