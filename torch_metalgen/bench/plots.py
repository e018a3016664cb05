"""PNG plots (matplotlib, Agg): speedup per problem and a roofline of every timed kernel."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or the GPU machines
import matplotlib.pyplot as plt  # noqa: E402

from torch_metalgen.bench.runner import BenchRecord  # noqa: E402


def speedup_plot(records: list[BenchRecord], path: Path, title: str) -> Path | None:
    rows = [r for r in records if r.status == "ok" and r.candidate]
    if not rows:
        return None
    labels = [f"{r.problem}\n{r.shape} {r.dtype}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows)), 5))
    names = sorted({b for r in rows for b in r.baselines})
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [r.speedup(name) or 0 for r in rows]
        ax.bar([x + i * width for x in range(len(rows))], values, width, label=f"vs {name}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(rows))], labels, rotation=90, fontsize=7)
    ax.set_ylabel(f"speedup of {rows[0].candidate_name} (x)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def roofline_plot(records: list[BenchRecord], limits, path: Path, title: str) -> Path | None:
    """Achieved FLOP/s against arithmetic intensity (FLOPs per compulsory byte); the roofs
    are the device's bandwidth and the peak FLOP/s of each dtype."""
    points = []
    for r in records:
        if r.status != "ok" or not r.flops or not r.compulsory_bytes:
            continue
        intensity = r.flops / r.compulsory_bytes
        for m in [r.candidate, *r.baselines.values()]:
            if m is not None:
                points.append((intensity, r.achieved(m)[1], m.name, r.dtype))
    if not points or limits is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 6))
    xs = [p[0] for p in points]
    lo, hi = min(xs) / 2, max(xs) * 2
    for dtype, tflops in limits.tflops.items():
        knee = tflops * 1e3 / limits.bandwidth_gbs
        grid = [lo, min(max(knee, lo), hi), hi]
        ax.plot(
            grid,
            [min(x * limits.bandwidth_gbs / 1e3, tflops) for x in grid],
            linewidth=1,
            label=f"roof {str(dtype).replace('torch.', '')}",
        )
    markers = {"eager": "s", "compile": "^"}
    for name in sorted({p[2] for p in points}):
        sel = [p for p in points if p[2] == name]
        ax.scatter(
            [p[0] for p in sel],
            [p[1] for p in sel],
            marker=markers.get(name, "o"),
            label=name,
            alpha=0.8,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / compulsory byte)")
    ax.set_ylabel("achieved TFLOP/s")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
