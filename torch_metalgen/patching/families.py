"""The declared-semantics tables: which classes compute what, per model family.

Keys are qualified class names (``module.QualName``), matched exactly: a subclass may
override ``forward``, so it is not assumed to compute its parent's math. Each row was read
off the class's forward in transformers 5.24-5.25 / torch 2.13 (its casting mode is how it
rounds in half precision, see ``semantics.CASTING_MODES``); ``tests/unit/test_patch.py``
checks that every row names a real class and agrees with that class on real inputs.
"""

from __future__ import annotations

from torch_metalgen.patching.semantics import (
    GEMMA,
    LLAMA,
    GatedMLPSemantics,
    NormSemantics,
    NotReachable,
    RotarySemantics,
    Semantics,
)

_HF = "transformers.models"

# Hugging Face's Llama-style RMSNorm: weight * x_normalized.to(input_dtype).
_LLAMA_RMS = NormSemantics("rms_norm", eps="variance_epsilon", casting=LLAMA)
# OLMo 2: (weight * x_normalized).to(input_dtype), all in fp32.
_OLMO2_RMS = NormSemantics("rms_norm", eps="variance_epsilon", casting=GEMMA)
# Gemma 1/2/3: stores weight - 1 and multiplies by (1 + weight) in fp32.
_GEMMA_RMS = NormSemantics("rms_norm", eps="eps", casting=GEMMA, offset=1.0)
# Cohere: a LayerNorm without bias (mean subtracted), fp32 throughout, eps in variance_epsilon.
_COHERE_LN = NormSemantics("layer_norm", eps="variance_epsilon", casting=GEMMA)

_SPLIT_MLP = GatedMLPSemantics(
    down="down_proj", activation="act_fn", gate="gate_proj", up="up_proj"
)
_FUSED_MLP = GatedMLPSemantics(down="down_proj", activation="activation_fn", gate_up="gate_up_proj")

_ROTARY = NotReachable(
    "rotary",
    "computes cos/sin only; transformers applies them in the module-level "
    "apply_rotary_pos_emb, called from the attention forward (the attention's row patches "
    "that call where transformers routes it through a hub-kernel wrapper)",
)
_UNTAGGED_ROTARY = (
    "this attention calls its module's apply_rotary_pos_emb directly: transformers 5.25 tags "
    "neither for hub kernels (no @use_kernel_forward_from_hub / @use_kernelized_func), so "
    "no per-instance route to it exists without replacing the module global or copying the "
    "attention forward"
)
# add_rms_norm fuses `residual + hidden` into the norm that follows it. In every family
# below the add is an expression on local variables of the decoder layer's forward and the
# norm module receives only the sum: no module's forward sees both operands, so no
# per-instance patch reaches the pair without a copy of that forward.
_RESIDUAL_NORM = NotReachable(
    "add_rms_norm",
    "residual + norm: the residual add is written inline in this decoder layer's forward "
    "(`hidden_states = residual + hidden_states`, then the next norm module is called on the "
    "sum); the norm module sees only the sum, so fusing the pair needs a copy of "
    "transformers' layer forward, which per-instance patching does not do",
)
# OLMo 2 normalizes before adding (residual + norm(f(h))): no add is followed by a norm
# inside a layer (only the model's final norm follows the last add, in the model's forward).
_OLMO2_RESIDUAL_NORM = NotReachable(
    "add_rms_norm",
    "residual + norm: OLMo 2 normalizes sublayer outputs before its residual adds "
    "(post-norm), so no add inside the layer is followed by a norm; the adds are inline in "
    "the layer's forward",
)
# T5: each sublayer (T5LayerSelfAttention, T5LayerCrossAttention, T5LayerFF) adds its
# output to its input at its end; the next sublayer's norm is in another module's forward.
_T5_RESIDUAL_NORM = NotReachable(
    "add_rms_norm",
    "residual + norm: each T5 sublayer adds its residual at the end of its own forward and "
    "the next sublayer's T5LayerNorm is called in the next module's forward; no module sees "
    "both, so fusing needs a copy of transformers' T5Block forward",
)
_EXPERTS = NotReachable(
    "gated_mlp",
    "MoE experts run as batched per-expert matmuls inside one forward; there is no per-expert "
    "gated-MLP module to patch",
)

TORCH_CLASSES: dict[str, Semantics] = {
    # torch 2.13's CPU rms_norm / layer_norm / group_norm multiply in fp32 and round once.
    "torch.nn.modules.normalization.RMSNorm": NormSemantics(
        "rms_norm", eps="eps", casting=GEMMA, eps_none_is_finfo=True
    ),
    "torch.nn.modules.normalization.LayerNorm": NormSemantics(
        "layer_norm", eps="eps", casting=GEMMA, bias="bias"
    ),
    "torch.nn.modules.normalization.GroupNorm": NormSemantics(
        "group_norm",
        eps="eps",
        casting=GEMMA,
        bias="bias",
        groups="num_groups",
        channels="num_channels",
    ),
}


def _attention(module: str, prefix: str, partial: bool = False) -> dict[str, Semantics]:
    """The attention's rotary row: its module's apply_rotary_pos_emb, routed per instance."""
    base = f"{_HF}.{module}.modeling_{module}"
    return {
        f"{base}.{prefix}Attention": RotarySemantics(
            f"{base}.apply_rotary_pos_emb", partial=partial
        )
    }


def _untagged(module: str, prefix: str, why: str = "") -> dict[str, Semantics]:
    base = f"{_HF}.{module}.modeling_{module}"
    reason = _UNTAGGED_ROTARY + (f"; {why}" if why else "")
    return {
        f"{base}.{prefix}Attention": NotReachable("rotary", reason),
        f"{base}.{prefix}RotaryEmbedding": NotReachable("rotary", reason),
    }


