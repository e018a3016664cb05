"""python -m torch_metalgen tune [OP ...]: time every kernel variant x thread limit of the
project's ops on this Mac's GPU, per dtype and size bucket of each op's benchmark shapes,
and write the fastest correct choice to the user's tuning table, which the runtime then
prefers (torch_metalgen/tuning.py; csrc/tuning.h).

Each choice is installed as a launch preference and the op is called as a user would call
it, so what is timed is what the plan will then pick; a choice the plan does not take for
that input (its variant is not correct there, or does not fit) is skipped. Every timed
choice's output is first compared with the float64 reference by the project's tolerance
table. Without an Apple GPU nothing can be timed, and tune says so and writes nothing
(``--cpu-dev`` runs the same steps on the CPU through the simulator, for tests: its times
mean nothing and its table is marked so and never installed).
"""

from __future__ import annotations

import argparse
import contextlib
import re
from pathlib import Path

import torch

from torch_metalgen import _ops, tuning
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen._generated.registry import OPS
from torch_metalgen.op_calls import CaptureCalls
from torch_metalgen.tolerances import float64_inputs, mismatch

SUITE = Path(__file__).resolve().parent / "problems" / "suite"
THREAD_LIMITS = (1024, 512, 256)


def problem_for(op: str):
    from torch_metalgen.problems import load_problem

    for path in sorted(SUITE.glob("level*/*.py")):
        if re.search(rf"^METALGEN_OPS\s*=\s*\(\s*[\"']{op}[\"']\s*,?\s*\)", path.read_text(), re.M):
            return load_problem(path)
    return None


def _cast(values: list, device: torch.device, dtype: torch.dtype) -> list:
    return [
        (v.to(dtype) if v.is_floating_point() else v).to(device)
        if isinstance(v, torch.Tensor)
        else v
        for v in values
    ]


def tune_op(
    op: str,
    device: torch.device,
    dtypes: list[str],
    dev: bool,
    samples: int,
    seconds: float,
    report,
) -> list[dict]:
    from torch_metalgen.bench.timing import time_function

    problem = problem_for(op)
    if problem is None:
        report(f"{op}: no suite problem runs it alone; skipped")
        return []
    entries, done = [], set()
    kinds = ("check",) if dev else ("bench",)
    context = contextlib.nullcontext
    if dev:
        from torch_metalgen import sim

        context = sim.simulate
    for shape in problem.shapes(kinds):
        for dtype_name in dtypes:
            if dtype_name not in OPS[op]["dtypes"]:
                continue
            dtype = getattr(torch, dtype_name)
            init = problem.init_inputs(shape, 0)
            model = problem.metalgen_class(*init)
            capture = CaptureCalls(op)
            inputs = _cast(problem.inputs(shape, 1), torch.device("cpu"), dtype)
            with capture, torch.no_grad():
                model.to(dtype)(*inputs)
            arguments = tuple(capture.calls[0])
            bucket = tuning.bucket_of(op, arguments)
            if (dtype_name, bucket) in done:
                continue
            done.add((dtype_name, bucket))
            reference = REFERENCES[op]
            expected = reference(*float64_inputs(arguments))
            on_device = _cast(list(arguments), device, dtype)
            op_function = getattr(torch.ops.metalgen, op)
            results = []
            for variant in ["", *OPS[op]["variants"]]:
                for threads in THREAD_LIMITS if variant else (1024,):
                    tuning.clear()
                    if variant:
                        tuning.prefer(op, dtype, bucket, variant, threads)
                    plans, _ = getattr(_ops._C, f"plan_{op}")(
                        *[a.cpu() if isinstance(a, torch.Tensor) else a for a in arguments]
                    )
                    taken = all(f"_{variant}_" in p.kernel or not variant for p in plans)
                    if variant and not (
                        taken
                        and all(
                            p.threadgroup[0] * p.threadgroup[1] * p.threadgroup[2] <= threads
                            for p in plans
                        )
                    ):
                        continue
                    with context(), torch.no_grad():
                        out = op_function(*on_device)
                        wrong = mismatch(out.cpu(), expected)
                        if wrong:
                            report(
                                f"{op} {dtype_name} bucket {bucket} {variant or 'auto'}/"
                                f"{threads}: WRONG: {wrong}"
                            )
                            continue
                        timing = time_function(
                            op_function,
                            [on_device],
                            device,
                            0,
                            2,
                            samples,
                            max_seconds=seconds,
                        )
                    chosen = plans[0].kernel if plans else ""
                    results.append((timing.median_ms, variant or "auto", threads, chosen))
            tuning.clear()
            if not results:
                continue
            auto = next(r for r in results if r[1] == "auto")
            best = min(results)
            if best[1] == "auto":
                report(
                    f"{op} {dtype_name} bucket {bucket}: the default choice ({auto[3]}) is fastest"
                )
                continue
            entries.append(
                {
                    "op": op,
                    "dtype": dtype_name,
                    "bucket": bucket,
                    "variant": best[1],
                    "max_threads": best[2],
                    "median_ms": best[0],
                    "default_ms": auto[0],
                    "default_kernel": auto[3],
                    "shape": shape.name,
                }
            )
            report(
                f"{op} {dtype_name} bucket {bucket}: {best[1]}/{best[2]} {best[0]:.4g} ms "
                f"vs default {auto[0]:.4g} ms"
            )
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m torch_metalgen tune",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ops", nargs="*", help="ops to tune (default: every op)")
    parser.add_argument("--dtypes", default="float32,float16,bfloat16")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=1.0)
    parser.add_argument("--cpu-dev", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [o for o in args.ops if o not in OPS]
    if unknown:
        parser.error(f"unknown ops {unknown}; expected some of {sorted(OPS)}")
    if torch.backends.mps.is_available() and not args.cpu_dev:
        device, family = torch.device("mps"), tuning.gpu_family()
    elif args.cpu_dev:
        device, family = torch.device("cpu"), "cpu-dev"
        print(
            "DEV RUN ON CPU THROUGH THE SIMULATOR: the times mean nothing; the table is "
            "marked as a dev run and never installed"
        )
    else:
        print(
            "tune times kernels on an Apple GPU (MPS), and there is none here: nothing "
            "timed, nothing written"
        )
        return 2
    entries = []
    for op in args.ops or sorted(OPS):
        entries += tune_op(
            op, device, args.dtypes.split(","), args.cpu_dev, args.samples, args.max_seconds, print
        )
    path = tuning.write_table(family, entries, dev=args.cpu_dev)
    installed = tuning.install()
    print(f"wrote {len(entries)} preferences to {path}; installed {len(installed)}")
    return 0
