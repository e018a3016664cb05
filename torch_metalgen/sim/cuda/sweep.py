"""The CUDA tier in one command (scripts/cuda_tier.sh runs it on a GPU machine).

    python -m torch_metalgen.sim.cuda.sweep prepare      # on a machine with clang: front-end
                                                          # cache for every kernel file (+ the
                                                          # planted-bug copy), NVRTC compile check
    python -m torch_metalgen.sim.cuda.sweep run --out DIR   # on the GPU: everything below
    python -m torch_metalgen.sim.cuda.sweep cases [--ops rms_norm] [--source-dir DIR] [--json F]

``run`` phases (``--phases``, in this order): env (device, versions, command), cases (every
kernel x dtype x variant at sample sizes), sanitize (memcheck, racecheck, synccheck,
initcheck over the cases, and racecheck over a copy of metal/ with a barrier deleted, all
five in parallel), verify (the verifier's rules at check, held-out and bench sizes, the
plan's variants), variants (every other variant at bench sizes), repeats (bench shapes run
many times, bit for bit), bandwidth (the table; NVIDIA figures, never a gate). Results go to
DIR/results.json and DIR/summary.md as each phase ends.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PHASES = ("env", "cases", "sanitize", "verify", "variants", "repeats", "bandwidth")


FEATURES = "features.metal"  # tests/cuda's kernels, also compiled with these constants:
FEATURE_CONSTANTS = ({0: True}, {0: False})  # (test_function_constants)


def _metal_files() -> list[Path]:
    from ..plan import metal_source_dir

    files = sorted(metal_source_dir().glob("*.metal"))
    features = REPO / "tests" / "cuda" / "kernels" / FEATURES
    return files + ([features] if features.exists() else [])


def mutant_dir(root: Path) -> tuple[Path, int]:
    from ..plan import metal_source_dir
    from .sanitize import plant_missing_barrier

    return plant_missing_barrier(metal_source_dir(), root / "missing_barrier")


# ---- prepare -----------------------------------------------------------------------------


def prepare(args) -> int:
    from .frontend import cuda_cache_root, front_end
    from .library import build_program
    from .nvrtc import nvrtc_available

    mutant, line = mutant_dir(cuda_cache_root() / "mutants")
    sources = [*_metal_files(), *sorted(mutant.glob("*.metal"))]
    compile_check = nvrtc_available()
    failures = 0
    runs = [(source, None) for source in sources]
    runs += [
        (features, c)
        for features in sources
        if features.name == FEATURES
        for c in FEATURE_CONSTANTS
    ]
    for source, constants in runs:
        started = time.perf_counter()
        try:
            result = front_end(source, (source.parent,), constants)
            what = f"{len(result.kernels)} kernels"
            if compile_check:
                for arch in args.arch:
                    build_program(source, (source.parent,), constants, arch=arch)
                what += f", NVRTC {'+'.join(args.arch)} ok"
        except Exception as error:
            failures += 1
            what = f"FAIL {type(error).__name__}: {str(error)[:2000]}"
        label = f"{source} constants {constants}" if constants else str(source)
        print(f"{label}: {what} ({time.perf_counter() - started:.1f} s)", flush=True)
    print(f"planted-bug copy: {mutant} (common.h line {line} emptied)")
    if not compile_check:
        print("NVRTC not found: translation compile check skipped")
    return 1 if failures else 0


# ---- exceptions --------------------------------------------------------------------------


def exceptions(args=None) -> int:
    """0 when a C++ error in torch_metalgen._C arrives as a Python ValueError. An extension
    linked against a second libstdc++ crashes here instead (the process dies: the caller's
    exit status says so), which would take down every later check that expects an error."""
    import torch

    from torch_metalgen import _ops

    try:
        _ops._C.plan_rms_norm(torch.ones(2, 4), variant="no-such-variant")
    except ValueError as error:
        print(f"ok: ValueError({str(error)[:80]!r})")
        return 0
    print("plan_rms_norm accepted an unknown variant")
    return 1


# ---- cases -------------------------------------------------------------------------------


def cases(args) -> int:
    import torch

    import torch_metalgen  # noqa: F401  (registers the ops, loads _C)

    from .cases import all_cases, run_all, write

    torch.cuda.init()
    selected = all_cases(args.ops.split(",") if args.ops else None)
    outcomes = run_all(selected, source_dir=args.source_dir)
    if args.json:
        write(outcomes, Path(args.json))
    failed = [o for o in outcomes if o.status == "FAIL"]
    print(f"cases: {len(outcomes) - len(failed)} passed or skipped, {len(failed)} failed")
    return 1 if failed else 0


# ---- run ---------------------------------------------------------------------------------


def _command_output(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return (result.stdout + result.stderr).strip()
    except (OSError, subprocess.SubprocessError) as error:
        return f"unavailable ({error})"


def environment(argv: list[str]) -> dict:
    import torch

    from . import driver
    from .nvrtc import find_nvrtc
    from .sanitize import find_sanitizer

    torch.cuda.init()
    torch.zeros(1, device="cuda")
    properties = torch.cuda.get_device_properties(0)
    sanitizer = find_sanitizer()
    commit = REPO / "COMMIT"
    return {
        "device": torch.cuda.get_device_name(0),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
        "multiprocessors": properties.multi_processor_count,
        "memory_gib": round(properties.total_memory / 2**30, 1),
        "l2_bytes": getattr(properties, "L2_cache_size", None),
        "driver_api": driver.driver_version(),
        "nvidia_smi": _command_output(
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,clocks.sm,clocks.max.sm,"
                "power.draw,temperature.gpu",
                "--format=csv,noheader",
            ]
        ),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "nvrtc": find_nvrtc().identity,
        "compute_sanitizer": _command_output([sanitizer, "--version"]).splitlines()[-1]
        if sanitizer
        else None,
        "python": platform.python_version(),
        "commit": commit.read_text().strip()
        if commit.exists()
        else _command_output(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "command": " ".join(["python -m torch_metalgen.sim.cuda.sweep", *argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


class Results:
    """results-<name>.json in the output directory (several runs may share it, e.g. phases
    run in parallel), and summary.md over all of them."""

    def __init__(self, out: Path, argv: list[str], name: str = "results") -> None:
        self.out = out
        self.path = out / f"{name}.json" if name == "results" else out / f"results-{name}.json"
        self.data: dict = {"argv": argv}
        out.mkdir(parents=True, exist_ok=True)

    def save(self, phase: str, value) -> None:
        self.data[phase] = value
        self.path.write_text(json.dumps(self.data, indent=1, default=str))
        (self.out / "summary.md").write_text(summary(merged(self.out)))


def merged(out: Path) -> dict:
    """Every results*.json of an output directory as one dict of phases."""
    data: dict = {}
    for path in sorted(out.glob("results*.json")):
        part = json.loads(path.read_text())
        data.update({k: v for k, v in part.items() if k != "argv"})
    return data


def _phase_cases() -> dict:
    from .cases import all_cases, run_all

    started = time.perf_counter()
    outcomes = run_all(all_cases())
    return {
        "seconds": time.perf_counter() - started,
        "outcomes": [{**asdict(o), "case": o.case.name} for o in outcomes],
    }


def _phase_sanitize(out: Path, budget: float) -> dict:
    from .sanitize import TOOLS, find_sanitizer, finish_tool, sanitizer_flags, start_tool

    sanitizer = find_sanitizer()
    if sanitizer is None:
        return {"error": "compute-sanitizer not found"}
    import tempfile

    mutant, line = mutant_dir(Path(tempfile.mkdtemp(prefix="metalcuda-mutant-")))
    started = time.perf_counter()
    runs = {}
    for tool in TOOLS:
        flags = sanitizer_flags(sanitizer, tool)
        runs[tool] = start_tool(sanitizer, tool, out / f"cases-{tool}.json", flags)
    runs["mutant-racecheck"] = start_tool(
        sanitizer,
        "racecheck",
        out / "cases-mutant-racecheck.json",
        sanitizer_flags(sanitizer),
        ["--ops", "rms_norm", "--source-dir", str(mutant)],
    )
    results, log = {}, []
    for name, (process, command) in runs.items():
        tool = "racecheck" if name.startswith("mutant") else name
        run = finish_tool(tool, process, command, out / f"cases-{name}.json", budget)
        cases = json.loads(run.cases_json.read_text()) if run.cases_json.exists() else []
        statuses = {}
        for case in cases:
            statuses[case["status"]] = statuses.get(case["status"], 0) + 1
        results[name] = {
            "command": " ".join(command),
            "returncode": run.returncode,
            "summary": run.summary,
            "errors": run.errors,
            "clean": run.clean,
            "cases": statuses,
            "race_lines": run.race_lines[:40],
        }
        log.append(f"===== {name}: {' '.join(command)}\n{_tail(run.output, 60000)}")
        run.cases_json.unlink(missing_ok=True)
    (out / "sanitizers.log").write_text("\n".join(log))
    mutant_run = results["mutant-racecheck"]
    mutant_run["planted"] = f"common.h line {line}: first threadgroup_barrier deleted"
    mutant_run["caught"] = bool(mutant_run["errors"]) and any(
        "common.h" in line for line in mutant_run["race_lines"]
    )
    return {
        "seconds": time.perf_counter() - started,
        "flags": sanitizer_flags(sanitizer),
        "runs": results,
    }


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def _reports_json(reports) -> list[dict]:
    return [
        {
            "problem": r.problem,
            "status": r.status,
            "verified": r.verified,
            "notes": r.notes,
            "cases": [asdict(c) for c in r.cases],
        }
        for r in reports
    ]


def _phase_verify(problems, small_distributions, save) -> dict:
    from .verification import verify_suite

    started = time.perf_counter()
    partial: dict = {
        "seconds": 0.0,
        "bench": [],
        "small": [],
        "kernels_bench": [],
        "kernels_small": [],
        "partial": True,
    }

    def progress(part: str):
        def on_report(reports, launches):
            partial[part] = _reports_json(reports)
            partial[f"kernels_{part}"] = sorted(set(launches))
            partial["seconds"] = time.perf_counter() - started
            save("verify", partial)

        return on_report

    bench, bench_launches = verify_suite(
        problems, shape_kinds=("bench",), on_report=progress("bench")
    )
    small, small_launches = verify_suite(
        problems,
        shape_kinds=("check", "held-out"),
        distributions=small_distributions,
        on_report=progress("small"),
    )
    return {
        "seconds": time.perf_counter() - started,
        "small": _reports_json(small),
        "bench": _reports_json(bench),
        "kernels_small": sorted(set(small_launches)),
        "kernels_bench": sorted(set(bench_launches)),
    }


def _phase_variants(problems) -> dict:
    from torch_metalgen._generated.registry import OPS

    from .verification import verify_suite

    started = time.perf_counter()
    by_variant = {}
    launches = set()
    for variant in sorted({v for info in OPS.values() for v in info["variants"]}):
        chosen = [
            p for p in problems if any(variant in OPS[op]["variants"] for op in p.metalgen_ops)
        ]
        reports, ran = verify_suite(
            chosen, variant=variant, shape_kinds=("bench",), distributions=("native",)
        )
        by_variant[variant] = _reports_json(reports)
        launches.update(ran)
    return {
        "seconds": time.perf_counter() - started,
        "by_variant": by_variant,
        "kernels_bench": sorted(launches),
    }


def run(args, argv: list[str]) -> int:
    import torch

    import torch_metalgen  # noqa: F401

    out = Path(args.out)
    results = Results(out, argv, args.name)
    phases = args.phases.split(",") if args.phases else list(PHASES)
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise SystemExit(f"--phases: unknown {sorted(unknown)}; known: {', '.join(PHASES)}")
    from .verification import suite_problems

    problems = _select(suite_problems(), args.problems)
    for phase in PHASES:
        if phase not in phases:
            continue
        started = time.perf_counter()
        print(f"==> {phase}", flush=True)
        try:
            if phase == "env":
                value = environment(argv)
            elif phase == "cases":
                value = _phase_cases()
            elif phase == "sanitize":
                value = _phase_sanitize(out, args.sanitize_timeout)
            elif phase == "verify":
                small = args.small_distributions
                value = _phase_verify(problems, small.split(",") if small else None, results.save)
            elif phase == "variants":
                value = _phase_variants(problems)
            elif phase == "repeats":
                from .verification import repeat_runs

                value = [asdict(r) for r in repeat_runs(problems, args.repeats)]
            else:
                from . import bandwidth

                chosen = args.bandwidth_problems.split(",") if args.bandwidth_problems else None
                rows = bandwidth.run(
                    [p for n in chosen for p in problems if p.name == n] if chosen else problems,
                    args.bandwidth_budget,
                    dtypes=args.bandwidth_dtypes.split(",") if args.bandwidth_dtypes else None,
                    shapes=args.bandwidth_shapes,
                )
                value = {
                    "label": bandwidth.LABEL,
                    "rows": [r.to_json() for r in rows],
                    "table": bandwidth.table(rows, torch.cuda.get_device_name(0)),
                }
        except Exception as error:  # a phase that breaks is recorded; the others still run
            import traceback

            value = {"error": "".join(traceback.format_exception(error))[-4000:]}
            print(value["error"], flush=True)
        results.save(phase, value)
        print(f"<== {phase} ({time.perf_counter() - started:.1f} s)", flush=True)
    print(summary(results.data))
    return 0 if tier_passed(results.data) else 1


def _select(problems: list, names: str | None) -> list:
    if not names:
        return problems
    wanted = names.split(",")
    known = {p.name for p in problems}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(
            f"--problems: unknown {unknown}; suite problems: {', '.join(sorted(known))}"
        )
    return [p for p in problems if p.name in wanted]


def summarize(args) -> int:
    data = merged(Path(args.out))
    text = summary(data)
    (Path(args.out) / "summary.md").write_text(text)
    print(text)
    return 0 if tier_passed(data) else 1


# ---- summary -----------------------------------------------------------------------------


def tier_passed(data: dict) -> bool:
    ok = not any(isinstance(v, dict) and "error" in v for k, v in data.items() if k in PHASES)
    if "cases" in data:
        ok &= not any(o["status"] == "FAIL" for o in data["cases"].get("outcomes", [{}]))
    if "sanitize" in data:
        runs = data["sanitize"].get("runs", {})
        ok &= all(r["clean"] for n, r in runs.items() if not n.startswith("mutant"))
        ok &= bool(runs.get("mutant-racecheck", {}).get("caught"))
    for phase in ("verify",):
        if phase in data:
            for part in ("small", "bench"):
                ok &= all(r["status"] in ("pass", "skip") for r in data[phase].get(part, [{}]))
    if "variants" in data:
        for reports in data["variants"].get("by_variant", {}).values():
            ok &= all(r["status"] in ("pass", "skip") for r in reports)
    if "repeats" in data and isinstance(data["repeats"], list):
        ok &= all(r["identical"] for r in data["repeats"])
    return bool(ok)


def _count(cases: list[dict]) -> str:
    counts = {}
    for case in cases:
        counts[case["status"]] = counts.get(case["status"], 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def summary(data: dict) -> str:
    lines = ["# CUDA tier: the project's Metal kernels on an NVIDIA GPU", ""]
    env = data.get("env", {})
    if env and "error" not in env:
        lines += [
            f"Device {env['device']} (sm_{env['capability'].replace('.', '')}, "
            f"{env['multiprocessors']} SMs, {env['memory_gib']} GiB); nvidia-smi: "
            f"{env['nvidia_smi']}; torch {env['torch']} (CUDA {env['torch_cuda']}); "
            f"{env['nvrtc']}; compute-sanitizer {env['compute_sanitizer']}; Python "
            f"{env['python']}; commit {env['commit']}.",
            "",
            f"Command: `{env['command']}` ({env['started']})",
            "",
        ]
    if isinstance(env, dict) and "error" in env:
        lines += ["## env: ERROR", "", "```", env["error"][-2000:], "```", ""]
    for phase in PHASES[1:]:
        value = data.get(phase)
        if value is None:
            continue
        if isinstance(value, dict) and "error" in value and len(value) == 1:
            lines += [f"## {phase}: ERROR", "", "```", value["error"][-2000:], "```", ""]
            continue
        if phase == "cases":
            outcomes = value["outcomes"]
            lines += [
                f"## cases (every kernel x dtype x variant, sample sizes): "
                f"{_count(outcomes)} ({value['seconds']:.0f} s)",
                "",
            ]
            lines += [
                f"- {o['status']} {o['case']}: {o['reason']}"
                for o in outcomes
                if o["status"] != "pass"
            ]
            lines.append("")
        elif phase == "sanitize":
            lines += [
                f"## compute-sanitizer ({value.get('seconds', 0):.0f} s, flags "
                f"{value.get('flags')})",
                "",
                "| run | summary | exit | cases | clean |",
                "|---|---|---|---|---|",
            ]
            for name, r in value.get("runs", {}).items():
                cases = ", ".join(f"{n} {s}" for s, n in r["cases"].items())
                clean = (
                    r["clean"] if not name.startswith("mutant") else f"caught: {r.get('caught')}"
                )
                lines.append(f"| {name} | {r['summary']} | {r['returncode']} | {cases} | {clean} |")
            mutant = value.get("runs", {}).get("mutant-racecheck")
            if mutant:
                lines += ["", f"Planted bug ({mutant['planted']}), racecheck reports:", "```"]
                lines += mutant["race_lines"][:12] + ["```"]
            lines.append("")
        elif phase in ("verify", "variants"):
            parts = (
                [("small", value["small"]), ("bench", value["bench"])]
                if phase == "verify"
                else list(value.get("by_variant", {}).items())
            )
            lines += [
                f"## {phase} ({value['seconds']:.0f} s)",
                "",
                "| part | problem | status | cases |",
                "|---|---|---|---|",
            ]
            for part, reports in parts:
                for r in reports:
                    lines.append(
                        f"| {part} | {r['problem']} | {r['status']} | {_count(r['cases'])} |"
                    )
            lines.append("")
            for part, reports in parts:
                for r in reports:
                    for c in r["cases"]:
                        if c["status"] not in ("pass", "skip"):
                            lines.append(
                                f"- {part} {r['problem']} {c['dtype']} {c['shape']} "
                                f"{c['distribution']}: {c['status']} [{c['rule']}] "
                                f"{c['reason']}"
                            )
            if phase == "verify":
                lines += [
                    "",
                    f"Kernels run at bench sizes (plan's choice): {len(value['kernels_bench'])}",
                    "",
                ]
        elif phase == "repeats":
            identical = sum(r["identical"] for r in value)
            lines += [
                f"## repeats: {identical} of {len(value)} bench cases bit-identical over "
                f"{value[0]['runs'] if value else 0} runs",
                "",
            ]
            lines += [
                f"- {r['problem']} {r['shape']} {r['dtype']}: {r['detail']}"
                for r in value
                if not r["identical"]
            ]
            lines.append("")
        elif phase == "bandwidth":
            lines += ["## bandwidth", "", value["table"], ""]
    coverage = _coverage(data)
    if coverage:
        lines += ["## kernels never run at a bench size", "", coverage, ""]
    lines.append(f"Tier {'PASSED' if tier_passed(data) else 'FAILED'}.")
    return "\n".join(lines) + "\n"


def _coverage(data: dict) -> str:
    try:
        from torch_metalgen._generated.registry import OPS
    except ImportError:
        return ""
    ran = set(data.get("verify", {}).get("kernels_bench", [])) | set(
        data.get("variants", {}).get("kernels_bench", [])
    )
    if not ran:
        return ""
    every = {
        k for info in OPS.values() for table in info["kernels"].values() for k in table.values()
    }
    missing = sorted(every - ran)
    return ", ".join(missing) if missing else "(none: every kernel of every op ran at a bench size)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m torch_metalgen.sim.cuda.sweep")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="front-end cache and NVRTC compile check (needs clang)")
    p.add_argument("--arch", action="append", default=None, help="NVRTC target (sm_90)")
    c = sub.add_parser("cases", help="every kernel x dtype x variant at sample sizes (GPU)")
    c.add_argument("--ops", help="comma list of ops (default: all)")
    c.add_argument("--source-dir", help="directory of the .metal files (default: metal/)")
    c.add_argument("--json", help="write the outcomes here")
    r = sub.add_parser("run", help="the whole tier on this GPU")
    r.add_argument("--out", required=True)
    r.add_argument("--phases", help=f"comma list of {', '.join(PHASES)} (default: all)")
    r.add_argument("--repeats", type=int, default=20)
    r.add_argument("--sanitize-timeout", type=float, default=420.0)
    r.add_argument("--bandwidth-budget", type=float, default=300.0)
    r.add_argument("--bandwidth-dtypes", help="comma list (default: each problem's DTYPES)")
    r.add_argument("--bandwidth-problems", help="comma list of problems, in this order")
    r.add_argument("--bandwidth-shapes", type=int, default=0, help="first N bench shapes (0: all)")
    r.add_argument(
        "--small-distributions",
        help="input distributions of check and held-out shapes (default: all the verifier's)",
    )
    r.add_argument("--name", default="results", help="results-<name>.json (parallel runs)")
    r.add_argument(
        "--problems",
        help="comma list of suite problems for verify, variants, repeats and bandwidth "
        "(default: all; shards for parallel runs)",
    )
    sub.add_parser("exceptions", help="the extension's C++ errors reach Python (a build check)")
    m = sub.add_parser("summary", help="summary.md over every results*.json of --out")
    m.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        args.arch = args.arch or ["sm_90"]
        return prepare(args)
    if args.command == "cases":
        return cases(args)
    if args.command == "summary":
        return summarize(args)
    if args.command == "exceptions":
        return exceptions(args)
    return run(args, argv)


if __name__ == "__main__":
    sys.exit(main())
