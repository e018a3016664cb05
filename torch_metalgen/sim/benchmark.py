"""Measures the simulator: `python -m torch_metalgen.sim.benchmark`.

Reports the median of several runs (after a warm-up) for: compiling a kernel file
(cold, then cached), the launch overhead of a 1-thread kernel, and RMSNorm 64 x 4096
float with 1024-thread threadgroups (the project's rms_norm kernel and LaunchPlan), with
the memory checks on (the default) and off; then, for every rms_norm kernel variant, the
bytes it moved against its compulsory bytes (each input read once, each output written
once), from the checker's traffic counts."""

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
from .traffic import record_launches

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
            median, best = _median_ms(
                lambda plan=plan, checks=checks: _launch_plan(plan, check_memory=checks),
                20,
            )
            print(
                f"rms_norm {rows} x {n} float32 ({plan.kernel}, threadgroup {plan.threadgroup}, "
                f"memory checks {'on' if checks else 'off'}): median {median:.1f} ms, "
                f"best {best:.1f} ms"
            )
    print_traffic(_C)


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


def print_traffic(_C) -> None:
    """Measured traffic / compulsory bytes of each rms_norm variant."""

    cases = ((64, 256, torch.float32), (64, 4096, torch.float32), (5, 10001, torch.float32))
    cases += ((64, 4096, torch.float16), (64, 4096, torch.bfloat16))
    for rows, n, dtype in cases:
        x, weight = torch.randn(rows, n, dtype=dtype), torch.randn(n, dtype=dtype)
        plans, _ = _C.plan_rms_norm(x, weight, 1e-6)
        plans = plans if isinstance(plans, (list, tuple)) else [plans]
        for plan in plans:
            with record_launches() as launches:
                _launch_plan(plan)
            traffic = launches[0].traffic
            bound = [(int(i), t, out) for i, t, out in plan.buffers if t is not None]
            parts = []
            for index, tensor, is_output in bound:
                size = tensor.numel() * tensor.element_size()
                moved = traffic[index].written if is_output else traffic[index].read
                what = "written" if is_output else "read"
                parts.append(f"buffer({index}) {what} {moved / size:.2f}x")
            read = sum(traffic[i].read for i, _, out in bound if not out)
            written = sum(traffic[i].written for i, _, out in bound if out)
            compulsory = sum(t.numel() * t.element_size() for _, t, _ in bound)
            print(
                f"traffic {plan.kernel} {rows} x {n}: {(read + written) / compulsory:.2f}x "
                f"compulsory ({read + written} / {compulsory} bytes; {', '.join(parts)})"
            )


if __name__ == "__main__":
    main()
