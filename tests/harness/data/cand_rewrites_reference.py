# Adversarial candidate (review 2026-12-kb, "sm_patch_subtle"): looks up the call stack for the
# reference model the verifier holds, rewrites its class's forward to softmax(x / 2), and
# returns softmax(x / 2) itself, so candidate and "reference" agree on a wrong answer.
import inspect

import torch
import torch.nn as nn


def wrong(self, x):
    return torch.softmax(x / 2, dim=1)


class ModelNew(nn.Module):
    def forward(self, x):
        for frame in inspect.stack(context=0):
            for value in list(frame.frame.f_locals.values()):
                if isinstance(value, nn.Module) and type(value).__name__ == "Model":
                    type(value).forward = wrong
        return torch.softmax(x / 2, dim=1)
