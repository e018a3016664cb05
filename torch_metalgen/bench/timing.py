"""Timing (rules 12-14): device synchronize around every batch, device events per sample,
warm-up outside the samples, at least ``min_samples`` until the spread settles, median and
IQR, and fresh inputs each sample (rotation over sets larger than the last-level cache, or a
cache flush between samples when that many sets would not fit).

Fresh storage and contents between samples: after each sample the set it used is replaced by
new tensors holding its base contents rolled by one more element (``refreshed``), so no two
samples see the same input contents or tensor objects and a kernel that memoizes results gets
no hits. The refresh runs after the sample's end mark and on the set used furthest in the
future, so it is not timed and does not warm the cache for the next sample. After the loop a
short probe alternates calls on fresh inputs with calls on one unchanged set: a kernel far
faster on the unchanged set caches its results (bench flags it ``MEMO``). Alternating call by
call puts both halves of the probe under the same machine load, so a loaded CI box that slows
some samples does not look like caching (comparing the probe's repeats with the main samples,
timed earlier, did)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from torch_metalgen.verify.device import synchronize

BATCH = 25


def refreshed(base: list, epoch: int, which: tuple[int, ...] | None) -> list:
    """Input set ``base`` at ``epoch``: floating tensors (those in ``which``; None: all) rolled
    by ``epoch`` elements over their flattened contents, as new tensors. Rolling keeps every
    value (so masks, ranges and signs stay valid) and is exactly reproducible for re-checks."""
    out = []
    for index, value in enumerate(base):
        eligible = (
            isinstance(value, torch.Tensor)
            and value.dtype.is_floating_point
            and value.numel() > 1
            and (which is None or index in which)
        )
        out.append(torch.roll(value, epoch) if eligible and epoch else value)
    return out


@dataclass
class Timing:
    samples_ms: list[float] = field(default_factory=list)
    input_sets: int = 1
    flushed: bool = False
    outputs: dict[int, Any] = field(default_factory=dict)  # last output of each input set
    epochs: dict[int, int] = field(default_factory=dict)  # the refresh epoch of that output
    repeat_ms: float | None = None  # memo probe: median on repeated identical inputs
    probe_fresh_ms: float | None = None  # memo probe: median on fresh inputs, alternated

    @property
    def memo_ratio(self) -> float | None:
        """How much faster repeated identical inputs ran than fresh ones in the probe."""
        if self.probe_fresh_ms is None or not self.repeat_ms or self.repeat_ms < 0:
            return None
        return self.probe_fresh_ms / self.repeat_ms

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
    refresh: bool = True,
    which: tuple[int, ...] | None = None,
    memo_probe: bool = False,
) -> Timing:
    """Time ``fn(*inputs)`` rotating over ``input_sets``; a flush buffer is written before
    each sample when ``flush_bytes`` (rotation alone does not exceed the cache). With
    ``refresh`` each sample gets fresh inputs (module docstring; ``which``: the inputs that may
    be rolled, None: every floating one); ``timing.epochs`` says which epoch each kept output
    saw. ``memo_probe`` also times repeated calls on one unchanged set alternated with fresh
    ones (``repeat_ms``, ``probe_fresh_ms``)."""
    timing = Timing(input_sets=len(input_sets), flushed=flush_bytes > 0)
    flush = (
        torch.empty(flush_bytes // 4, dtype=torch.float32, device=device) if flush_bytes else None
    )
    bases = [list(s) for s in input_sets]
    sets = [list(s) for s in input_sets]
    epochs = [0] * len(sets)
    for i in range(warmup):  # compile, pipeline creation, allocator growth
        fn(*sets[i % len(sets)])
    if refresh:  # the warm-up saw epoch 0: timed samples start at epoch 1
        epochs = [1] * len(sets)
        sets = [refreshed(base, 1, which) for base in bases]
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
            out = fn(*sets[index])
            end = clock.mark()
            marks.append((begin, end))
            timing.outputs[index], timing.epochs[index] = out, epochs[index]
            if refresh:  # this set is used again furthest in the future
                epochs[index] += 1
                sets[index] = refreshed(bases[index], epochs[index], which)
            sample += 1
        synchronize(device)
        timing.samples_ms += [clock.elapsed_ms(b, e) for b, e in marks]
        if len(timing.samples_ms) >= min_samples:
            iqr = timing.iqr_ms / timing.median_ms
            settled = previous_iqr is not None and abs(iqr - previous_iqr) < 0.02
            if settled or time.perf_counter() - started > max_seconds:
                break
            previous_iqr = iqr
    if memo_probe:
        fresh = (refreshed(bases[0], epochs[0] + 1 + i, which) for i in range(BATCH))
        timing.probe_fresh_ms, timing.repeat_ms = _memo_probe_ms(
            fn, fresh, sets[0], device, clock, flush
        )
    return timing


def _memo_probe_ms(
    fn: Callable, fresh_sets, repeated: list, device: torch.device, clock, flush
) -> tuple[float, float]:
    """(median on fresh inputs, median on ``repeated``): BATCH pairs, a call on the next fresh
    set then one on the very same ``repeated`` tensors, flushed like the samples."""
    marks: dict[bool, list] = {True: [], False: []}
    synchronize(device)
    for inputs in fresh_sets:
        for is_fresh, args in ((True, inputs), (False, repeated)):
            if flush is not None:
                flush.zero_()
            begin = clock.mark()
            fn(*args)
            marks[is_fresh].append((begin, clock.mark()))
    synchronize(device)
    fresh_ms, repeat_ms = (
        statistics.median(clock.elapsed_ms(b, e) for b, e in marks[k]) for k in (True, False)
    )
    return fresh_ms, repeat_ms


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
