"""Timing (rules 12-14): device synchronize around every batch, device events per sample,
warm-up outside the samples, at least ``min_samples`` until the spread settles, median and
IQR, and fresh inputs each sample (rotation over sets larger than the last-level cache, or a
cache flush between samples when that many sets would not fit)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from torch_metalgen.verify.device import synchronize

BATCH = 25


@dataclass
class Timing:
    samples_ms: list[float] = field(default_factory=list)
    input_sets: int = 1
    flushed: bool = False
    outputs: dict[int, Any] = field(default_factory=dict)  # last output of each input set

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def quartiles_ms(self) -> tuple[float, float]:
        q = statistics.quantiles(self.samples_ms, n=4)
        return q[0], q[2]

    @property
    def iqr_ms(self) -> float:
        q1, q3 = self.quartiles_ms
        return q3 - q1


class _Clock:
    """Events on GPUs (what the device did), perf_counter on CPU (dev runs only)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.event = {"cuda": torch.cuda.Event, "mps": torch.mps.Event}.get(device.type)

    def mark(self):
        if self.event is None:
            return time.perf_counter()
        event = self.event(enable_timing=True)
        event.record()
        return event

    @staticmethod
    def elapsed_ms(start, end) -> float:
        if isinstance(start, float):
            return (end - start) * 1e3
        return start.elapsed_time(end)


def time_function(
    fn: Callable,
    input_sets: list[list],
    device: torch.device,
    flush_bytes: int = 0,
    warmup: int = 5,
    min_samples: int = 100,
    max_samples: int = 1000,
    max_seconds: float = 10.0,
) -> Timing:
    """Time ``fn(*inputs)`` rotating over ``input_sets``; a flush buffer is written before
    each sample when ``flush_bytes`` (rotation alone does not exceed the cache)."""
    timing = Timing(input_sets=len(input_sets), flushed=flush_bytes > 0)
    flush = (
        torch.empty(flush_bytes // 4, dtype=torch.float32, device=device) if flush_bytes else None
    )
    for i in range(warmup):  # compile, pipeline creation, allocator growth
        fn(*input_sets[i % len(input_sets)])
    synchronize(device)
    clock = _Clock(device)
    started = time.perf_counter()
    previous_iqr = None
    sample = 0
    while sample < max_samples:
        marks = []
        synchronize(device)
        for _ in range(BATCH):
            index = sample % len(input_sets)
            if flush is not None:
                flush.zero_()
            begin = clock.mark()
            out = fn(*input_sets[index])
            end = clock.mark()
            marks.append((begin, end))
            timing.outputs[index] = out
            sample += 1
        synchronize(device)
        timing.samples_ms += [clock.elapsed_ms(b, e) for b, e in marks]
        if len(timing.samples_ms) >= min_samples:
            iqr = timing.iqr_ms / timing.median_ms
            settled = previous_iqr is not None and abs(iqr - previous_iqr) < 0.02
            if settled or time.perf_counter() - started > max_seconds:
                break
            previous_iqr = iqr
    return timing


def plan_input_sets(
    set_bytes: int, cache_bytes: int, memory_cap: int = 4 << 30, max_sets: int = 32
) -> tuple[int, int]:
    """(number of input sets, flush bytes): rotate when 2x the cache fits in few sets,
    else one set and a flush of 2x the cache before each sample."""
    if set_bytes <= 0:
        return 1, 2 * cache_bytes
    needed = -(-2 * cache_bytes // set_bytes)
    if needed <= 1:
        return 1, 0
    if needed <= max_sets and needed * set_bytes <= memory_cap:
        return needed, 0
    return 1, 2 * cache_bytes
