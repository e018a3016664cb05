"""Launches of kernels/broken.metal shared by the detection and AddressSanitizer tests."""

from __future__ import annotations

import struct

import torch


def launch_early_return(lib, n: int, x: torch.Tensor | None = None, out=None, **launch_arguments):
    """early_return copies x to out for the first `n` of 128 threads (threadgroups of
    64), with a barrier that the other threads skip: n < 128 is barrier divergence."""
    x = torch.randn(128) if x is None else x
    out = torch.zeros(128) if out is None else out
    lib.launch(
        "early_return",
        buffers={0: x, 1: out},
        bytes={2: struct.pack("I", n)},
        grid=(128,),
        threadgroup=(64,),
        **launch_arguments,
    )
