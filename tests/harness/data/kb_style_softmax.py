# ruff: noqa  (kept in KernelBench's own style on purpose)
# fmt: off
# A problem written in KernelBench's file format (class Model, get_inputs, get_init_inputs,
# module-level sizes) by this project, to test that such files load and verify unchanged.
import torch
import torch.nn as nn


class Model(nn.Module):
    """
    Softmax over dim 1 (written here in the format's style, not copied from KernelBench).
    """
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=1)

batch_size = 16
dim = 1000

def get_inputs():
    x = torch.rand(batch_size, dim)
    return [x]

def get_init_inputs():
    return []  # the constructor takes nothing
