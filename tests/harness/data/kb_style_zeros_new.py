# A KernelBench-style candidate that returns zeros (passes KernelBench issue #165's problems).
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.zeros_like(x)
