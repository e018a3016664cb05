"""SwiGLU activation on a fused gate/up projection: silu(gate) * up (Llama MLP)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4096
intermediate = 11008


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, gate_up):
        gate, up = gate_up.chunk(2, dim=-1)
        return F.silu(gate) * up


class ModelMetalgen(Model):
    def forward(self, gate_up):
        return torch.ops.metalgen.silu_and_mul(gate_up, None)


def get_inputs():
    return [torch.randn(batch_size, 2 * intermediate)]


def get_init_inputs():
    return []


METALGEN_OPS = ("silu_and_mul",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
NEAR_CONSTANT = False
SHAPES = {
    "4096x11008": dict(batch_size=4096, intermediate=11008),
    "llama7b-decode": dict(batch_size=1, intermediate=11008),
    "llama7b-prefill": dict(batch_size=2048, intermediate=11008),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, intermediate=31),
    "3x33": dict(batch_size=3, intermediate=33),
    "2x4097": dict(batch_size=2, intermediate=4097),
}
HELD_OUT_SHAPES = {"5x1001": dict(batch_size=5, intermediate=1001)}


def flops(inputs):
    return 6 * inputs[0].numel() // 2


def compulsory_bytes(inputs, outputs, params):
    # gate_up ([rows, 2d]) read once, the [rows, d] result written once.
    return sum(t.numel() * t.element_size() for t in (*inputs, *outputs))
