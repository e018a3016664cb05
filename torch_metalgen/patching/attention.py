"""``patch(model)`` switches a transformers model's attention to "metalgen" (decode
attention, ``torch_metalgen.attention``) when the model declares it can take it.

Declared, never probed: the model's ``config.model_type`` is a family whose attention
modules call transformers' AttentionInterface with only what ``attention_forward`` computes
(scaling, sliding_window, softcap), the model supports a settable attention backend, and its
head dim is one the kernel serves. The switch is ``model.set_attn_implementation("metalgen")``
(the model's own, per model, no transformers global replaced besides registering the name);
undo sets the previous implementation back.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import torch

from torch_metalgen import attention

# config.model_type of the families whose attention modules pass (scaling, sliding_window,
# softcap) and nothing else that changes the math (not gpt-oss's sinks, not T5's bias).
FAMILIES = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "gemma",
    "gemma2",
    "gemma3_text",
    "phi3",
    "olmo2",
)

# model -> the attention implementation it had before patch() switched it.
_PREVIOUS: WeakKeyDictionary[torch.nn.Module, str] = WeakKeyDictionary()


def head_dim(config) -> int:
    explicit = getattr(config, "head_dim", None)
    return int(explicit) if explicit else config.hidden_size // config.num_attention_heads


def decide(model: torch.nn.Module, native: bool, force: bool) -> tuple[bool, str]:
    """(switch?, reason) for a model with a transformers config; the reason names the blocker."""
    config = model.config
    current = getattr(config, "_attn_implementation", None)
    if current == attention.NAME:
        return False, "attention already metalgen"
    family = getattr(config, "model_type", "")
    if family not in FAMILIES:
        return False, f"attention: family {family!r} not declared for metalgen attention"
    if not getattr(model, "_supports_attention_backend", False):
        return False, "attention: the model does not support a custom attention backend"
    dim = head_dim(config)
    if dim not in attention.HEAD_DIMS:
        served = ", ".join(map(str, attention.HEAD_DIMS))
        return False, f"attention: head_dim {dim} has no decode_attention kernel ({served})"
    if not force and not native:
        return False, "attention: no native Metal kernel here (force=True switches it)"
    return True, (
        f"attention {current} -> metalgen: torch.ops.metalgen.decode_attention for up to "
        f"{attention.MAX_QUERIES} queries, prefill -> sdpa (counted: handle.report())"
    )


def switch(model: torch.nn.Module) -> None:
    previous = model.config._attn_implementation
    attention.register_attention()
    model.set_attn_implementation(attention.NAME)
    _PREVIOUS[model] = previous


def restore(model: torch.nn.Module) -> bool:
    """Sets back the implementation ``switch`` replaced ("sdpa" for a copy no record
    reaches); False when the model's attention is not metalgen."""
    if getattr(model.config, "_attn_implementation", None) != attention.NAME:
        return False
    model.set_attn_implementation(_PREVIOUS.pop(model, "sdpa"))
    return True


def is_transformers_model(module: torch.nn.Module) -> bool:
    config = getattr(module, "config", None)
    return config is not None and hasattr(config, "_attn_implementation")
