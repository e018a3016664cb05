"""What a module computes, as declared data: the facts a kernel call needs, nothing probed.

A row of ``families.py`` says "instances of this class compute this": which op, which
attributes hold epsilon, weight and bias, Gemma's ``(1 + weight)`` offset, and how the class
rounds in half precision. Adapters (``adapters.py``) turn a row into an op call.
"""

from __future__ import annotations

from dataclasses import dataclass

# How a module rounds when its input is float16/bfloat16 (Liger-Kernel's casting_mode names).
# In float32 both are the same computation, bit for bit.
# llama: the intermediate (a norm's normalised x, a gated MLP's act(gate)) is rounded to the
#   input dtype, then multiplied (by the weight, by up) and rounded again;
# gemma: everything in fp32, rounded once at the end.
LLAMA = "llama"
GEMMA = "gemma"
CASTING_MODES = {
    LLAMA: "Llama-style casting (round the intermediate, then multiply)",
    GEMMA: "Gemma-style casting (multiply in fp32, round once)",
}


@dataclass(frozen=True)
class NormSemantics:
    """A normalization over the last dimension (GroupNorm: over channel groups of NC...)."""

    op: str  # "rms_norm" | "layer_norm" | "group_norm"
    eps: str  # attribute holding epsilon
    casting: str | None  # LLAMA | GEMMA; None: undeclared, so only float32 is served
    weight: str | None = "weight"  # attribute holding the scale (may hold None)
    bias: str | None = None  # attribute holding the shift (may hold None)
    offset: float = 0.0  # the output is normalized * (offset + weight); Gemma stores weight - 1
    eps_none_is_finfo: bool = False  # torch.nn.RMSNorm(eps=None): finfo(x.dtype).eps
    groups: str | None = None  # GroupNorm: attribute holding the number of groups
    channels: str | None = None  # GroupNorm: attribute holding the number of channels

    kind = "norm"


@dataclass(frozen=True)
class GatedMLPSemantics:
    """``down(act(gate(x)) * up(x))``; ``gate_up`` is one Linear giving ``[gate, up]``."""

    down: str
    activation: str  # attribute holding the activation module (its class picks the op)
    gate: str | None = None
    up: str | None = None
    gate_up: str | None = None
    # Hugging Face's `act(gate) * up` in half precision rounds act(gate) before the multiply.
    casting: str | None = LLAMA

    kind = "gated_mlp"


@dataclass(frozen=True)
class RotarySemantics:
    """An attention module whose forward calls ``function``, a module-level
    ``apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1)``, through transformers'
    hub-kernel hook: the function is tagged ``@use_kernel_forward_from_hub(layer)`` and the
    attention class ``@use_kernelized_func(function)``, which (with the ``kernels`` package
    that transformers depends on) gives each instance a private wrapper module in
    ``_kernel_funcs[layer]`` and routes the call to it. The patch replaces that wrapper's
    forward, per instance (what ``kernels.kernelize`` does with hub kernels).
    """

    function: str  # qualified name of the module-level function the attention calls
    layer: str = "rotary_pos_emb"  # its hub layer name (the key in _kernel_funcs)
    interleaved: bool = False  # GPT-J pairs instead of rotate_half
    # Rotates cos.shape[-1] <= head_dim dims and passes the rest through (Phi-3's function);
    # False: cos must cover head_dim (Llama's function would fail to broadcast otherwise).
    partial: bool = False
    # q * cos + rotate_half(q) * sin in the input dtype: each product rounded, then the sum.
    round_products: bool = True

    kind = "rotary"


@dataclass(frozen=True)
class NotReachable:
    """A declared module no per-instance patch can serve, and why (reported, never patched)."""

    what: str
    reason: str

    kind = "not_reachable"


Semantics = NormSemantics | GatedMLPSemantics | RotarySemantics | NotReachable
