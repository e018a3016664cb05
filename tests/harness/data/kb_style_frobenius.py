# ruff: noqa  (kept in KernelBench's own style on purpose)
# fmt: off
# A problem in KernelBench's file format, written by this project: divide a tensor by its
# Frobenius norm (one reduction over every element, then an elementwise scale).
import torch
import torch.nn as nn


class Model(nn.Module):
    """x / ||x||_F over the whole tensor."""
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.norm(x, p="fro")

batch_size = 1
features = 64
dim1 = 512
dim2 = 512

def get_inputs():
    return [torch.randn(batch_size, features, dim1, dim2)]

def get_init_inputs():
    return []
