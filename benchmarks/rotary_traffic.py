"""What the rotary_embedding kernel moves at Llama 7B / Llama 3 8B shapes, counted by the
MSL simulator, against its compulsory bytes (q, k, cos, sin read once; q_out, k_out written
once), with q and k as Hugging Face's strided views (no copy); and how many device kernels
Hugging Face's apply_rotary_pos_emb launches for the same work (a dispatch mode counts the
ATen ops that are not views).

    PYTHONPATH=. python benchmarks/rotary_traffic.py
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tests.ops.rotary_cases import case
from torch_metalgen import _ops, sim

SHAPES = {
    # name: (batch, q_heads, k_heads, seq, head_dim, position of the first token)
    "llama7b-decode": (1, 32, 32, 1, 128, 4095),
    "llama3-8b-decode-gqa": (1, 32, 8, 1, 128, 4095),
    "llama7b-prefill-512": (1, 32, 32, 512, 128, 0),
}


class CountKernels(TorchDispatchMode):
    """ATen ops that compute (views and metadata ops launch nothing)."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func._schema.is_mutable and not any(
            a.alias_info for a in func._schema.returns if a.alias_info is not None
        ):
            if torch.Tag.view_copy not in func.tags and not func.is_view:
                self.ops.append(func.__name__)
        return func(*args, **(kwargs or {}))


def hf_kernels(q, k, cos, sin) -> list[str]:
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    with CountKernels() as counter:
        apply_rotary_pos_emb(q, k, cos, sin)
    return counter.ops


def main() -> None:
    dtype = torch.float16
    for name, (batch, q_heads, k_heads, seq, head_dim, offset) in SHAPES.items():
        q, k, cos, sin = case(batch, q_heads, k_heads, seq, head_dim, None, dtype, offset=offset)
        plans, outputs = _ops._C.plan_rotary_embedding(
            q, k, cos, sin, None, 10000.0, -1, False, False
        )
        with sim.record_launches() as launches:
            sim.run_plan(plans)
        (launch,) = launches
        tensors = {0: q, 1: k, 2: cos, 3: sin, 5: outputs[0], 6: outputs[1]}
        size = {i: t.numel() * t.element_size() for i, t in tensors.items()}
        compulsory = sum(size.values())
        read = sum(launch.traffic[i].read for i in (0, 1, 2, 3))
        distinct = sum(launch.traffic[i].distinct_read for i in (0, 1, 2, 3))
        written = sum(launch.traffic[i].written for i in (5, 6))
        copy = 2 * (size[0] + size[1])
        print(
            f"{name} (float16, q/k as HF views): 1 launch, grid {tuple(plans[0].grid)}, "
            f"threadgroup {tuple(plans[0].threadgroup)}\n"
            f"  compulsory {compulsory:,} B; read {read:,} B (distinct {distinct:,}), "
            f"written {written:,} B; total {read + written:,} B = "
            f"{(read + written) / compulsory:.3f} x compulsory "
            f"(cos, read once per group of heads a thread takes: {launch.traffic[2].read:,} B "
            f"loaded for its {size[2]:,} B)\n"
            f"  a contiguous copy of q and k in prepare would have added {copy:,} B "
            f"({copy / compulsory:.2f} x compulsory)\n"
            f"  Hugging Face's apply_rotary_pos_emb: {len(hf_kernels(q, k, cos, sin))} "
            f"kernels ({', '.join(hf_kernels(q, k, cos, sin))})"
        )


if __name__ == "__main__":
    main()
