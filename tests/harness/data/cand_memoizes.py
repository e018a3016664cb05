# Adversarial candidate (review 2026-12-kb, "sm_memo"): correct, but remembers each result by
# the input's address, version and first and last values, and returns it again on a match.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = {}

    def forward(self, x):
        flat = x.reshape(-1)
        key = (x.data_ptr(), x._version, float(flat[0]), float(flat[-1]))
        if key not in self.seen:
            self.seen[key] = torch.softmax(x, dim=1)
        return self.seen[key]
