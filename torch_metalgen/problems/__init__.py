"""Benchmark problems in the KernelBench format, and the candidates that solve them.

A problem file defines ``class Model(nn.Module)``, ``get_inputs()`` and ``get_init_inputs()``
(KernelBench's format, so its files load unchanged). Files written for this project may add
metadata (shapes, dtypes, FLOPs, the project op that implements them); see ``problem.py``.
"""

from torch_metalgen.problems.candidate import (
    Candidate,
    compiled_candidate,
    eager_candidate,
    file_candidate,
    metalgen_candidate,
    module_candidate,
)
from torch_metalgen.problems.problem import Problem, Shape, load_problem
from torch_metalgen.problems.suite import (
    SUITE_DIR,
    find_problems,
    metalgen_ops_available,
    solved_by_project_ops,
)

__all__ = [
    "Candidate",
    "Problem",
    "SUITE_DIR",
    "Shape",
    "compiled_candidate",
    "eager_candidate",
    "file_candidate",
    "find_problems",
    "load_problem",
    "metalgen_candidate",
    "metalgen_ops_available",
    "module_candidate",
    "solved_by_project_ops",
]
