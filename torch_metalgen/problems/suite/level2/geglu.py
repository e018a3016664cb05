"""GeGLU activation on a fused gate/up projection: gelu(gate) * up (Gemma's MLP uses the tanh
form, ``gelu_pytorch_tanh``; set ``approximate = "none"`` for the exact one)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4096
intermediate = 16384
approximate = "tanh"


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, gate_up):
        gate, up = gate_up.chunk(2, dim=-1)
        return F.gelu(gate, approximate=approximate) * up


class ModelMetalgen(Model):
    def forward(self, gate_up):
        return torch.ops.metalgen.gelu_and_mul(gate_up, None, approximate == "tanh")


def get_inputs():
    return [torch.randn(batch_size, 2 * intermediate)]


def get_init_inputs():
    return []


METALGEN_OPS = ("gelu_and_mul",)
DTYPES = ("float32", "float16", "bfloat16")
NONFINITE_INPUTS = True
NEAR_CONSTANT = False
SHAPES = {
    "4096x16384": dict(batch_size=4096, intermediate=16384),
    "gemma7b-decode": dict(batch_size=1, intermediate=24576),
    "gemma2b-prefill": dict(batch_size=2048, intermediate=16384),
    "exact-4096x16384": dict(batch_size=4096, intermediate=16384, approximate="none"),
}
CHECK_SHAPES = {
    "1x31": dict(batch_size=1, intermediate=31),
    "3x33": dict(batch_size=3, intermediate=33),
    "2x4097": dict(batch_size=2, intermediate=4097),
    "exact-3x33": dict(batch_size=3, intermediate=33, approximate="none"),
}
HELD_OUT_SHAPES = {
    "5x1001": dict(batch_size=5, intermediate=1001),
    "exact-7x1030": dict(batch_size=7, intermediate=1030, approximate="none"),
}


def flops(inputs):
    # about 14 per gelu (tanh form: cube, fma, exp, divide) plus the multiply
    return 15 * inputs[0].numel() // 2


def compulsory_bytes(inputs, outputs, params):
    # gate_up ([rows, 2d]) read once, the [rows, d] result written once.
    return sum(t.numel() * t.element_size() for t in (*inputs, *outputs))
