"""Measures the simulator: `python -m torch_metalgen.sim.benchmark`.

Reports the median and best of several runs (after a warm-up), in wall time and in CPU
time of this process (steadier on a shared machine), for: compiling a kernel file (cold,
then cached), the launch overhead of a 1-thread kernel, and RMSNorm 64 x 4096 and
64 x 1024 float with the project's rms_norm kernel and LaunchPlan, with the memory checks
on (the default) and off; then, for every kernel variant x dtype of every generated op,
the bytes its launches moved against its compulsory bytes (op_traffic.py)."""

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
    median, best, _ = _timed(run, repeats)
    return median, best


def _timed(run, repeats: int) -> tuple[float, float, float]:
    """Median and best wall milliseconds, and median CPU milliseconds (all threads)."""
    run()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return statistics.median(wall), min(wall), statistics.median(cpu)


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

    except ImportError:
        print("rms_norm: skipped (torch_metalgen._C is not built)")
        return
    for rows, n in ((64, 4096), (64, 1024)):
        x = torch.randn(rows, n)
        weight = torch.randn(n)
        plans, _ = _C.plan_rms_norm(x, weight, 1e-6)
        # One LaunchPlan, or a list of them (multi-launch plans); rms_norm has one launch.
        plan = plans[0] if isinstance(plans, (list, tuple)) else plans
        for checks in (True, False):
            median, best, cpu = _timed(
                lambda plan=plan, checks=checks: _launch_plan(plan, check_memory=checks),
                20,
            )
            print(
                f"rms_norm {rows} x {n} float32 ({plan.kernel}, threadgroup {plan.threadgroup}, "
                f"memory checks {'on' if checks else 'off'}): median {median:.1f} ms, "
                f"best {best:.1f} ms, CPU median {cpu:.1f} ms"
            )
    print_traffic()


def _launch_plan(plan, **options):
    """run_plan without the unwritten-output check, with Library.launch's options."""
    from .plan import metal_source_dir

    source_dir = metal_source_dir()
    library = compile_library(source_dir / f"{plan.library}.metal", include_dirs=(source_dir,))
    return library.launch(
        plan.kernel,
        buffers={int(i): t for i, t, _ in plan.buffers if t is not None},
        bytes={int(i): bytes(d) for i, d in plan.bytes},
        threadgroup_memory={int(i): int(n) for i, n in plan.threadgroup_memory},
        grid=tuple(plan.grid),
        threadgroup=tuple(plan.threadgroup),
        dispatch=plan.dispatch,
        **options,
    )


def print_traffic() -> None:
    """Measured traffic / compulsory bytes of every kernel variant of every op."""
    from .op_traffic import format_rows, measure_all_ops

    print("memory traffic of every op's kernels (registry samples), against compulsory bytes:")
    print(format_rows(measure_all_ops()))


if __name__ == "__main__":
    main()
