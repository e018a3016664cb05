"""Bytes each decode_attention launch moves, counted by the MSL simulator's memory checks
(``sim.record_launches()``), against the compulsory bytes of the benchmark problem
(torch_metalgen/problems/suite/level1/decode_attention.py): q, K and V read once, the
output written once. Also the bytes a kernel that repeats K and V per query head (as
``repeat_kv`` + SDPA does) would read.

    python benchmarks/decode_attention_traffic.py                  # 7B heads, 1k and 4k keys
    python benchmarks/decode_attention_traffic.py --keys 16384 32768 --dtype float16

Counts only (the simulator models no time); a Mac's times come from
``python -m torch_metalgen bench decode_attention``.
"""

from __future__ import annotations

import argparse
import time

import torch

from torch_metalgen import _ops, sim

# The spec's buffer indices (generator/specs/decode_attention.py); 5 is the params struct.
BUFFERS = {0: "q", 1: "k", 2: "v", 3: "mask", 4: "out", 5: "params", 6: "partials", 7: "stats"}


def measure(batch, heads, kv_heads, keys, head_dim, dtype, variant=""):
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(batch, heads, 1, head_dim, generator=generator).to(dtype)
    k = torch.randn(batch, kv_heads, keys, head_dim, generator=generator).to(dtype)
    v = torch.randn(batch, kv_heads, keys, head_dim, generator=generator).to(dtype)
    plans, out = _ops._C.plan_decode_attention(q, k, v, None, None, False, 0, 0.0, variant=variant)
    start = time.perf_counter()
    with sim.record_launches() as launches:
        sim.run_plan(plans, check_unwritten=False)
    seconds = time.perf_counter() - start
    compulsory = sum(t.numel() * t.element_size() for t in (q, k, v, out))
    repeated = compulsory + (heads // kv_heads - 1) * (k.numel() + v.numel()) * k.element_size()
    rows, moved, constant = [], 0, 0
    for plan, launch in zip(plans, launches, strict=True):
        # Device memory: each bound tensor once (with no mask, the mask binding falls back
        # to q and shares its counts). The params struct (setBytes, constant address space,
        # read through the constant cache) is counted apart.
        tensors = {}
        for index, tensor, _ in plan.buffers:
            tensors.setdefault((tensor.data_ptr(), tensor.nbytes), int(index))
        device = sum(launch.traffic[i].read + launch.traffic[i].written for i in tensors.values())
        params = sum(launch.traffic[int(i)].read for i, _ in plan.bytes)
        moved, constant = moved + device, constant + params
        parts = ", ".join(
            f"{BUFFERS[i]} read {launch.traffic[i].read:,}"
            if launch.traffic[i].read
            else f"{BUFFERS[i]} written {launch.traffic[i].written:,}"
            for i in sorted(tensors.values())
        )
        rows.append(
            f"    {plan.kernel}: {tuple(plan.grid)} threadgroups x {plan.threadgroup[0]}: "
            f"{device:,} bytes ({parts}); params {params:,} (constant)"
        )
    print(
        f"{batch} x {heads} heads over {kv_heads} KV heads, {keys} keys, head dim {head_dim}, "
        f"{str(dtype).removeprefix('torch.')}: {moved:,} device bytes = "
        f"{moved / compulsory:.3f}x compulsory {compulsory:,} (repeat_kv's K and V per "
        f"query head: {repeated / compulsory:.2f}x); simulated in {seconds:.1f} s"
    )
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--dtype", default="float16", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--variant", default="", choices=["", "single_pass", "split_kv"])
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    for keys in args.keys:
        measure(1, 32, 8, keys, 128, dtype, args.variant)


if __name__ == "__main__":
    main()
