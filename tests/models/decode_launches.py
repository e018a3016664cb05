"""Kernel launches of one Llama decoder layer at decode (batch 1, one token, hidden 4096),
unpatched vs patched (float32), counted by a dispatch mode over the ops that produce new data (views
launch nothing). Meta tensors: nothing is computed, every op is still dispatched.

    python -m tests.models.decode_launches
"""

from __future__ import annotations

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
    with torch.device("meta"):
        model = transformers.LlamaModel(config)
        hidden = torch.randn(1, 1, 4096)
        positions = torch.zeros(1, 1, dtype=torch.long)
        cos_sin = model.rotary_emb(hidden, positions)
    layer = model.layers[0]
    before = count(layer, hidden, cos_sin)
    handle = torch_metalgen.patch(model, force=True)
    after = count(layer, hidden, cos_sin)
    print(f"unpatched: {len(before)} launches: {' '.join(before)}")
    print(f"patched:   {len(after)} launches: {' '.join(after)}")
    print(handle.report())


if __name__ == "__main__":
    main()
