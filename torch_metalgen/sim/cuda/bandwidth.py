"""Bandwidth of the Metal kernels' CUDA translation, next to PyTorch eager, torch.compile and
a device copy of the same bytes, on the same GPU.

These are NVIDIA figures of the Metal source (how nvcc/NVRTC and an NVIDIA GPU run the CUDA
translation of the unmodified .metal text), not Apple performance, and never a gate: they
catch structural problems (a variant that leaves the GPU idle, one SIMD-group per long row),
nothing finer. Each time is GPU time per call: a CUDA graph of many calls, rotating over
enough input sets to exceed 3x the L2 cache (a flag says when the cap left them
L2-resident), replayed 7 times; the median replay / calls. Bytes are the problem's
compulsory bytes (inputs, parameters and outputs once each).
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from torch_metalgen.problems import Problem
from torch_metalgen.verify.runner import randomize_constant_parameters, to_device

from .mode import enable

LABEL = (
    "NVIDIA figures of the Metal source (its CUDA translation on this GPU): not Apple "
    "performance; logged, never a gate"
)
REPLAYS = 7
MAX_SETS = 64


@dataclass
class Row:
    problem: str
    shape: str
    dtype: str
    compulsory_bytes: int
    kernels: str
    kernel_us: float | None = None
    eager_us: float | None = None
    compile_us: float | None = None
    copy_us: float | None = None
    spread: float | None = None  # (max - min) / min of the kernel's replays
    l2_resident: bool = False
    deterministic: bool | None = None
    note: str = ""

    @property
    def gbps(self) -> float | None:
        return None if not self.kernel_us else self.compulsory_bytes / self.kernel_us / 1e3

    @property
    def pct_copy(self) -> float | None:
        return (
            None if not (self.kernel_us and self.copy_us) else 100 * self.copy_us / self.kernel_us
        )

    def to_json(self) -> dict:
        return {**asdict(self), "gbps": self.gbps, "pct_copy": self.pct_copy}


def _graph_time_us(fn, sets: list[list], calls: int) -> tuple[float, float]:
    """(median microseconds per call, spread) of a CUDA graph of `calls` calls."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for i in range(3):
            fn(*sets[i % len(sets)])
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(calls):
            fn(*sets[i % len(sets)])
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPLAYS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / calls)
    del graph
    return statistics.median(times), (max(times) - min(times)) / min(times)


def _input_sets(problem, shape, dtype, device, seed: int, l2_bytes: int):
    first = [to_device(t, device, dtype) for t in problem.inputs(shape, seed)]
    set_bytes = sum(t.numel() * t.element_size() for t in first if isinstance(t, torch.Tensor))
    wanted = max(1, -(-3 * l2_bytes // max(set_bytes, 1)))
    count = min(wanted, MAX_SETS)
    sets = [first] + [
        [to_device(t, device, dtype) for t in problem.inputs(shape, seed + i)]
        for i in range(1, count)
    ]
    return sets, count < wanted, set_bytes


def measure(
    problem: Problem, shape, dtype: torch.dtype, seed: int = 0, with_compile: bool = True
) -> Row:
    """One row: the project op (its plan's kernels), eager, torch.compile, copy."""
    device = torch.device("cuda")
    l2 = int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 50 << 20))
    init = problem.init_inputs(shape, seed)
    model = problem.new_model(init, seed)
    randomize_constant_parameters(model, seed)
    eager = copy.deepcopy(model).to(device, dtype).eval()
    ours = problem.metalgen_class(*init)
    ours.load_state_dict(model.state_dict())
    ours = ours.to(device, dtype).eval()
    sets, l2_resident, _ = _input_sets(problem, shape, dtype, device, seed + 1, l2)
    calls = max(100, len(sets))
    with torch.no_grad():
        with enable() as mode:  # checked run: plan, unwritten elements, recorded errors
            reference = [t.clone() for t in _tensors(ours(*sets[0]))]
        outputs = _tensors(eager(*sets[0]))
        params = [p.detach() for p in ours.parameters()]
        with problem.at_shape(shape):
            compulsory = problem.compulsory_bytes(sets[0], outputs, params)
        row = Row(
            problem.name,
            shape.name,
            str(dtype).removeprefix("torch."),
            compulsory,
            "+".join(mode.launches),
            l2_resident=l2_resident,
        )

        def kernel(*inputs):
            with enable(check_unwritten=False, check=False):
                return ours(*inputs)

        row.kernel_us, row.spread = _graph_time_us(kernel, sets, calls)
        with enable():
            again = _tensors(ours(*sets[0]))
        row.deterministic = all(
            torch.equal(a.view(torch.uint8), b.view(torch.uint8))
            for a, b in zip(reference, again, strict=True)
        )
        row.eager_us, _ = _graph_time_us(eager, sets, calls)
        if with_compile:
            try:
                compiled = torch.compile(eager, dynamic=False)
                compiled(*sets[0])  # compile outside the capture
                row.compile_us, _ = _graph_time_us(compiled, sets, calls)
            except Exception as error:  # a baseline that fails is reported, not fatal
                row.note = f"torch.compile failed: {type(error).__name__}: {str(error)[:200]}"
        half = max(compulsory // 2, 1)
        sources = [torch.empty(half, dtype=torch.uint8, device=device) for _ in sets]
        destination = torch.empty(half, dtype=torch.uint8, device=device)
        for source in sources:
            source.fill_(1)
        row.copy_us, _ = _graph_time_us(
            lambda s: destination.copy_(s), [[s] for s in sources], calls
        )
    return row


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _tensors(item)]


