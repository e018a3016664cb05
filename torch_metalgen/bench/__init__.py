"""Benchmark harness: rules 12-19 of shared/reference/verification.md.

Verify first; time with device events, warm-up, >= 100 samples, median and IQR, fresh inputs;
eager and torch.compile baselines in the same process; speed of light from compulsory bytes
and FLOPs; JSON, CSV and PNG results. ``python -m torch_metalgen bench --help``.
"""

from torch_metalgen.bench.runner import BenchConfig, BenchRecord, Measurement, bench_case

__all__ = ["BenchConfig", "BenchRecord", "Measurement", "bench_case"]
