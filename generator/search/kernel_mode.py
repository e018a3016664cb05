"""Runs a search candidate's kernel wherever the op is called: the ``ModelNew`` of a
candidate (``candidate.MODEL_NEW``) is the problem's ``ModelMetalgen`` with its forward
under ``CandidateKernels``, a dispatch mode that sends ``torch.ops.metalgen.<op>`` calls
to the candidate's Metal source and its plan (``plan.plan`` with the candidate's
constants) instead of the shipped kernel.

Where the launches go depends on the tensors' device (``LAUNCHERS``):

- ``cpu``: the MSL simulator (race, bounds and uninitialized-read checks on every launch,
  poisoned outputs, and every launch run in two schedule orders compared bit for bit);
- ``mps``: the Apple GPU, through ``torch.mps.compile_shader`` (the candidate's source
  with ``common.h`` inlined; arguments bound by buffer index, the params struct as a
  byte buffer, ``threads = grid x threadgroup`` for threadgroup dispatches);
- another device: whatever ``register_launcher`` installed (the CUDA back end's hook);
  none is an error saying so.

This module runs inside the harness's worker process (``torch_metalgen.verify.worker``),
under the resource limits the search gives it: the candidate's code is compiled and run
there, never in the process that judges it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from generator.search.plan import Launch, contiguous_arguments, plan
from torch_metalgen.op_calls import NAMESPACE, schema_arguments

Launcher = Callable[["CandidateKernels", list[Launch]], None]
LAUNCHERS: dict[str, Launcher] = {}


def register_launcher(device_type: str, launcher: Launcher) -> None:
    """Run candidates' launches on tensors of ``device_type`` (e.g. "cuda" from the CUDA
    back end of the simulator front end). ``launcher(mode, launches)`` runs them in order,
    writing the plans' output tensors in place; ``mode.source`` is the .metal path."""
    LAUNCHERS[device_type] = launcher


def _spec(op: str):
    return importlib.import_module(f"generator.specs.{op}").SPEC


class CandidateKernels(TorchDispatchMode):
    """``metalgen::<op>`` calls run the candidate at ``source`` with ``constants``; other
    metalgen ops on CPU run the shipped kernels through the simulator, elsewhere as usual."""

    def __init__(self, op: str, source: Path, constants: dict, check_orders: bool = True):
        super().__init__()
        self.op, self.source, self.constants = op, Path(source), dict(constants)
        self.check_orders = check_orders
        self.spec = _spec(op)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace != NAMESPACE:
            return func(*args, **kwargs)
        op = func._schema.name.split("::", 1)[1]
        values = schema_arguments(func, args, kwargs)
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        device = tensors[0].device.type if tensors else "cpu"
        if op != self.op:
            if device != "cpu":
                return func(*args, **kwargs)
            from torch_metalgen import sim

            with sim.simulate(order="forward"):
                return func(*args, **kwargs)
        from torch_metalgen import _ops

        # The shipped plan function checks the arguments and allocates the outputs (the
        # interface is the op's, whatever the candidate); its launches are not used.
        _, outputs = getattr(_ops._C, f"plan_{op}")(*values)
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        launches = plan(
            self.spec, contiguous_arguments(self.spec, tuple(values)), outs, self.constants
        )
        launcher = LAUNCHERS.get(device)
        if launcher is None:
            raise RuntimeError(
                f"no launcher runs candidate kernels on {device} tensors (cpu: simulator, "
                f"mps: compile_shader; others via generator.search.kernel_mode.register_launcher)"
            )
        launcher(self, launches)
        return outputs


def simulator_launcher(mode: CandidateKernels, launches: list[Launch]) -> None:
    from torch_metalgen import sim

    library = sim.compile_library(mode.source, include_dirs=(sim.metal_source_dir(),))
    for launch in launches:
        library.launch(
            launch.kernel,
            buffers={index: tensor for index, tensor, _ in launch.buffers},
            bytes=dict(launch.bytes),
            threadgroup_memory=dict(launch.threadgroup_memory),
            grid=launch.grid,
            threadgroup=launch.threadgroup,
            dispatch=launch.dispatch,
            outputs=[index for index, _, is_output in launch.buffers if is_output],
            order="forward",
            check_orders=mode.check_orders,
        )


_MPS_LIBRARIES: dict[Path, object] = {}


def mps_launcher(mode: CandidateKernels, launches: list[Launch]) -> None:
    """On the Apple GPU through torch.mps.compile_shader (one library per candidate)."""
    if mode.source not in _MPS_LIBRARIES:
        from torch_metalgen import sim

        common = (sim.metal_source_dir() / "common.h").read_text()
        text = mode.source.read_text().replace('#include "common.h"', common)
        _MPS_LIBRARIES[mode.source] = torch.mps.compile_shader(text)
    library = _MPS_LIBRARIES[mode.source]
    for launch in launches:
        if launch.threadgroup_memory:
            raise RuntimeError(
                f"{launch.kernel}: [[threadgroup(i)]] lengths cannot be set through "
                "torch.mps.compile_shader; this candidate can only be checked in the simulator"
            )
        bound: dict[int, object] = {index: tensor for index, tensor, _ in launch.buffers}
        for index, data in launch.bytes:
            bound[index] = torch.frombuffer(bytearray(data), dtype=torch.uint8).to("mps")
        arguments = [bound[i] for i in range(max(bound) + 1)]
        if launch.dispatch == "threadgroups":
            threads = [g * t for g, t in zip(launch.grid, launch.threadgroup, strict=True)]
        else:
            threads = list(launch.grid)
        getattr(library, launch.kernel)(
            *arguments, threads=threads, group_size=list(launch.threadgroup)
        )


register_launcher("cpu", simulator_launcher)
register_launcher("mps", mps_launcher)


def candidate_base(model_new_file: str) -> type:
    """The base class of a candidate's ``ModelNew``: the problem's ``ModelMetalgen`` whose
    forward runs under ``CandidateKernels`` for the candidate beside ``model_new_file``."""
    from torch_metalgen.problems.problem import load_module

    directory = Path(model_new_file).resolve().parent
    record = json.loads((directory / "candidate.json").read_text())
    problem = load_module(Path(record["problem"]), prefix="metalgen_search_problem")
    base = problem.ModelMetalgen
    op, constants = record["op"], record["constants"]
    source = directory / f"{op}.metal"

    class CandidateModel(base):
        def forward(self, *args, **kwargs):
            with CandidateKernels(op, source, constants):
                return super().forward(*args, **kwargs)

    CandidateModel.__name__ = f"Candidate_{record['id']}"
    return CandidateModel
