"""Correctness harness: rules 1-11 of shared/reference/verification.md, per problem and case.

from torch_metalgen.problems import load_problem, file_candidate
from torch_metalgen.verify import VerifyConfig, verify_problem
report = verify_problem(load_problem("p.py"), file_candidate("new.py"), VerifyConfig())
"""

from torch_metalgen.verify.runner import (
    BAD_PROBLEM,
    FAIL,
    PASS,
    SKIP,
    CaseResult,
    ProblemReport,
    VerifyConfig,
    verify_problem,
)
from torch_metalgen.verify.tolerances import TOLERANCES, Tolerance, tolerance_for

__all__ = [
    "BAD_PROBLEM",
    "FAIL",
    "PASS",
    "SKIP",
    "TOLERANCES",
    "CaseResult",
    "ProblemReport",
    "Tolerance",
    "VerifyConfig",
    "tolerance_for",
    "verify_problem",
]
