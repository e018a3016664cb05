# Adversarial candidate (review 2026-12-kb, "cumsum_hardcoded"): scans only the first 1024
# columns and repeats the last total across any further ones.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        head = torch.cumsum(x[:, :1024], dim=1)
        tail = head[:, -1:].expand(-1, x.shape[1] - head.shape[1])
        return torch.cat([head, tail], dim=1)
