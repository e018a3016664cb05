"""A tiny Llama (real transformers config, random weights) quantized with
torch_metalgen.quantize: its quantized_linear layers run as the real Metal kernels in the
MSL simulator (prefill through the tiled kernel, decode through gemv), greedy generate
works, and its logits' distance from the float32 model is reported next to MLX's for the
same packed weights (mx.quantized_matmul in every quantized layer). Distances are
reported (pytest -s prints them), and bounded only loosely: quantization error is the
format's, not a kernel's."""

from __future__ import annotations

import pytest
import torch

import torch_metalgen
from tests.models import tiny
from torch_metalgen.quantization import QuantizedLinear
from torch_metalgen.tolerances import LOGITS_TOLERANCE

sim = pytest.importorskip("torch_metalgen.sim")

# (bits, group_size, mode): the tiny Llama's in_features are 64 and 96, so groups of 32.
FORMATS = [(4, 32, "affine"), (8, 32, "affine"), (4, 32, "symmetric"), (8, None, "symmetric")]


def distance(logits: torch.Tensor, reference: torch.Tensor) -> float:
    """max |logits - reference| / max |reference|, the models tier's logits metric."""
    return float((logits.double() - reference.double()).abs().max() / reference.abs().max())


class MLXQuantizedLinear(torch.nn.Module):
    """A QuantizedLinear's packed tensors computed by MLX's mx.quantized_matmul (CPU)."""

    def __init__(self, layer: QuantizedLinear, mx):
        super().__init__()
        self.layer, self.mx = layer, mx

    def forward(self, x):
        import numpy as np

        mx, layer = self.mx, self.layer

        def array(t):
            return mx.array(t.numpy()) if t.dtype == torch.uint32 else mx.array(t.float().numpy())

        out = mx.quantized_matmul(
            array(x.reshape(-1, x.shape[-1])),
            array(layer.qweight),
            array(layer.scales),
            array(layer.biases),
            transpose=True,
            group_size=layer.group_size,
            bits=layer.bits,
        )
        out = torch.from_numpy(np.array(out)).reshape(*x.shape[:-1], -1)
        if layer.bias is not None:
            out = out + layer.bias.float()
        return out.to(x.dtype)


def with_mlx_layers(model: torch.nn.Module, mx) -> torch.nn.Module:
    for name, module in list(model.named_modules()):
        if isinstance(module, QuantizedLinear):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, MLXQuantizedLinear(module, mx))
    return model


@pytest.mark.parametrize("bits, group_size, mode", FORMATS, ids=str)
def test_quantized_llama_logits_through_the_simulator(bits, group_size, mode):
    model = tiny.build("llama", torch.float32)
    inputs = tiny.example_inputs("llama")
    with torch.no_grad():
        expected = model(**inputs).logits
        report = torch_metalgen.quantize(model, bits=bits, group_size=group_size, mode=mode)
        assert len(report.replaced) == 14 and list(report.skipped) == ["lm_head"], str(report)
        cpu = model(**inputs).logits
        with sim.simulate(), sim.record_launches() as launches:
            simulated = model(**inputs).logits
    kernels = {launch.kernel for launch in launches}
    assert kernels == {"quantized_linear_tiled_float32"}, kernels  # 24 tokens: prefill
    assert len(launches) == 14
    # The kernels compute what the CPU path computes, to float32 accuracy.
    assert distance(simulated, cpu) <= LOGITS_TOLERANCE[torch.float32]
    ours = distance(simulated, expected)
    line = f"int{bits} {mode} group {group_size}: logits distance from float32 {ours:.4f}"
    if mode == "affine" and (mx := _mlx()) is not None:
        with torch.no_grad():
            theirs = distance(with_mlx_layers(model, mx)(**inputs).logits, expected)
        line += f", MLX's (mx.quantized_matmul, same weights) {theirs:.4f}"
        assert abs(ours - theirs) <= 0.05 * theirs + 1e-4, line
    print(line)
    assert 0 < ours < {4: 0.5, 8: 0.05}[bits], line


def _mlx():
    try:
        import mlx.core as mx
    except ImportError:
        return None
    return mx


def test_quantized_llama_generates_under_the_simulator():
    model = tiny.build("llama", torch.float32)
    torch_metalgen.quantize(model, bits=4, group_size=32)
    prompt = tiny.input_ids(batch=1, length=6)
    settings = dict(max_new_tokens=4, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        expected = model.generate(prompt, **settings)
        with sim.simulate(), sim.record_launches() as launches:
            generated = model.generate(prompt, **settings)
    assert torch.equal(generated, expected)
    assert generated.shape == (1, 10)
    kernels = [launch.kernel for launch in launches]
    # One prefill of 6 tokens and 3 decode steps of 1 token: all through gemv.
    assert kernels == ["quantized_linear_gemv_float32"] * 14 * 4, sorted(set(kernels))


def test_bfloat16_quantized_llama_runs_both_kernels():
    model = tiny.build("llama", torch.bfloat16)
    torch_metalgen.quantize(model, bits=8, group_size=32)
    with torch.no_grad():
        for ids, kernel in (
            (tiny.input_ids(batch=1, length=3), "quantized_linear_gemv_bfloat16"),
            (tiny.input_ids(batch=2, length=9), "quantized_linear_tiled_bfloat16"),
        ):
            cpu = model(input_ids=ids).logits
            with sim.simulate(), sim.record_launches() as launches:
                simulated = model(input_ids=ids).logits
            assert [launch.kernel for launch in launches] == [kernel] * 14
            assert distance(simulated, cpu) <= LOGITS_TOLERANCE[torch.bfloat16]


CAUSAL = [f for f in sorted(tiny.FAMILIES) if tiny.FAMILIES[f][3] == "causal"]


@pytest.mark.parametrize("family", CAUSAL)
def test_quantized_families_logits_are_reported(family):
    # Every causal family of the models tier, int8 and int4 (groups of 32), through the CPU
    # path (the kernels are the llama tests' and the sim tier's): how far quantization moves
    # the logits, printed; bounded loosely (random weights quantize worse than trained ones).
    model = tiny.build(family, torch.float32)
    inputs = tiny.example_inputs(family)
    line = [family]
    with torch.no_grad():
        expected = model(**inputs).logits
        for bits in (8, 4):
            quantized = tiny.build(family, torch.float32)
            report = torch_metalgen.quantize(quantized, bits=bits, group_size=32)
            assert report.replaced, str(report)
            ours = distance(quantized(**inputs).logits, expected)
            line.append(f"int{bits}: {ours:.4f} ({len(report.replaced)} layers)")
            # ~2x the worst of the 13 families measured (int8 0.0144, int4 0.239).
            assert ours < {8: 0.03, 4: 0.5}[bits], line
    print(" ".join(line))
