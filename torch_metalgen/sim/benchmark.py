"""Measures the simulator: `python -m torch_metalgen.sim.benchmark`.

Reports the median of several runs (after a warm-up) for: compiling a kernel file
(cold, then cached), the launch overhead of a 1-thread kernel, and RMSNorm 64 x 4096
float with 1024-thread threadgroups (the project's rms_norm kernel and LaunchPlan)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from . import cache
from .library import compile_library
from .toolchain import toolchain_info

TRIVIAL = """#include <metal_stdlib>
using namespace metal;
kernel void trivial(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] += 1.0f;
}
"""


def _median_ms(run, repeats: int) -> tuple[float, float]:
    run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), min(samples)


def main() -> None:
    info = toolchain_info()
    print(
        f"compiler: {info.get('compiler')} ({info.get('version')}); "
        f"cpus: {os.cpu_count()}; workers: {os.environ.get('METALGEN_SIM_THREADS', 'all')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "trivial.metal"
        source.write_text(TRIVIAL + f"// {time.time_ns()}\n")  # a fresh build
        start = time.perf_counter()
        library = compile_library(source)
        print(f"compile (cold, runtime cached): {(time.perf_counter() - start) * 1e3:.0f} ms")
        x = torch.zeros(1)
        median, best = _median_ms(
            lambda: library.launch("trivial", buffers={0: x}, grid=(1,), threadgroup=(1,)), 2000
        )
        print(
            f"launch overhead, 1-thread kernel: median {median * 1e3:.1f} us, "
            f"best {best * 1e3:.1f} us"
        )
    print(f"cache: {cache.cache_root()}")
    try:
        from torch_metalgen import _C

        from .plan import run_plan
    except ImportError:
        print("rms_norm: skipped (torch_metalgen._C is not built)")
        return
    for rows, n in ((64, 4096), (64, 1024)):
        x = torch.randn(rows, n)
        weight = torch.randn(n)
        plan, _ = _C.plan_rms_norm(x, weight, 1e-6)
        median, best = _median_ms(lambda plan=plan: run_plan(plan, check_unwritten=False), 20)
        print(
            f"rms_norm {rows} x {n} float32 ({plan.kernel}, threadgroup {plan.threadgroup}): "
            f"median {median:.1f} ms, best {best:.1f} ms"
        )


if __name__ == "__main__":
    main()
