# Adversarial candidate (review 2026-12-kb, "sm_hardcoded_shape"): right only at the one
# shape a KernelBench file names (16 x 1000 here), zeros at any other.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        if tuple(x.shape) == (16, 1000):
            return torch.softmax(x, dim=1)
        return torch.zeros_like(x)
