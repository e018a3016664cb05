"""Where candidates are evaluated: one small interface, two implementations.

``Executor.run(jobs)`` takes ``(key, candidate_dir, settings)`` triples and yields
``(key, result)`` as evaluations finish, in any order; a job that raises yields
``{"error": ...}`` instead of ending the search.

- ``LocalExecutor``: a process pool on this machine (``concurrent.futures``, spawn
  context: workers import torch themselves instead of inheriting a forked copy).
- ``RayExecutor``: Ray tasks (``pip install ray``), for tuning across machines, e.g. a
  rack of Macs of different generations: ``address`` names a running cluster ("auto",
  "ray://host:10001"), None starts a local one. Each task evaluates on the node that runs
  it, with that node's device; the candidate's directory must be readable there (a shared
  file system, or run the search from the same checkout on every node).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from generator.search.evaluate import evaluate

REPO_ROOT = Path(__file__).resolve().parents[2]
Job = tuple[str, str, dict[str, Any]]


class Executor(Protocol):
    name: str

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def close(self) -> None: ...


def _failure(error: BaseException) -> dict[str, Any]:
    return {"error": f"{type(error).__name__}: {error}", "stages": [], "passed": False}


class InlineExecutor:
    """In this process, one at a time (debugging; the untrusted steps still run in their
    limited subprocesses)."""

    name = "inline"

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, directory, settings in jobs:
            try:
                yield key, evaluate(directory, settings)
            except Exception as error:
                yield key, _failure(error)

    def close(self) -> None:
        pass


class LocalExecutor:
    """A local process pool of ``workers`` processes."""

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = max(1, workers)
        self.pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[str, dict[str, Any]]]:
        pending = {
            self.pool.submit(evaluate, directory, settings): key
            for key, directory, settings in jobs
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                key = pending.pop(future)
                try:
                    yield key, future.result()
                except Exception as error:  # a pool worker that died, an unpicklable result
                    yield key, _failure(error)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class RayExecutor:
    """Ray tasks; ``address`` None starts a local cluster of ``num_cpus`` CPUs."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError as error:
            raise RuntimeError("the Ray executor needs ray: pip install ray") from error
        self.ray = ray
        # Tasks import generator.search on the workers: the checkout must be on their path.
        path = os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
                log_to_driver=False,
            )
        self.remote = ray.remote(evaluate)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[str, dict[str, Any]]]:
        pending = {
            self.remote.remote(directory, settings): key for key, directory, settings in jobs
        }
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for reference in done:
                key = pending.pop(reference)
                try:
                    yield key, self.ray.get(reference)
                except Exception as error:  # a task error or a lost node
                    yield key, _failure(error)

    def close(self) -> None:
        self.ray.shutdown()


def make_executor(kind: str, workers: int = 1, address: str | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "inline":
        return InlineExecutor()
    if kind == "ray":
        return RayExecutor(address, num_cpus=workers if address is None else None)
    raise ValueError(f"executor {kind!r} is not one of local, inline, ray")
