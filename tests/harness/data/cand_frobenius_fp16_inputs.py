# Adversarial candidate (review 2026-12-kb, "frob_fp16_input"): rounds its input to float16
# before an otherwise float32 Frobenius normalization (half the memory traffic, ~2e-4 error).
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        rounded = x.half().float()
        return rounded / torch.norm(rounded, p="fro")
