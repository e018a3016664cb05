# ruff: noqa  (kept in KernelBench's own style on purpose)
# fmt: off
# A problem in KernelBench's file format, written by this project: RMS normalization over the
# feature axis (dim 1) of a 4-D activation. Four size globals, none of them in a shape table.
import torch
import torch.nn as nn


class Model(nn.Module):
    """Scales each (batch, :, i, j) fibre by the reciprocal of its root mean square."""
    def __init__(self, num_features: int, eps: float = 1e-5):
        super(Model, self).__init__()
        self.num_features = num_features
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(torch.mean(x ** 2, dim=1, keepdim=True) + self.eps)
        return x / rms

batch_size = 2
features = 64
dim1 = 16
dim2 = 16

def get_inputs():
    return [torch.randn(batch_size, features, dim1, dim2)]

def get_init_inputs():
    return [features]