def table(rows: list[Row], device_name: str) -> str:
    """The markdown table of the rows (times in microseconds)."""
    lines = [
        f"Bandwidth on {device_name}. {LABEL}.",
        "",
        "| problem | dtype | shape | MB | kernels | kernel us | GB/s | % of copy | vs eager | "
        "vs torch.compile | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(value, spec=".1f"):
        return "-" if value is None else format(value, spec)

    for r in rows:
        vs_eager = None if not (r.kernel_us and r.eager_us) else r.eager_us / r.kernel_us
        vs_compile = None if not (r.kernel_us and r.compile_us) else r.compile_us / r.kernel_us
        notes = [
            *(["L2-resident"] if r.l2_resident else []),
            *(["NOT deterministic"] if r.deterministic is False else []),
            *([r.note] if r.note else []),
        ]
        lines.append(
            f"| {r.problem} | {r.dtype} | {r.shape} | {r.compulsory_bytes / 1e6:.1f} | "
            f"{r.kernels} | {fmt(r.kernel_us)} | {fmt(r.gbps, '.0f')} | "
            f"{fmt(r.pct_copy, '.0f')}% | {fmt(vs_eager, '.2f')}x | {fmt(vs_compile, '.2f')}x | "
            f"{'; '.join(notes)} |"
        )
    return "\n".join(lines) + "\n"


def run(
    problems: list[Problem], budget_s: float, dtypes=None, shapes: int = 0, progress=print
) -> list[Row]:
    """Rows for each problem's bench shapes (the first `shapes`; 0: all) and dtypes (those
    named, else the problem's), until `budget_s` seconds are spent."""
    torch._dynamo.config.cache_size_limit = 256
    rows, started = [], time.perf_counter()
    for problem in problems:
        bench = problem.shapes(("bench",))
        for shape in bench[:shapes] if shapes else bench:
            for dtype in problem.dtypes:
                if dtypes and str(dtype).removeprefix("torch.") not in dtypes:
                    continue
                if time.perf_counter() - started > budget_s:
                    progress(f"bandwidth: time budget {budget_s:.0f} s spent; stopping")
                    return rows
                try:
                    row = measure(problem, shape, dtype)
                except Exception as error:
                    row = Row(
                        problem.name,
                        shape.name,
                        str(dtype).removeprefix("torch."),
                        0,
                        "",
                        note=f"{type(error).__name__}: {str(error)[:300]}",
                    )
                rows.append(row)
                progress(
                    f"bandwidth {problem.name} {shape.name} {row.dtype}: kernel "
                    f"{row.kernel_us} us, eager {row.eager_us}, compile {row.compile_us}, copy "
                    f"{row.copy_us} {row.note}"
                )
                torch._dynamo.reset()
    return rows
