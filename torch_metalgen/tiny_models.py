"""Tiny Hugging Face models built from real transformers configs (random weights, nothing
downloaded): the demo's model and the models test tier's.

Every family has 2 layers, hidden size 64 and a 128-token vocabulary, so a forward is a few
milliseconds on a CPU and a few dozen simulated kernel launches.
"""

from __future__ import annotations

import torch

VOCAB = 128
_DECODER = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    attn_implementation="eager",
    # Special tokens inside the tiny vocabulary, so generate() can use them.
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)
_ENCODER = dict(
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    attn_implementation="eager",
)

# family -> (config class, model class, config arguments, inputs kind)
FAMILIES: dict[str, tuple[str, str, dict, str]] = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(_DECODER, rms_norm_eps=1e-6), "causal"),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(_DECODER, rms_norm_eps=1e-6), "causal"),
    "mixtral": (
        "MixtralConfig",
        "MixtralForCausalLM",
        dict(_DECODER, num_local_experts=2, num_experts_per_tok=1),
        "causal",
    ),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(_DECODER, rms_norm_eps=1e-6), "causal"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(_DECODER, head_dim=16), "causal"),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", dict(_DECODER, head_dim=16), "causal"),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", dict(_DECODER, head_dim=16), "causal"),
    "gemma3": (
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        dict(_DECODER, head_dim=16, sliding_window=8),
        "causal",
    ),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(_DECODER), "causal"),
    # Phi-1/2: partial rotary (8 of head_dim 16 rotated), torch.nn.LayerNorm, GELU MLP.
    "phi": ("PhiConfig", "PhiForCausalLM", dict(_DECODER, partial_rotary_factor=0.5), "causal"),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", dict(_DECODER), "causal"),
    "cohere": ("CohereConfig", "CohereForCausalLM", dict(_DECODER, use_qk_norm=True), "causal"),
    "t5": (
        "T5Config",
        "T5ForConditionalGeneration",
        dict(
            vocab_size=VOCAB,
            d_model=64,
            d_kv=16,
            d_ff=96,
            num_layers=2,
            num_heads=4,
            decoder_start_token_id=0,
            attn_implementation="eager",
        ),
        "seq2seq",
    ),
    "gpt2": (
        "GPT2Config",
        "GPT2LMHeadModel",
        dict(
            vocab_size=VOCAB,
            n_embd=64,
            n_layer=2,
            n_head=4,
            n_positions=64,
            bos_token_id=1,
            eos_token_id=2,
            attn_implementation="eager",
        ),
        "causal",
    ),
    "bert": (
        "BertConfig",
        "BertForMaskedLM",
        dict(_ENCODER, vocab_size=VOCAB, max_position_embeddings=64),
        "masked",
    ),
    "vit": (
        "ViTConfig",
        "ViTForImageClassification",
        dict(_ENCODER, image_size=16, patch_size=4, num_channels=3, num_labels=10),
        "image",
    ),
}


def build(
    family: str, dtype: torch.dtype = torch.float32, seed: int = 0, **config_overrides
) -> torch.nn.Module:
    """A two-layer ``family`` model in eval mode, norm weights and biases perturbed.
    ``config_overrides`` replace config arguments (e.g. ``head_dim=64`` for a head dim the
    decode-attention kernels serve, ``sliding_window=8``)."""
    import transformers

    if family not in FAMILIES:
        raise ValueError(f"build: family must be one of {sorted(FAMILIES)}, got {family!r}")
    config_name, model_name, arguments, _ = FAMILIES[family]
    config = getattr(transformers, config_name)(**(arguments | config_overrides))
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(config).eval()
    # HF initialises norm weights to ones (zeros for Gemma) and biases to zeros: perturb them
    # so a kernel that ignored the weight, the bias or Gemma's offset would show.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name.lower() or "ln_" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.to(dtype)


def input_ids(batch: int = 2, length: int = 12, seed: int = 3) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def example_inputs(family: str, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Keyword inputs for one forward of ``build(family)`` (2 sequences / images)."""
    kind = FAMILIES[family][3]
    if kind == "image":
        generator = torch.Generator().manual_seed(3)
        return {"pixel_values": torch.randn(2, 3, 16, 16, generator=generator).to(dtype)}
    inputs = {"input_ids": input_ids()}
    if kind == "seq2seq":
        inputs["decoder_input_ids"] = input_ids(length=6, seed=4)
    return inputs


def is_generative(family: str) -> bool:
    return FAMILIES[family][3] in ("causal", "seq2seq")
