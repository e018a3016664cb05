"""Tiny Hugging Face models built from real configs (random weights, no downloads)."""

from __future__ import annotations

import torch

transformers = __import__("pytest").importorskip("transformers")

COMMON = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)

# family -> (config class, model class, RMSNorm class name, swapped by patch?)
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", "LlamaRMSNorm", True),
    "mistral": ("MistralConfig", "MistralForCausalLM", "MistralRMSNorm", True),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "Qwen2RMSNorm", True),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", "Qwen3RMSNorm", True),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", "GemmaRMSNorm", False),
}


def build(family: str, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.nn.Module:
    config_name, model_name, _, _ = FAMILIES[family]
    extra = {"head_dim": 16} if family in ("qwen3", "gemma") else {}
    config = getattr(transformers, config_name)(**COMMON, **extra)
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(config).eval()
    with torch.no_grad():  # non-trivial norm weights (HF initialises ones / zeros)
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.to(dtype)


def norm_count(model: torch.nn.Module, class_name: str) -> int:
    return sum(type(m).__name__ == class_name for m in model.modules())


def input_ids(batch: int = 2, length: int = 12) -> torch.Tensor:
    return torch.randint(0, 128, (batch, length), generator=torch.Generator().manual_seed(3))
