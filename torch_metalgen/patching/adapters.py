"""One adapter per semantic kind: what a module must hold, what the registry must offer, and
the op call that replaces its forward. A new op is wired by a row in ``families.py``; a new
kind of module by one adapter here.

Every adapter answers three questions:
  ``unfit(module, semantics)``   -- "" if the module holds what its row says, else why not;
  ``options(module, semantics)`` -- (op, schema options) to ask ``capabilities.missing``;
  ``value_names(module, semantics)`` -- the op arguments it can supply (checked at patch time);
  ``run(module, semantics, plan, args, kwargs)`` -- (output, "") or (None, why it must fall
      back); ``plan`` is the ``capabilities.CallPlan`` made when patching.
"""

from __future__ import annotations

import torch

from torch_metalgen.patching import capabilities, rotary
from torch_metalgen.patching.families import ACTIVATIONS, qualified_name
from torch_metalgen.patching.semantics import GatedMLPSemantics, NormSemantics

_INPUT_NAMES = ("x", "input")


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _single_tensor(args: tuple, kwargs: dict) -> tuple[torch.Tensor | None, str]:
    if kwargs or len(args) != 1 or not isinstance(args[0], torch.Tensor):
        return None, "called with other arguments than one tensor"
    return args[0], ""


class NormAdapter:
    """rms_norm / layer_norm / group_norm modules."""

    @staticmethod
    def _normalized_size(module: torch.nn.Module, sem: NormSemantics) -> int | None:
        shape = getattr(module, "normalized_shape", None)
        if shape is not None:
            return int(shape[0]) if len(shape) == 1 else None
        weight = getattr(module, sem.weight, None) if sem.weight else None
        return weight.shape[-1] if isinstance(weight, torch.Tensor) else None

    def unfit(self, module: torch.nn.Module, sem: NormSemantics) -> str:
        shape = getattr(module, "normalized_shape", None)
        if shape is not None and len(shape) != 1:
            return (
                f"normalizes over {len(shape)} trailing dims; the kernels normalize over the "
                "last one only"
            )
        eps = getattr(module, sem.eps, None)
        if not (eps is None and sem.eps_none_is_finfo) and (
            isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0
        ):
            return f"{sem.eps} is {eps!r}, not a positive float"
        for role in ("weight", "bias"):
            attribute = getattr(sem, role)
            tensor = getattr(module, attribute, None) if attribute else None
            if tensor is not None and (not isinstance(tensor, torch.Tensor) or tensor.dim() != 1):
                dims = tensor.dim() if isinstance(tensor, torch.Tensor) else type(tensor).__name__
                return f"{role} is {dims}-D (per-head weights?); the kernels take a 1-D {role}"
        if sem.groups and not isinstance(getattr(module, sem.groups, None), int):
            return f"{sem.groups} is not an int"
        return ""

    def value_names(self, module: torch.nn.Module, sem: NormSemantics) -> set[str]:
        return {
            "weight",
            "bias",
            "eps",
            "num_groups",
            "silu",
            *_INPUT_NAMES,
            *self.options(module, sem)[1],
        }

    def options(self, module: torch.nn.Module, sem: NormSemantics) -> tuple[str, dict]:
        return sem.op, {
            capabilities.OFFSET_ARGUMENT: sem.offset,
            capabilities.CASTING_ARGUMENT: sem.casting,
        }

    def run(self, module, sem: NormSemantics, plan, args, kwargs):
        x, why = _single_tensor(args, kwargs)
        if x is None:
            return None, why
        if x.dtype not in capabilities.SERVED_DTYPES:
            return None, f"no {plan.op} kernel for {_dtype_name(x.dtype)}"
        if x.dtype in plan.unservable:
            return None, plan.unservable[x.dtype]
        weight = getattr(module, sem.weight) if sem.weight else None
        bias = getattr(module, sem.bias) if sem.bias else None
        for name, tensor in (("weight", weight), ("bias", bias)):
            if tensor is not None and (tensor.dtype != x.dtype or tensor.device != x.device):
                # HF promotes (an fp32 weight makes an fp32 output); the original defines it.
                return None, (
                    f"{name} is {_dtype_name(tensor.dtype)} on {tensor.device}, input "
                    f"{_dtype_name(x.dtype)} on {x.device}"
                )
        if plan.refuses_grad(x, weight, bias):
            return None, f"{plan.op} has no autograd formula and this call needs gradients"
        if sem.groups:
            channels = getattr(module, sem.channels)
            if x.dim() < 2 or x.shape[1] != channels:
                return None, f"input shape {tuple(x.shape)} is not (N, {channels}, ...)"
        elif x.dim() < 1 or x.shape[-1] != self._normalized_size(module, sem):
            return None, f"input shape {tuple(x.shape)} does not end in the normalized size"
        eps = getattr(module, sem.eps)
        if eps is None:  # eps_none_is_finfo
            eps = torch.finfo(x.dtype).eps
        values = {
            "weight": weight,
            "bias": bias,
            "eps": float(eps),
            "num_groups": getattr(module, sem.groups) if sem.groups else None,
            "silu": False,
            **dict.fromkeys(_INPUT_NAMES, x),
            **self.options(module, sem)[1],
        }
        return capabilities.call(plan.op, plan.kwargs(values)), ""


