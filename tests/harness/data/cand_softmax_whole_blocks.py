# Adversarial candidate (review 2026-12-kb, "sm_pow2_only"): normalizes only the columns in
# whole blocks of 256 and leaves the tail zero; right whenever the row length is a multiple.
import torch
import torch.nn as nn

BLOCK = 256


class ModelNew(nn.Module):
    def forward(self, x):
        covered = x.shape[1] // BLOCK * BLOCK
        out = torch.zeros_like(x)
        out[:, :covered] = torch.softmax(x[:, :covered], dim=1)
        return out
