"""Results (rule 19): JSON and CSV with device, versions, timestamp and the exact command;
fast_p and the geometric mean of speedups over all problems."""

from __future__ import annotations

import csv
import json
import math
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from torch_metalgen.bench.runner import BenchRecord

FAST_P = (0.0, 1.0, 1.5, 2.0)


def fast_p(records: list[BenchRecord], p: float) -> float:
    """Fraction of all records that are correct AND faster than the best baseline by > p
    (KernelBench's fast_p; refused/failed records and suspect (MEMO) ones count against it)."""
    if not records:
        return 0.0
    counted = [r for r in records if r.status == "ok" and r.candidate is not None and not r.suspect]
    good = counted if p == 0.0 else [r for r in counted if (r.speedup_best or 0) > p]
    return len(good) / len(records)


def geomean_speedup(records: list[BenchRecord]) -> float | None:
    speedups = [
        r.speedup_best for r in records if r.status == "ok" and r.speedup_best and not r.suspect
    ]
    if not speedups:
        return None
    return math.exp(sum(math.log(s) for s in speedups) / len(speedups))


def summary(records: list[BenchRecord]) -> dict:
    return {
        "records": len(records),
        "refused": sum(r.status == "refused" for r in records),
        "errors": sum(r.status == "error" for r in records),
        "suspect": sum(r.suspect for r in records),
        **{f"fast_{p:g}": fast_p(records, p) for p in FAST_P},
        "geomean_speedup_vs_best_baseline": geomean_speedup(records),
        "geomean_over": "records with a correct candidate and at least one baseline, "
        "not flagged MEMO",
    }


def environment(device: torch.device, limits, command: list[str]) -> dict:
    env = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(command),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": limits.name if limits else None,
        "limits": None
        if limits is None
        else {
            "bandwidth_gbs": limits.bandwidth_gbs,
            "hard_bandwidth_gbs": limits.hard_bandwidth_gbs,
            "tflops": {str(k): v for k, v in limits.tflops.items()},
            "last_level_cache": limits.last_level_cache,
            "source": limits.source,
        },
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name(device)
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        pass
    return env


def write(records: list[BenchRecord], out_dir: Path, env: dict) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / "results.json", out_dir / "results.csv"
    json_path.write_text(
        json.dumps(
            {
                "environment": env,
                "summary": summary(records),
                "records": [asdict(r) for r in records],
            },
            indent=1,
            default=str,
        )
    )
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "problem",
                "level",
                "shape",
                "shape_kind",
                "dtype",
                "status",
                "candidate",
                "candidate_ms",
                "candidate_iqr_ms",
                "eager_ms",
                "compile_ms",
                "speedup_vs_best",
                "compulsory_bytes",
                "flops",
                "sol_ms",
                "candidate_pct_sol",
                "eager_pct_sol",
                "compile_pct_sol",
                "flags",
                "why",
            ]
        )
        for r in records:
            c, e, k = r.candidate, r.baselines.get("eager"), r.baselines.get("compile")
            writer.writerow(
                [
                    r.problem,
                    r.level,
                    r.shape,
                    r.shape_kind,
                    r.dtype,
                    r.status,
                    r.candidate_name,
                    _n(c and c.median_ms),
                    _n(c and c.q3_ms - c.q1_ms),
                    _n(e and e.median_ms),
                    _n(k and k.median_ms),
                    _n(r.speedup_best),
                    r.compulsory_bytes,
                    _n(r.flops),
                    _n(r.sol_ms),
                    _n(r.pct_sol(c)),
                    _n(r.pct_sol(e)),
                    _n(r.pct_sol(k)),
                    " | ".join(r.flags),
                    r.why,
                ]
            )
    return [json_path, csv_path]


def _n(value) -> str:
    return "" if value is None else f"{value:.6g}"
