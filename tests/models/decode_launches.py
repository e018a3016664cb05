"""Kernel launches of one Llama decoder layer at decode (batch 1, one token, hidden 4096),
unpatched vs patched, in float32 and bfloat16, counted by a dispatch mode over the ops that
produce new data (views launch nothing). Meta tensors: nothing is computed, every op is
still dispatched.

    python -m tests.models.decode_launches

Patched, each RMSNorm is one rms_norm launch (in bfloat16 too: Llama-style casting) and the
MLP's silu(gate) * up one silu_and_mul. The two residual adds stay separate launches: they
are written inline in LlamaDecoderLayer.forward (see the patch report's "residual + norm"
line), so add_rms_norm cannot be patched in without copying that forward.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import torch_metalgen


class LaunchCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        # _unsafe_view is a view that the schema does not mark as one
        if not func.is_view and func.overloadpacket.__name__ != "_unsafe_view":
            self.ops.append(str(func.overloadpacket.__name__))
        return func(*args, **(kwargs or {}))


def count(layer, hidden, position_embeddings) -> list[str]:
    with torch.no_grad(), LaunchCounter() as counter:
        layer(hidden, attention_mask=None, position_embeddings=position_embeddings)
    return counter.ops


def summary(ops: list[str]) -> str:
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in Counter(ops).items())


def main() -> None:
    import transformers

    config = transformers.LlamaConfig(
        hidden_size=4096,
        intermediate_size=11008,
        num_attention_heads=32,
        num_key_value_heads=32,
        num_hidden_layers=1,
        attn_implementation="eager",
    )
    for dtype in (torch.float32, torch.bfloat16):
        with torch.device("meta"):
            model = transformers.LlamaModel(config).to(dtype)
            hidden = torch.randn(1, 1, 4096, dtype=dtype)
            positions = torch.zeros(1, 1, dtype=torch.long)
            cos_sin = model.rotary_emb(hidden, positions)
        layer = model.layers[0]
        before = count(layer, hidden, cos_sin)
        handle = torch_metalgen.patch(model, force=True)
        after = count(layer, hidden, cos_sin)
        name = str(dtype).removeprefix("torch.")
        print(f"{name} unpatched: {len(before)} launches: {summary(before)}")
        print(f"{name} patched:   {len(after)} launches: {summary(after)}")
        print(handle.report())
        assert handle.fallbacks() == {}, handle.report()
        # The attention switch sets the config's attn_implementation, and the config object
        # is shared with the next dtype's model: undo so that one starts unpatched.
        handle.undo()


if __name__ == "__main__":
    main()
