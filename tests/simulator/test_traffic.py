"""Memory-traffic counting: bytes read and written per buffer binding, in total and
distinct, for hand-written kernels with known traffic and the project's rms_norm kernels
(whose inputs must each be read in full and whose output must be written in full)."""

from __future__ import annotations

import struct

import pytest
import torch

from torch_metalgen import sim


@pytest.fixture(scope="module")
def races(library):
    return library("races")


def test_single_pass_kernel_reads_and_writes_each_byte_once(races):
    n = 1000  # float4 elements; odd threadgroup split below
    x, out = torch.randn(n, 4), torch.empty(n, 4)
    result = races.launch(
        "scale_once",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("f", 3.0)},
        grid=(n,),
        threadgroup=(96,),
        outputs=(1,),
    )
    assert torch.equal(out, x * 3.0)
    assert result.kernel == "scale_once"
    assert result.traffic[0] == sim.BufferTraffic(16 * n, 0, 16 * n, 0)
    assert result.traffic[1] == sim.BufferTraffic(0, 16 * n, 0, 16 * n)
    # Every thread reads the 4-byte factor: n reads of the same 4 bytes.
    assert result.traffic[2] == sim.BufferTraffic(4 * n, 0, 4, 0)
    assert result.bytes_read() == 16 * n + 4 * n


def test_reading_twice_counts_twice_but_distinct_once(races):
    x, out = torch.randn(300), torch.empty(300)
    result = races.launch("sum_twice", buffers={0: x, 1: out}, grid=(300,), threadgroup=(64,))
    assert result.traffic[0].read == 2 * 4 * 300
    assert result.traffic[0].distinct_read == 4 * 300


def test_record_launches_collects_results_and_checks_off_counts_nothing(races):
    x, out = torch.randn(64), torch.empty(64)
    with sim.record_launches() as launches:
        races.launch("sum_twice", buffers={0: x, 1: out}, grid=(64,), threadgroup=(64,))
        races.launch(
            "sum_twice", buffers={0: x, 1: out}, grid=(64,), threadgroup=(64,), check_memory=False
        )
    assert [r.kernel for r in launches] == ["sum_twice", "sum_twice"]
    assert launches[0].traffic[1].written == 256
    assert launches[1].traffic == {}


def test_aliased_bindings_share_their_counts(races):
    x = torch.randn(64)
    same = torch.zeros(1, dtype=torch.int32)
    result = races.launch("aliased", buffers={0: x, 1: x, 2: same}, grid=(64,), threadgroup=(64,))
    assert result.traffic[0] == result.traffic[1]
    assert result.traffic[0].distinct_read == result.traffic[0].distinct_written == 256
    # One buffer for the totals: x is read and written once each, not twice.
    assert result.regions[1] == 0 and set(result.buffers()) == {0, 2}
    assert result.bytes_read() == 256 and result.bytes_written() == 256 + 4


def test_every_op_kernel_variant_touches_all_its_compulsory_bytes():
    """The registry-driven traffic report: every kernel variant x dtype of every generated
    op reads all its inputs and writes all its outputs (distinct >= compulsory; temporaries
    of multi-launch plans add more), and moves at least its compulsory bytes."""
    pytest.importorskip("torch_metalgen._C")
    from torch_metalgen._generated.registry import OPS
    from torch_metalgen.sim.op_traffic import measure_op

    # decode_attention's sample pads away 5 of 37 keys in one batch (of 2 KV heads, head dim
    # 80): the kernels never load the K and V rows of keys no query row can see.
    skipped = {"decode_attention": 5 * 2 * 80 * 2 * 2}  # keys x heads x dim x bytes x (K, V)
    for op, info in OPS.items():
        for variant in info["variants"]:
            row = measure_op(op, variant, torch.float16)
            assert row.launches >= 1, row
            assert row.distinct is not None, row
            assert row.distinct >= row.compulsory - skipped.get(op, 0), row
            assert row.moved >= row.compulsory, row
            if row.launches == 1 and op in ("silu_and_mul", "gelu_and_mul"):
                assert row.moved == row.compulsory, row  # elementwise: each byte once


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((64, 256), torch.float32),  # rms_norm_simd_rows
        ((3, 1000), torch.float16),  # rms_norm_single_row, partial threadgroup tail
        ((64, 4096), torch.float32),  # rms_norm_single_row, 1024 threads
        ((5, 10001), torch.bfloat16),  # rms_norm_looped
    ],
)
def test_rms_norm_touches_exactly_its_compulsory_bytes(shape, dtype):
    _C = pytest.importorskip("torch_metalgen._C")
    x, weight = torch.randn(*shape, dtype=dtype), torch.randn(shape[1], dtype=dtype)
    plans, _ = _C.plan_rms_norm(x, weight, 1e-6)
    plans = plans if isinstance(plans, (list, tuple)) else [plans]  # one plan or several
    with sim.record_launches() as launches:
        sim.run_plan(plans if len(plans) > 1 else plans[0])
    assert [r.kernel for r in launches] == [p.kernel for p in plans]
    for plan, result in zip(plans, launches, strict=True):
        for index, tensor, is_output in plan.buffers:
            if tensor is None:
                continue
            traffic = result.traffic[int(index)]
            size = tensor.numel() * tensor.element_size()
            if is_output:
                assert (traffic.distinct_written, traffic.written, traffic.read) == (size, size, 0)
            else:
                # Every input byte is read, none written; weights are re-read by every row.
                assert (traffic.distinct_read, traffic.written) == (size, 0)
                assert traffic.read >= size
