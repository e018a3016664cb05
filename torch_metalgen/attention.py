"""The "metalgen" attention implementation for Hugging Face transformers.

    import torch_metalgen
    torch_metalgen.register_attention()  # once, before building or switching a model
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="metalgen")
    # or model.set_attn_implementation("metalgen"), or torch_metalgen.patch(model)
    print(torch_metalgen.attention.report(model))  # where each attention call went

``register_attention()`` adds ``attention_forward`` to transformers' ``AttentionInterface``
and transformers' SDPA mask builder to its ``AttentionMaskInterface`` under the same name, so
models hand it what they hand "sdpa": a boolean mask (True = attend) or None where the
mask is a plain causal one.

Each call goes one of three routes, counted per attention module (never silently):

- ``decode_attention``: 1 to 8 queries per head (decode, speculative decoding) with a head
  dim the kernel serves: ``torch.ops.metalgen.decode_attention`` on the cache's K and V as
  they are (no repeat_kv, no copy of the transposed query).
- ``sdpa``: everything else (prefill above 8 queries, other head dims, dropout in training,
  gradients, other dtypes): transformers' own "sdpa" function, with the same mask.
- ``eager``: what would go to sdpa but needs Gemma 2's logit soft-capping, which SDPA lacks:
  the eager math (fp32 softmax), with the same mask.
"""

from __future__ import annotations

from collections import Counter
from weakref import WeakKeyDictionary

import torch

from torch_metalgen._generated.registry import OPS

NAME = "metalgen"
# Queries per head, head dims and dtypes the kernel serves, as the generated registry
# declares them (generator/specs/decode_attention.py): one source for the limits.
_OP = OPS["decode_attention"]
MAX_QUERIES = int(_OP["tuning"]["MAX_QUERIES"])
HEAD_DIMS = tuple(
    sorted(int(k.rsplit("_", 1)[1]) for k in _OP["kernels"] if k.startswith("single_pass_"))
)
_DTYPES = tuple(getattr(torch, name) for name in _OP["dtypes"])
# Keyword arguments some models pass that change the math and no route here computes.
_UNSUPPORTED_KWARGS = ("s_aux", "sinks", "position_bias")

KERNEL = "decode_attention"
SDPA = "sdpa"
EAGER = "eager"

# attention module -> Counter of "route: reason" (the module is held weakly).
_ROUTES: WeakKeyDictionary[torch.nn.Module, Counter] = WeakKeyDictionary()
# transformers' sdpa_attention_forward, set by register_attention (imported there, not
# here: importing torch_metalgen must not import transformers, and a traced call must not
# import anything).
_sdpa_attention_forward = None


def register_attention() -> str:
    """Registers "metalgen" with transformers' attention and attention-mask interfaces
    (idempotent) and returns the name, for ``attn_implementation=`` or
    ``model.set_attn_implementation``."""
    global _sdpa_attention_forward
    try:
        from transformers import AttentionInterface
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError as error:
        raise ImportError(
            "register_attention needs transformers with AttentionInterface and "
            f"masking_utils (transformers >= 4.53): {error}"
        ) from error
    _sdpa_attention_forward = sdpa_attention_forward
    AttentionInterface.register(NAME, attention_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def _unserved(module, query, key, value, dropout) -> str | None:
    """Why the kernel does not serve this call (the fallback route's reason), or None."""
    queries, head_dim = query.shape[2], query.shape[3]
    if queries > MAX_QUERIES:
        return f"prefill: {queries} queries > {MAX_QUERIES}"
    if head_dim not in HEAD_DIMS or value.shape[-1] != head_dim:
        return f"head_dim {head_dim} not served ({', '.join(map(str, HEAD_DIMS))})"
    if query.dtype not in _DTYPES or key.dtype != query.dtype or value.dtype != query.dtype:
        return f"dtype {query.dtype} / {key.dtype} not served"
    if dropout and module.training:
        return "dropout in training"
    if torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value)):
        return "gradients needed (decode_attention has no backward)"
    return None


def attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: query (batch, heads, queries, head_dim),
    key and value (batch, kv_heads, keys, head_dim), the mask "sdpa" would get; returns
    (attn_output (batch, queries, heads, head_dim), None)."""
    for name in _UNSUPPORTED_KWARGS:
        if kwargs.get(name) is not None:
            raise ValueError(
                f"metalgen attention: {type(module).__name__} passes {name}, which neither "
                "decode_attention nor its sdpa route computes; use another attn_implementation"
            )
    softcap = kwargs.get("softcap")
    reason = _unserved(module, query, key, value, dropout)
    if reason is not None:
        route = EAGER if softcap else SDPA
        _count(module, f"{route}: {reason}")
        if softcap:
            return _eager_softcapped(
                module, query, key, value, attention_mask, scaling, dropout, kwargs
            )
        if _sdpa_attention_forward is None:  # registered under the name by other means
            register_attention()
        return _sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    _count(module, KERNEL)
    mask, causal, window = attention_mask, False, 0
    if mask is None:
        # transformers leaves the mask out where SDPA's is_causal would do (no padding, and
        # keys within any sliding window): causal for several queries, nothing for one.
        queries, keys = query.shape[2], key.shape[2]
        causal = queries > 1 and bool(kwargs.get("is_causal", getattr(module, "is_causal", True)))
        if causal and keys > queries:
            # Only a prefill into an empty static cache (query offset 0): SDPA's is_causal
            # is top-left aligned there, and the cache's unused tail is never seen.
            key, value = key[:, :, :queries], value[:, :, :queries]
        window = int(kwargs.get("sliding_window") or 0)
    elif mask.dtype != torch.bool and mask.dtype != query.dtype:
        mask = mask.to(query.dtype)
    out = torch.ops.metalgen.decode_attention(
        query, key, value, scaling, mask, causal, window, float(softcap or 0.0)
    )
    return out.transpose(1, 2).contiguous(), None


def _eager_softcapped(module, query, key, value, mask, scaling, dropout, kwargs):
    """Gemma 2's eager attention (soft-capped logits, fp32 softmax) on an sdpa-style mask."""
    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1)
    value = value.repeat_interleave(groups, dim=1)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    softcap = kwargs["softcap"]
    logits = torch.tanh(query @ key.transpose(2, 3) * scaling / softcap) * softcap
    queries, keys = query.shape[2], key.shape[2]
    if mask is None and queries > 1 and kwargs.get("is_causal", getattr(module, "is_causal", True)):
        # As SDPA's is_causal: top-left (transformers leaves the mask out only where keys ==
        # queries, or for a prefill into an empty static cache).
        mask = torch.ones(queries, keys, dtype=torch.bool, device=query.device).tril()
    if mask is not None:
        if mask.dtype == torch.bool:
            logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
        else:
            logits = logits + mask
    weights = torch.softmax(logits, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return (weights @ value).transpose(1, 2).contiguous(), None


def _count(module: torch.nn.Module, route: str) -> None:
    if torch.compiler.is_compiling():
        return
    counts = _ROUTES.get(module)
    if counts is None:
        counts = _ROUTES[module] = Counter()
    counts[route] += 1


def routing(model: torch.nn.Module) -> dict[str, int]:
    """Calls of ``model``'s attention modules per route ("decode_attention", or
    "sdpa: <reason>" / "eager: <reason>"), since it was built or ``reset_routing``."""
    total: Counter = Counter()
    for module in model.modules():
        total.update(_ROUTES.get(module, {}))
    return dict(total)


def reset_routing(model: torch.nn.Module) -> None:
    for module in model.modules():
        _ROUTES.pop(module, None)


def report(model: torch.nn.Module) -> str:
    """One line per route: how many attention calls of ``model`` went where, and why."""
    counts = routing(model)
    if not counts:
        return "metalgen attention: no calls"
    lines = [f"metalgen attention: {sum(counts.values())} calls"]
    lines += [f"  {calls} -> {route}" for route, calls in sorted(counts.items())]
    return "\n".join(lines)
