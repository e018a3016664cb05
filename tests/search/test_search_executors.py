"""Evaluations through the executor interface: the local process pool and a Ray cluster
the test starts on this machine (one CPU, no dashboard), each returning every job's result
under its key, and a job that raises as a failed result rather than an exception."""

from __future__ import annotations

import time

import pytest

from generator.search.candidate import RunStore
from generator.search.executors import LocalExecutor, RayExecutor
from tests.search.search_helpers import SHIPPED, quick_settings, saved

HOSTILE = SHIPPED.replace("using metalgen::SIMD_SIZE;", '#include "/etc/shadow"', 1)


def _jobs(tmp_path):
    store = RunStore(tmp_path)
    first = saved(store, HOSTILE, "hostile")
    second = saved(store, HOSTILE.replace("RMSNorm", "RMS norm", 1), "hostile too")
    return [
        ("first", str(first), quick_settings()),
        ("second", str(second), quick_settings()),
        ("missing", str(tmp_path / "candidates" / "nope"), quick_settings()),
    ]


def _check(results: dict) -> None:
    assert set(results) == {"first", "second", "missing"}
    for key in ("first", "second"):
        assert not results[key]["passed"]
        assert results[key]["stages"][0]["stage"] == "contract"
        assert "#include" in results[key]["stages"][0]["reason"]
    assert not results["missing"]["passed"] and "error" in results["missing"]


def test_local_process_pool(tmp_path):
    executor = LocalExecutor(workers=2)
    try:
        _check(dict(executor.run(_jobs(tmp_path))))
    finally:
        executor.close()


def test_ray_cluster(tmp_path):
    ray = pytest.importorskip("ray")
    start = time.monotonic()
    executor = RayExecutor(num_cpus=1)
    try:
        assert ray.is_initialized()
        _check(dict(executor.run(_jobs(tmp_path))))
    finally:
        executor.close()
    assert not ray.is_initialized()
    assert time.monotonic() - start < 120
