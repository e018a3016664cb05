"""Candidates: what is verified and timed against a problem's ``Model``.

A candidate is built from the reference model so both hold the *same* parameters (rule 10):
it is constructed with the problem's init inputs under the same seed, then, where its
parameters have the same names and shapes as Model's, they are copied from the (re-randomized)
reference model. Kinds: a ``ModelNew`` from a file (KernelBench), a project op
(``ModelMetalgen`` in our problem files), ``torch.compile`` of Model, or any module class.

A file candidate is untrusted code: ``file_candidate`` only reads the file (to check it
parses and defines the class) and never imports it into the caller's process; the harness
runs it in a worker process (``torch_metalgen.verify.worker``). Module classes handed over in
memory, eager, compile and the project's ops are trusted and run in the caller's process.
"""

from __future__ import annotations

import ast
import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from torch_metalgen.problems.problem import Problem, load_module

Builder = Callable[[Problem, torch.nn.Module, list], torch.nn.Module]


@dataclass
class Candidate:
    """``build(problem, reference_model, init_inputs)`` returns a module on no device yet."""

    name: str
    kind: str
    build_fn: Builder
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    notes: list[str] = field(default_factory=list)
    # Poisoning Python-level empty() through a TorchDispatchMode makes torch.compile give up
    # on the frame for good (it then runs eager, silently); compiled code allocates through the
    # device's caching allocator, whose free blocks are poisoned instead.
    dispatch_poison: bool = True
    # (file, class name) of an untrusted candidate: built and run only in a worker process
    source: tuple[str, str] | None = None
    preload: Callable[[], Any] = lambda: None  # import the candidate's code now (worker)

    @property
    def isolated(self) -> bool:
        """True for untrusted code: the harness runs it in a worker process, never here."""
        return self.source is not None

    def build(
        self, problem: Problem, reference: torch.nn.Module, init_inputs: list, seed: int
    ) -> torch.nn.Module:
        torch.manual_seed(seed)
        module = self.build_fn(problem, reference, init_inputs)
        if self.kind not in ("eager", "compile"):  # those deep-copy the reference already
            share_parameters(reference, module, self.notes)
        return module


def share_parameters(reference: torch.nn.Module, module: torch.nn.Module, notes: list[str]) -> None:
    """Copy reference parameters/buffers into ``module`` where names and shapes agree."""
    ref_state = reference.state_dict()
    own_state = module.state_dict()
    if not ref_state:
        return
    same = [k for k, v in own_state.items() if k in ref_state and ref_state[k].shape == v.shape]
    if len(same) != len(ref_state) or len(same) != len(own_state):
        notes.append(
            "candidate parameters do not match Model's by name and shape: only "
            f"{len(same)}/{len(ref_state)} shared; the rest come from the seed alone "
            "(constant-initialized weights, e.g. norm weights of ones, can hide bugs)"
        )
    with torch.no_grad():
        for key in same:
            own_state[key].copy_(ref_state[key])


def module_candidate(cls: type, name: str | None = None) -> Candidate:
    """Any module class taking Model's init inputs (tests, ModelNew classes in memory)."""
    return Candidate(name or cls.__name__, "module", lambda p, ref, init: cls(*init))


def file_candidate(path: str | Path, class_name: str = "ModelNew") -> Candidate:
    """A KernelBench-style candidate file defining ``ModelNew``; its code runs only where
    ``build`` is called (the worker process), see the module docstring. A missing file, a
    file that does not parse, or one without the class is a ValueError naming it."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"candidate file {path} does not exist")
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"candidate file {path} is not valid Python: {error}") from None
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    if class_name not in classes:
        raise ValueError(
            f"candidate file {path} defines no class {class_name!r} at top level; KernelBench "
            "candidates define ModelNew (or pass --candidate-class)"
        )
    loaded: dict[str, type] = {}

    def load_class() -> type:  # imported on first use: in the worker, not the verifier
        if "cls" not in loaded:
            loaded["cls"] = getattr(load_module(path, prefix="metalgen_candidate"), class_name)
        return loaded["cls"]

    def build(problem: Problem, ref: torch.nn.Module, init: list) -> torch.nn.Module:
        return load_class()(*init)

    return Candidate(
        f"{path.stem}:{class_name}",
        "file",
        build,
        source=(str(path), class_name),
        preload=load_class,
    )


def eager_candidate() -> Candidate:
    """The reference Model itself (a positive control; also the eager baseline)."""
    return Candidate("eager", "eager", lambda p, ref, init: copy.deepcopy(ref))


def compiled_candidate(mode: str | None = None) -> Candidate:
    """torch.compile (Inductor) of the reference Model."""

    def build(problem: Problem, ref: torch.nn.Module, init: list) -> torch.nn.Module:
        torch._dynamo.reset()  # fresh caches: no recompile limit carried over between problems
        return torch.compile(copy.deepcopy(ref), mode=mode, dynamic=False)

    return Candidate(
        "torch.compile" + (f"[{mode}]" if mode else ""), "compile", build, dispatch_poison=False
    )


def metalgen_candidate(simulate: bool = False) -> Candidate:
    """The project's op(s): the problem file's ``ModelMetalgen``; on CPU, ``simulate=True``
    runs the real Metal kernels through ``torch_metalgen.sim`` (correctness only)."""

    def build(problem: Problem, ref: torch.nn.Module, init: list) -> torch.nn.Module:
        if problem.metalgen_class is None:
            raise LookupError(
                f"problem {problem.name} defines no ModelMetalgen: no project op implements it"
            )
        return problem.metalgen_class(*init)

    context: Callable[[], Any] = contextlib.nullcontext
    if simulate:

        def context() -> contextlib.AbstractContextManager:
            from torch_metalgen import sim  # imported late: the simulator is optional

            return sim.simulate(order="forward")

    return Candidate("metalgen" + ("[sim]" if simulate else ""), "metalgen", build, context)
