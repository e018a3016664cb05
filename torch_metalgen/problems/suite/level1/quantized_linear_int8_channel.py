"""Weight-only quantized linear layer, int8 symmetric, one scale per output channel:
y = x @ W^T at LLM decode and prefill.
Shared definition: torch_metalgen/problems/quantized_linear.py."""

import torch

from torch_metalgen.problems import quantized_linear as _shared

batch_size = 1
in_features = 4096
out_features = 4096

Model, ModelMetalgen = _shared.formats(bits=8, group_size=None, mode="symmetric")


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]


METALGEN_OPS = ("quantized_linear",)
DTYPES = ("float32", "float16", "bfloat16")
NEAR_CONSTANT = False
SHAPES = _shared.SHAPES
CHECK_SHAPES = _shared.CHECK_SHAPES
HELD_OUT_SHAPES = _shared.HELD_OUT_SHAPES


def flops(inputs):
    return _shared.flops(inputs[0].shape[0], in_features, out_features)
