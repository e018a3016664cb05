# A KernelBench-style candidate: ModelNew with the same constructor, a hand-written softmax.
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        shifted = x - x.amax(dim=1, keepdim=True)
        e = shifted.exp()
        return e / e.sum(dim=1, keepdim=True)
