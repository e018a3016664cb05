# Adversarial candidate (review 2026-12-kb, "rms_hardcoded_features"): divides the sum of
# squares by a feature count of 64 fixed at write time instead of the input's.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        mean_square = (x * x).sum(dim=1, keepdim=True) / 64
        return x / torch.sqrt(mean_square + self.eps)
