"""Rotary embeddings: route an attention's ``apply_rotary_pos_emb`` call to
``torch.ops.metalgen.rotary_embedding``, per instance, through transformers' own hook.

transformers (5.x, with the ``kernels`` package it depends on) tags the module-level
``apply_rotary_pos_emb`` of most decoder families with ``@use_kernel_forward_from_hub(
"rotary_pos_emb")``, which turns the function into a module, and tags the attention class
with ``@use_kernelized_func(apply_rotary_pos_emb)``: every attention instance then owns a
private copy of that module in ``attention._kernel_funcs["rotary_pos_emb"]``, and while the
attention's forward runs, the global function's calls are routed to the instance's copy
(eager: ``copy(*args)``; under torch.compile: ``copy.forward.__func__(global, *args)``).
``kernels.kernelize`` swaps hub kernels in by giving that copy a ``forward`` of its own; the
patch does the same with a ``PatchedRotary``. Nothing global is assigned, no attention code
is copied, and other instances (other models, copies) are untouched.

A call the op does not serve (other arguments, unsqueeze_dim != 1, mixed dtypes, tables that
are not (batch, seq, dim), a Llama-style function given partial tables) runs the original
function, counted with its reason.
"""

from __future__ import annotations

import importlib

import torch

from torch_metalgen.patching import capabilities
from torch_metalgen.patching.op_or_fallback import OpOrFallback
from torch_metalgen.patching.semantics import RotarySemantics

OP = "rotary_embedding"
_VALUES = {"q", "k", "cos", "sin", "interleaved", "round_products"}


def _resolve(qualified: str):
    module_name, _, attribute = qualified.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute, None)
    except ImportError:
        return None


def wrapper_of(module: torch.nn.Module, sem: RotarySemantics):
    """The instance's private copy of the hub-tagged function, or None."""
    kernel_funcs = module.__dict__.get("_kernel_funcs")
    return kernel_funcs.get(sem.layer) if isinstance(kernel_funcs, dict) else None


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


class RotaryAdapter:
    """Attention modules whose rotary call transformers routes through a hub-kernel copy."""

    def unfit(self, module: torch.nn.Module, sem: RotarySemantics) -> str:
        function = _resolve(sem.function)
        if function is None:
            return f"{sem.function} does not exist in this transformers"
        if not hasattr(type(function), "kernel_layer_name"):
            return (
                f"{sem.function} is a plain function here (no hub-kernel tag: the `kernels` "
                "package is missing or outside transformers' supported range), so the "
                "attention calls it directly and no per-instance route exists"
            )
        wrapper = wrapper_of(module, sem)
        if wrapper is None:
            return (
                f"the attention has no hub-kernel copy of {sem.function} "
                f"(_kernel_funcs[{sem.layer!r}]), so no per-instance route exists"
            )
        if type(wrapper) is not type(function):
            return f"_kernel_funcs[{sem.layer!r}] wraps another function than {sem.function}"
        if "forward" in wrapper.__dict__:
            return "its rotary function was already replaced (kernels.kernelize or another tool)"
        return ""

    def value_names(self, module, sem: RotarySemantics) -> set[str]:
        return set(_VALUES)

    def options(self, module, sem: RotarySemantics) -> tuple[str, dict]:
        return OP, {"interleaved": sem.interleaved, "round_products": sem.round_products}

    def run(self, module, sem: RotarySemantics, plan, args, kwargs):
        """(q_out, k_out) from the op, or (None, why the original must run)."""
        arguments, why = _arguments(args, kwargs)
        if arguments is None:
            return None, why
        q, k, cos, sin = arguments
        dtype = q.dtype
        if dtype not in capabilities.SERVED_DTYPES:
            return None, f"no {plan.op} kernel for {_dtype_name(dtype)}"
        if dtype in plan.unservable:
            return None, plan.unservable[dtype]
        others = {"k": k, "cos": cos, "sin": sin}
        for name, tensor in others.items():
            if tensor.dtype != dtype or tensor.device != q.device:
                # HF promotes mixed dtypes (an fp32 table gives fp32 outputs).
                return None, (
                    f"{name} is {_dtype_name(tensor.dtype)} on {tensor.device}, q "
                    f"{_dtype_name(dtype)} on {q.device}"
                )
        if q.dim() != 4 or k.dim() != 4 or cos.dim() != 3 or sin.shape != cos.shape:
            return None, "not q, k (batch, heads, seq, head_dim) with (batch, seq, dim) tables"
        batch, _, seq, head_dim = q.shape
        if (
            k.shape[0] != batch
            or k.shape[2:] != q.shape[2:]
            or cos.shape[0] not in (1, batch)
            or cos.shape[1] != seq
        ):
            return None, f"shapes q {tuple(q.shape)}, k {tuple(k.shape)}, cos {tuple(cos.shape)}"
        rotary = cos.shape[-1]
        if rotary != head_dim and not (sem.partial and rotary <= head_dim and rotary % 2 == 0):
            return None, f"tables of {rotary} dims for head_dim {head_dim}"
        if plan.refuses_grad(q, k, cos, sin):
            return None, f"{plan.op} has no autograd formula and this call needs gradients"
        values = {"q": q, "k": k, "cos": cos, "sin": sin, **self.options(module, sem)[1]}
        return capabilities.call(plan.op, plan.kwargs(values)), ""


