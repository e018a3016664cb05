"""The search's untrusted steps in a limited subprocess: compiling a candidate's Metal for
the simulator (clang on text a language model wrote) and running it once to count its
memory traffic.

``run_limited`` starts ``python -m generator.search.sandbox <step> <candidate dir>`` with
``ResourceLimits`` (CPU time, address space, size of every file written, no core dumps),
in its own session (its process group is killed afterwards, whatever it forked), under a
wall-clock timeout, with stdout and stderr going to files (so the file-size limit caps its
output too). The child prints one JSON line; anything else (a crash, a kill, a missing or
malformed line) is reported as the step's failure with the reason, never trusted as a
result. The verdicts themselves come from the harness, which runs the candidate in its own
limited worker (``torch_metalgen.verify.worker``) and judges only the tensors it returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch_metalgen.verify.limits import ResourceLimits, kill_group, why_it_ended

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_CAP = 64 * 1024  # bytes of the child's stdout / stderr read back


@dataclass
class SandboxResult:
    ok: bool
    reply: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    seconds: float = 0.0


def _tail(path: Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - OUTPUT_CAP))
        return handle.read().decode(errors="replace")


def run_step(step: str, directory: Path, limits: ResourceLimits, timeout: float) -> SandboxResult:
    """Run one sandbox step (compile, profile) on a candidate directory."""
    argv = [sys.executable, "-m", "generator.search.sandbox", step, str(directory)]
    return run_limited(argv, limits, timeout, what=step)


def run_limited(
    argv: list[str], limits: ResourceLimits, timeout: float, what: str = "sandbox"
) -> SandboxResult:
    """Run ``argv`` limited and isolated as the module docstring says; its last stdout line
    starting with ``{`` is the reply."""
    step = what
    start = time.monotonic()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["METALGEN_SIM_THREADS"] = env.get("METALGEN_SIM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="metalgen-sandbox-") as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=scratch,
                preexec_fn=limits.apply,
                start_new_session=True,
            )
            try:
                code = process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                code = None
            finally:
                kill_group(process.pid)
                process.wait()
        seconds = time.monotonic() - start
        stdout_text, stderr_text = _tail(out), _tail(err)
    if timed_out:
        return SandboxResult(False, why=f"{step}: no result within {timeout:g} s", seconds=seconds)
    lines = [line for line in stdout_text.splitlines() if line.startswith("{")]
    try:
        reply = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        reply = None
    if code != 0 or not isinstance(reply, dict):
        limit = why_it_ended(code, limits)
        last = (stderr_text.strip().splitlines() or ["(no output)"])[-1][:400]
        why = f"{step} process exited with status {code}" + (f", {limit}" if limit else "")
        return SandboxResult(False, why=f"{why}: {last}", seconds=seconds)
    return SandboxResult(bool(reply.get("ok")), reply, str(reply.get("why", "")), seconds)


# --- the child side -----------------------------------------------------------------------
def _record(directory: Path) -> dict:
    return json.loads((directory / "candidate.json").read_text())


def compile_step(directory: Path) -> dict:
    """Strict-MSL compile for the simulator (conformance, -Wall -Werror, the launcher)."""
    from torch_metalgen import sim

    record = _record(directory)
    source = directory / f"{record['op']}.metal"
    try:
        library = sim.compile_library(source, include_dirs=(sim.metal_source_dir(),))
    except sim.SimulatorError as error:
        return {"ok": False, "why": f"{type(error).__name__}: {str(error)[:6000]}"}
    return {"ok": True, "kernels": sorted(library.kernels)}


def profile_step(directory: Path) -> dict:
    """Runs the candidate once per check shape (float32) and counts its memory traffic
    against the problem's compulsory bytes: feedback for proposers, not a verdict."""
    import torch

    from generator.search.kernel_mode import candidate_base
    from torch_metalgen import sim
    from torch_metalgen.problems import load_problem

    record = _record(directory)
    problem = load_problem(record["problem"])
    params_index = _spec(record["op"]).params_index  # the setBytes struct is not traffic
    model_class = candidate_base(str(directory / "model_new.py"))
    rows = []
    for shape in problem.shapes(("check",)):
        init = problem.init_inputs(shape, 0)
        model = model_class(*init).eval()
        inputs = problem.inputs(shape, 1)
        with sim.record_launches() as launches, torch.no_grad():
            outputs = model(*inputs)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        params = list(model.parameters()) + list(model.buffers())
        with problem.at_shape(shape):
            compulsory = problem.compulsory_bytes(inputs, list(outputs), params)
        moved = sum(
            t.read + t.written
            for r in launches
            for index, t in r.traffic.items()
            if index != params_index
        )
        rows.append(
            {
                "shape": shape.name,
                "kernels": [r.kernel for r in launches],
                "bytes_moved": int(moved),
                "compulsory_bytes": int(compulsory),
            }
        )
    return {"ok": True, "traffic": rows}


def _spec(op: str):
    import importlib

    return importlib.import_module(f"generator.specs.{op}").SPEC


STEPS = {"compile": compile_step, "profile": profile_step}


def main(argv: list[str]) -> int:
    step, directory = argv[0], Path(argv[1])
    try:
        reply = STEPS[step](directory)
    except Exception as error:  # reported, with its kind; the parent decides
        reply = {"ok": False, "why": f"{type(error).__name__}: {str(error)[:2000]}"}
    print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