class GatedMLPAdapter:
    """``down(act(gate(x)) * up(x))`` with the activation's fused ``<act>_and_mul`` op."""

    @staticmethod
    def _activation(module, sem: GatedMLPSemantics) -> tuple[str, dict] | None:
        activation = getattr(module, sem.activation, None)
        row = ACTIVATIONS.get(qualified_name(type(activation)))
        if row is None:
            return None
        op, extra = row
        if isinstance(activation, torch.nn.GELU):
            extra = {"approximate_tanh": activation.approximate == "tanh"}
        return op, extra

    def unfit(self, module, sem: GatedMLPSemantics) -> str:
        if self._activation(module, sem) is None:
            activation = getattr(module, sem.activation, None)
            return f"activation {type(activation).__name__} has no gated op"
        names = [sem.gate_up] if sem.gate_up else [sem.gate, sem.up]
        for name in [*names, sem.down]:
            if not callable(getattr(module, name, None)):
                return f"no {name} submodule"
        return ""

    def value_names(self, module, sem: GatedMLPSemantics) -> set[str]:
        op, extra = self.options(module, sem)
        if sem.gate_up:
            return {*_INPUT_NAMES, *extra}
        # Separate tensors: as (gate, up), or as (x, up) when the op's x is the gate and
        # an `up` argument says so (without `up`, x would be read as [gate, up]).
        takes_up = capabilities.has_op(op) and "up" in capabilities.op_arguments(op)
        return {"gate", "up", *(_INPUT_NAMES if takes_up else ()), *extra}

    def options(self, module, sem: GatedMLPSemantics) -> tuple[str, dict]:
        op, extra = self._activation(module, sem)
        return op, {**extra, capabilities.CASTING_ARGUMENT: sem.casting}

    def run(self, module, sem: GatedMLPSemantics, plan, args, kwargs):
        x, why = _single_tensor(args, kwargs)
        if x is None:
            return None, why
        if x.dtype not in capabilities.SERVED_DTYPES:
            return None, f"no {plan.op} kernel for {_dtype_name(x.dtype)}"
        if x.dtype in plan.unservable:
            return None, plan.unservable[x.dtype]
        if plan.refuses_grad(x, *module.parameters()):
            return None, f"{plan.op} has no autograd formula and this call needs gradients"
        if sem.gate_up:
            values = dict.fromkeys(_INPUT_NAMES, getattr(module, sem.gate_up)(x))
        else:
            gate = getattr(module, sem.gate)(x)
            values = {
                "gate": gate,
                "up": getattr(module, sem.up)(x),
                **dict.fromkeys(_INPUT_NAMES, gate),
            }
        values.update(self.options(module, sem)[1])
        return getattr(module, sem.down)(capabilities.call(plan.op, plan.kwargs(values))), ""


ADAPTERS = {"norm": NormAdapter(), "gated_mlp": GatedMLPAdapter(), "rotary": rotary.ADAPTER}
