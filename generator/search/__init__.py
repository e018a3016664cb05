"""Kernel search: proposers (the op templates over their tuning space, language models)
propose Metal kernels against an op's fixed launch interface; a supervisor verifies each
(strict MSL, the simulator with race checks, the device), benchmarks the survivors where a
GPU can time them, and records the winners in generator/tuning/<op>.json, from which
``python -m generator`` emits the shipped kernels. See docs/search.md."""
