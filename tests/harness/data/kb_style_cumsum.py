# ruff: noqa  (kept in KernelBench's own style on purpose)
# fmt: off
# A problem in KernelBench's file format, written by this project: inclusive prefix sum along
# one axis. The row length is a tuple global (input_shape), the axis an int global below 2.
import torch
import torch.nn as nn


class Model(nn.Module):
    """Running total along ``dim``."""
    def __init__(self, dim):
        super(Model, self).__init__()
        self.dim = dim

    def forward(self, x):
        return torch.cumsum(x, dim=self.dim)

batch_size = 8
input_shape = (1024,)
dim = 1

def get_inputs():
    return [torch.rand(batch_size, *input_shape)]

def get_init_inputs():
    return [dim]