def _arguments(args: tuple, kwargs: dict):
    """(q, k, cos, sin) of ``apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1)``."""
    kwargs = dict(kwargs)
    names = ("q", "k", "cos", "sin", "unsqueeze_dim")
    if len(args) > len(names) or set(kwargs) - set(names[len(args) :]):
        return None, "called with other arguments than (q, k, cos, sin, unsqueeze_dim)"
    bound = dict(zip(names, args, strict=False)) | kwargs
    if bound.get("unsqueeze_dim", 1) != 1:
        return None, f"unsqueeze_dim={bound['unsqueeze_dim']} (the op's tables broadcast on dim 1)"
    tensors = [bound.get(name) for name in names[:4]]
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        return None, "q, k, cos and sin are not all tensors"
    return tensors, ""


class PatchedRotary(OpOrFallback):
    """The ``forward`` of an attention's private rotary copy: the op, or the original
    function (counted, with the reason). kernels' routing reads ``forward.__func__`` under
    torch.compile and calls it with the global function module first; eager calls go
    through the copy's ``__call__`` to this object itself. It also holds the copy.
    """

    def __init__(self, module: torch.nn.Module, wrapper, semantics, plan) -> None:
        super().__init__(module, semantics, plan)
        self.wrapper = wrapper

    def adapter(self):
        return ADAPTER

    def original(self, *args, **kwargs):
        # The copy's class forward: with no route registered for the copy itself, it runs
        # the function transformers decorated.
        return type(self.wrapper).forward(self.wrapper, *args, **kwargs)

    def __func__(self, _function_module, *args, **kwargs):
        return self(*args, **kwargs)

    def restore(self) -> None:
        if self.wrapper.__dict__.get("forward") is self:
            del self.wrapper.__dict__["forward"]


ADAPTER = RotaryAdapter()


def install(module: torch.nn.Module, sem: RotarySemantics, plan) -> PatchedRotary:
    wrapper = wrapper_of(module, sem)
    forward = PatchedRotary(module, wrapper, sem, plan)
    wrapper.__dict__["forward"] = forward
    return forward


def patched(module: torch.nn.Module) -> PatchedRotary | None:
    kernel_funcs = module.__dict__.get("_kernel_funcs")
    if not isinstance(kernel_funcs, dict):
        return None
    for wrapper in kernel_funcs.values():
        forward = getattr(wrapper, "__dict__", {}).get("forward")
        if isinstance(forward, PatchedRotary):
            return forward
    return None