def _family(
    module: str,
    prefix: str,
    norm: Semantics | None,
    mlp: Semantics | None = _SPLIT_MLP,
    layer: Semantics | None = _RESIDUAL_NORM,
):
    rows: dict[str, Semantics] = {
        f"{_HF}.{module}.modeling_{module}.{prefix}RotaryEmbedding": _ROTARY
    }
    if norm is not None:
        rows[f"{_HF}.{module}.modeling_{module}.{prefix}RMSNorm"] = norm
    if layer is not None:
        rows[f"{_HF}.{module}.modeling_{module}.{prefix}DecoderLayer"] = layer
    if mlp is not None:
        rows[f"{_HF}.{module}.modeling_{module}.{prefix}MLP"] = mlp
    return rows


# family -> {qualified class name: semantics}. GPT-2, BERT and ViT use torch.nn.LayerNorm
# (TORCH_CLASSES); their MLPs are not gated, so no op here applies to them.
FAMILIES: dict[str, dict[str, Semantics]] = {
    "llama": {**_family("llama", "Llama", _LLAMA_RMS), **_attention("llama", "Llama")},
    "mistral": {**_family("mistral", "Mistral", _LLAMA_RMS), **_attention("mistral", "Mistral")},
    "mixtral": {
        **_family("mixtral", "Mixtral", _LLAMA_RMS, mlp=None),
        f"{_HF}.mixtral.modeling_mixtral.MixtralExperts": _EXPERTS,
        **_attention("mixtral", "Mixtral"),
    },
    "qwen2": {**_family("qwen2", "Qwen2", _LLAMA_RMS), **_attention("qwen2", "Qwen2")},
    "qwen3": {**_family("qwen3", "Qwen3", _LLAMA_RMS), **_attention("qwen3", "Qwen3")},
    "gemma": {**_family("gemma", "Gemma", _GEMMA_RMS), **_attention("gemma", "Gemma")},
    "gemma2": {**_family("gemma2", "Gemma2", _GEMMA_RMS), **_attention("gemma2", "Gemma2")},
    "gemma3": {**_family("gemma3", "Gemma3", _GEMMA_RMS), **_attention("gemma3", "Gemma3")},
    "phi3": {
        **_family("phi3", "Phi3", _LLAMA_RMS, mlp=_FUSED_MLP),
        **_untagged("phi3", "Phi3", "its function rotates cos.shape[-1] dims (partial rotary)"),
    },
    # Phi-1/2: torch.nn.LayerNorm, a non-gated MLP; partial rotary (the attention passes
    # the q[..., :rotary_ndims] views to Llama's function).
    "phi": {
        f"{_HF}.phi.modeling_phi.PhiRotaryEmbedding": _ROTARY,
        **_attention("phi", "Phi"),
    },
    "olmo2": {
        **_family("olmo2", "Olmo2", _OLMO2_RMS, layer=_OLMO2_RESIDUAL_NORM),
        **_untagged("olmo2", "Olmo2"),
    },
    # T5LayerNorm is an RMSNorm (no mean, no bias) that rounds before the weight.
    "t5": {
        f"{_HF}.t5.modeling_t5.T5LayerNorm": _LLAMA_RMS,
        f"{_HF}.t5.modeling_t5.T5Block": _T5_RESIDUAL_NORM,
    },
    # Cohere's layers run attention and MLP in parallel on one LayerNorm: no RMSNorm to fuse.
    "cohere": {
        **_family("cohere", "Cohere", None, layer=None),
        f"{_HF}.cohere.modeling_cohere.CohereLayerNorm": _COHERE_LN,
        **_untagged("cohere", "Cohere", "its function is interleaved and computes in float32"),
    },
    "gpt2": {},
    "bert": {},
    "vit": {},
}

KNOWN_CLASSES: dict[str, Semantics] = {
    **TORCH_CLASSES,
    **{name: row for rows in FAMILIES.values() for name, row in rows.items()},
}

# transformers tags classes for hub kernels with @use_kernel_forward_from_hub(name); with the
# `kernels` package installed that sets ``cls.kernel_layer_name``. The tag promises the
# forward contract of HF's layer of that name (attributes ``weight``, ``variance_epsilon``),
# not a rounding: Llama and OLMo 2 both say "RMSNorm" and round differently. So an untabled
# tagged class is served in float32 only.
HUB_LAYERS: dict[str, Semantics] = {
    "RMSNorm": NormSemantics("rms_norm", eps="variance_epsilon", casting=None),
}

# Activation module class -> (gated op, extra op arguments). GELUTanh's Python form differs
# from torch's tanh GELU by rounding only.
ACTIVATIONS: dict[str, tuple[str, dict[str, object]]] = {
    "torch.nn.modules.activation.SiLU": ("silu_and_mul", {}),
    "transformers.activations.SiLUActivation": ("silu_and_mul", {}),
    "transformers.activations.GELUTanh": ("gelu_and_mul", {"approximate_tanh": True}),
    "transformers.activations.GELUActivation": ("gelu_and_mul", {"approximate_tanh": False}),
    "torch.nn.modules.activation.GELU": ("gelu_and_mul", {}),  # approximate from the module
}


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def declared_semantics(module) -> tuple[Semantics | None, str]:
    """The module's declared semantics and where they come from, or (None, "")."""
    cls = type(module)
    row = KNOWN_CLASSES.get(qualified_name(cls))
    if row is not None:
        return row, "declared class"
    layer_name = getattr(cls, "kernel_layer_name", None)
    if isinstance(layer_name, str) and layer_name in HUB_LAYERS:
        return HUB_LAYERS[layer_name], f'hub layer name "{layer_name}"'
    return None, ""
