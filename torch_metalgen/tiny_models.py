"""Tiny Hugging Face decoder models built from real transformers configs (random weights,
nothing downloaded): the demo's model and the models test tier's."""

from __future__ import annotations

import torch

COMMON = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    rms_norm_eps=1e-6,
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
    """A two-layer ``family`` causal LM in eval mode, norm weights randomized around 1."""
    import transformers

    if family not in FAMILIES:
        raise ValueError(f"build: family must be one of {sorted(FAMILIES)}, got {family!r}")
    config_name, model_name, _, _ = FAMILIES[family]
    extra = {"head_dim": 16} if family in ("qwen3", "gemma") else {}
    config = getattr(transformers, config_name)(**COMMON, **extra)
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(config).eval()
    # HF initialises norm weights to ones (zeros for Gemma): perturb them so a kernel that
    # ignored the weight would show.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.to(dtype)


def input_ids(batch: int = 2, length: int = 12, seed: int = 3) -> torch.Tensor:
    vocab = COMMON["vocab_size"]
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))
