"""The comparison every op test uses: the project's one table, torch_metalgen/tolerances.py."""

from torch_metalgen.tolerances import (
    TOLERANCES,
    assert_close_to_reference,
    float64_inputs,
    mismatch,
)

__all__ = ["TOLERANCES", "assert_close_to_reference", "float64_inputs", "mismatch"]
