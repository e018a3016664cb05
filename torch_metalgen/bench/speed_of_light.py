"""Speed of light (rule 17): peak bandwidth and FLOP/s of the device, and the floor they put
under a problem's time from its compulsory bytes and FLOPs.

Apple chips: the table below is this project's one copy of these facts. Bandwidth is Apple's
announced unified-memory figure for each chip (apple.com newsroom and tech-spec pages); FP32
peak = GPU cores x 128 ALUs x 2 (FMA) x clock, and measured FP16 throughput equals FP32 on M1
and later (philipturner/metal-benchmarks); M3/M4 clocks are third-party estimates (+-15%).
Collected in the project's reference notes (apple-gpus.md), December 2026.
NVIDIA: bandwidth measured here by a device-to-device copy (bytes read + written), next to the
data-sheet figure; peak FLOP/s from the data sheet (dense, no sparsity).
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass

import torch

# chip: (GPU cores, bandwidth GB/s, FP32 = FP16 TFLOPS); the largest GPU-core variant of each
# chip, so a smaller variant is never reported as beating its own limit.
APPLE_CHIPS: dict[str, tuple[int, float, float]] = {
    "M1": (8, 68, 2.6),
    "M1 Pro": (16, 200, 5.3),
    "M1 Max": (32, 400, 10.6),
    "M1 Ultra": (64, 800, 21.2),
    "M2": (10, 100, 3.6),
    "M2 Pro": (19, 200, 6.8),
    "M2 Max": (38, 400, 13.6),
    "M2 Ultra": (76, 800, 27.2),
    "M3": (10, 100, 3.6),
    "M3 Pro": (18, 150, 6.4),
    "M3 Max": (40, 400, 16.4),
    "M3 Ultra": (80, 819, 28.6),
    "M4": (10, 120, 4.0),
    "M4 Pro": (20, 273, 8.6),
    "M4 Max": (40, 546, 17.2),
}
ALUS_PER_CORE = 128  # FP32 lanes per Apple GPU core; x 2 for a fused multiply-add
APPLE_LAST_LEVEL_CACHE = 96 << 20  # system-level cache, largest chips; flushing more is safe

# name fragment: (data-sheet bandwidth GB/s, {dtype: dense TFLOPS}); fp32 without TF32
NVIDIA_GPUS: dict[str, tuple[float, dict[torch.dtype, float]]] = {
    "H200": (4800, {torch.float32: 67, torch.float16: 989, torch.bfloat16: 989}),
    "H100 PCIe": (2000, {torch.float32: 51, torch.float16: 756, torch.bfloat16: 756}),
    "H100 NVL": (3900, {torch.float32: 60, torch.float16: 835, torch.bfloat16: 835}),
    "H100": (3350, {torch.float32: 67, torch.float16: 989, torch.bfloat16: 989}),
    "A100": (2039, {torch.float32: 19.5, torch.float16: 312, torch.bfloat16: 312}),
}


@dataclass
class DeviceLimits:
    name: str
    bandwidth_gbs: float  # the bandwidth % of speed of light is measured against
    hard_bandwidth_gbs: float  # above this no kernel can go: "faster than light" is an error
    tflops: dict[torch.dtype, float]
    last_level_cache: int
    source: str

    def floor_seconds(
        self, nbytes: float, flops: float | None, dtype: torch.dtype, hard: bool = False
    ) -> float:
        bandwidth = self.hard_bandwidth_gbs if hard else self.bandwidth_gbs
        memory = nbytes / (bandwidth * 1e9)
        compute = (flops or 0) / (self.tflops.get(dtype, float("inf")) * 1e12)
        return max(memory, compute)


def apple_chip_name() -> str | None:
    """'M2 Pro' from ``sysctl machdep.cpu.brand_string`` ('Apple M2 Pro'); None elsewhere."""
    if platform.system() != "Darwin":
        return None
    try:
        brand = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.brand_string"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return brand.removeprefix("Apple ").strip() or None


def measure_copy_bandwidth(device: torch.device, nbytes: int = 1 << 30, repeats: int = 20) -> float:
    """GB/s of a device-to-device copy, counting bytes read and written (median of repeats)."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        dst.copy_(src)
        end.record()
        torch.cuda.synchronize(device)
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return 2 * nbytes / times[len(times) // 2] / 1e9


def device_limits(device: torch.device) -> DeviceLimits | None:
    """The limits of ``device``, or None when unknown (then no % of speed of light)."""
    if device.type == "mps":
        chip = apple_chip_name()
        if chip not in APPLE_CHIPS:
            return None
        _, bandwidth, tflops = APPLE_CHIPS[chip]
        return DeviceLimits(
            f"Apple {chip}",
            bandwidth,
            bandwidth,
            {d: tflops for d in (torch.float32, torch.float16, torch.bfloat16)},
            APPLE_LAST_LEVEL_CACHE,
            "Apple's announced bandwidth (speed_of_light.APPLE_CHIPS)",
        )
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        measured = measure_copy_bandwidth(device)
        props = torch.cuda.get_device_properties(device)
        l2 = getattr(props, "L2_cache_size", 50 << 20)
        for fragment, (sheet, tflops) in NVIDIA_GPUS.items():
            if fragment in name:
                return DeviceLimits(
                    name,
                    measured,
                    max(sheet, measured),
                    tflops,
                    l2,
                    f"copy-measured {measured:.0f} GB/s; data sheet {sheet} GB/s",
                )
        return DeviceLimits(
            name,
            measured,
            measured * 1.15,
            {},
            l2,
            f"copy-measured {measured:.0f} GB/s; no FLOPs table for {name}",
        )
    return None
