"""Run an untrusted candidate in its own process, apart from the references and the checks.

A candidate file (``ModelNew``) is arbitrary Python. Run in the verifier's process it could
replace the check function, rewrite the reference ``Model.forward`` it finds on the stack, or
read the reference's outputs. So the verifier never imports it: ``CandidateWorker`` starts
``python -m torch_metalgen.verify.worker`` once per (problem, candidate), and that process
loads the problem file and the candidate, builds the candidate for each shape and dtype, runs
the candidate's half of each case (``candidate_side.run_candidate_twice``) and the timed loop
of bench, and sends back only tensors and plain values.

Wire format: each message is an 8-byte little-endian length and a ``torch.save`` payload.
Requests (verifier -> worker) are trusted. Replies are not: the verifier reads them with
``torch.load(weights_only=True)`` (tensors, numbers, strings, lists, dicts; no code), under a
deadline and a size cap, and judges only the tensors in them. A reply that is missing, late,
malformed or from a dead worker fails the case; it can never make one pass. The worker moves
its protocol streams off fds 0/1 before importing the candidate, so the candidate's prints go
to stderr (kept in a file, its tail quoted when the worker dies).
"""

from __future__ import annotations

import io
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import torch_metalgen
from torch_metalgen.problems import Candidate, Problem, Shape, file_candidate, load_problem
from torch_metalgen.verify.limits import ResourceLimits, kill_group, why_it_ended

MAX_REPLY_BYTES = 1 << 36  # a reply claiming more is malformed
START_TIMEOUT_S = 300.0  # importing torch on a loaded 2-core machine can take a while


class WorkerError(RuntimeError):
    """The worker died, timed out, or sent something that is not a well-formed reply."""


def _encode(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getvalue()
    return len(data).to_bytes(8, "little") + data


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while got < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise TimeoutError
            chunk = os.read(fd, min(n - got, 1 << 24))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
    finally:
        selector.close()
    return b"".join(chunks)


def _read_message(fd: int, deadline: float | None, trusted: bool) -> Any:
    size = int.from_bytes(_read_exactly(fd, 8, deadline), "little")
    if size > MAX_REPLY_BYTES:
        raise WorkerError(f"reply of {size} bytes is over the cap of {MAX_REPLY_BYTES}")
    payload = _read_exactly(fd, size, deadline)
    return torch.load(io.BytesIO(payload), weights_only=not trusted)


def _cpu(tensors: list) -> list:
    return [t.detach().cpu().clone() if isinstance(t, torch.Tensor) else t for t in tensors]


def shape_message(shape: Shape) -> dict:
    return {"name": shape.name, "overrides": dict(shape.overrides), "kind": shape.kind}


class CandidateWorker:
    """The verifier's handle on one worker process for ``candidate`` on ``problem``."""

    def __init__(
        self,
        problem: Problem,
        candidate: Candidate,
        device: torch.device,
        limits: ResourceLimits | None = None,
    ) -> None:
        if candidate.source is None:
            raise ValueError(f"candidate {candidate.name} has no source file to run apart")
        self.problem, self.candidate, self.device = problem, candidate, device
        self.limits = limits  # CPU, memory and file-size limits of the worker (and children)
        self.process: subprocess.Popen | None = None
        self.stderr = None
        self.starting = False
        self.notes: list[str] = []

    # --- process lifetime ---------------------------------------------------------------
    def start(self, wait: bool = True) -> None:
        """Start the process and load the problem and candidate there; WorkerError if the
        candidate cannot be loaded (the message says why). ``wait=False`` returns at once
        (the process imports torch meanwhile); the next reply read checks the start."""
        self.close()
        self.stderr = tempfile.TemporaryFile()
        package_root = str(Path(torch_metalgen.__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "torch_metalgen.verify.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            preexec_fn=self.limits.apply if self.limits else None,
            start_new_session=self.limits is not None,
        )
        path, class_name = self.candidate.source
        self.send(
            {
                "op": "start",
                "problem": str(self.problem.path),
                "overrides": dict(self.problem.overrides),
                "candidate": [path, class_name],
                "device": str(self.device),
            }
        )
        self.starting = True
        if wait:
            self._check_started()

    def _check_started(self) -> None:
        if not self.starting:
            return
        self.starting = False
        reply = self.receive(START_TIMEOUT_S)
        if reply.get("error"):
            kind, text = (list(reply["error"]) + ["Error", ""])[:2]
            self.close()
            raise WorkerError(f"the candidate could not be loaded: {kind}: {text}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        self.starting = False
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            if process.poll() is None:
                process.stdin.write(_encode({"op": "exit"}))
                process.stdin.flush()
                process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
        if process.poll() is None:
            process.kill()
            process.wait()
        if self.limits is not None:  # whatever the candidate forked goes too
            kill_group(process.pid)
        for stream in (process.stdin, process.stdout):
            stream.close()

    def __enter__(self) -> CandidateWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None

    # --- requests -----------------------------------------------------------------------
    def send(self, message: dict) -> None:
        if not self.alive and message.get("op") != "start":
            self.start()
        try:
            self.process.stdin.write(_encode(message))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise self._died(f"could not send a request ({error})") from None

    def receive(self, timeout: float) -> dict:
        """The next reply as a dict; WorkerError (the worker is then stopped) if none comes
        within ``timeout`` seconds or it is malformed."""
        self._check_started()
        try:
            reply = _read_message(
                self.process.stdout.fileno(), time.monotonic() + timeout, trusted=False
            )
        except TimeoutError:
            raise self._died(f"no reply within {timeout:g} s (hung or too slow)") from None
        except EOFError:
            raise self._died("the worker process exited") from None
        except Exception as error:  # an unpicklable or forged payload
            raise self._died(f"malformed reply ({type(error).__name__}: {error})") from None
        if not isinstance(reply, dict):
            raise self._died(f"malformed reply (a {type(reply).__name__}, not a dict)")
        for note in reply.get("notes") or []:
            if isinstance(note, str) and note not in self.notes:
                self.notes.append(note)
        return reply

    def request(self, message: dict, timeout: float) -> dict:
        self.send(message)
        return self.receive(timeout)

    def _died(self, why: str) -> WorkerError:
        tail = ""
        if self.stderr is not None:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 600))
            lines = self.stderr.read().decode(errors="replace").strip().splitlines()
            tail = f"; its stderr ends: {lines[-1][:300]}" if lines else ""
        code = self.process.poll() if self.process is not None else None
        self.close()
        status = f" (exit status {code})" if code is not None else ""
        limit = why_it_ended(code, self.limits) if code is not None else ""
        status += f": {limit}" if limit else ""
        return WorkerError(f"candidate worker{status}: {why}{tail}")


# --- the worker process -----------------------------------------------------------------
class _Served:
    """State of the worker process: the problem, the candidate and the model last built."""

    def __init__(self, message: dict) -> None:
        self.device = torch.device(message["device"])
        self.problem = load_problem(message["problem"], message["overrides"])
        self.candidate = file_candidate(*message["candidate"])
        self.key: tuple | None = None
        self.built = None

    def model(self, message: dict):
        from torch_metalgen.problems.problem import parse_dtype
        from torch_metalgen.verify.runner import randomize_constant_parameters

        shape = Shape(message["shape"]["name"], message["shape"]["overrides"], "check")
        dtype = parse_dtype(message["dtype"])
        key = (shape.name, tuple(sorted(shape.overrides.items())), dtype, message["seed"])
        if key != self.key:
            self.built = None
            seed = message["seed"]
            init = self.problem.init_inputs(shape, seed)
            reference = self.problem.new_model(init, seed)
            if message.get("randomize_weights", True):
                randomize_constant_parameters(reference, seed)
            built = self.candidate.build(self.problem, reference, init, seed)
            if isinstance(built, torch.nn.Module):
                built = built.to(self.device, dtype).eval()
            self.built, self.key = built, key
        return self.built

    def inputs(self, tensors: list) -> list:
        return [t.to(self.device) if isinstance(t, torch.Tensor) else t for t in tensors]

    def case(self, message: dict) -> dict:
        from torch_metalgen.verify.candidate_side import CandidateChecks, run_candidate_twice

        built = self.model(message)
        snap_a, snap_b = run_candidate_twice(
            built,
            self.inputs(message["inputs"]),
            self.device,
            CandidateChecks(**message["checks"]),
            self.candidate.context,
            self.candidate.dispatch_poison,
        )
        return {"a": _cpu(snap_a), "b": _cpu(snap_b)}

    def time(self, message: dict) -> dict:
        from torch_metalgen.bench.timing import time_function
        from torch_metalgen.verify.candidate_side import as_tensors

        built = self.model(message)
        sets = [self.inputs(s) for s in message["sets"]]
        timing = time_function(
            built,
            sets,
            self.device,
            message["flush_bytes"],
            message["warmup"],
            message["min_samples"],
            max_seconds=message["max_seconds"],
            which=message["which"],
            memo_probe=True,
        )
        kept = sorted(timing.outputs)[: message["recheck_sets"]]
        return {
            "samples_ms": list(timing.samples_ms),
            "input_sets": timing.input_sets,
            "flushed": timing.flushed,
            "repeat_ms": timing.repeat_ms,
            "probe_fresh_ms": timing.probe_fresh_ms,
            "epochs": {i: timing.epochs[i] for i in kept},
            "outputs": {i: _cpu(as_tensors(timing.outputs[i])) for i in kept},
        }


def _handle(served: _Served | None, message: dict) -> tuple[_Served | None, dict]:
    from torch_metalgen.verify.candidate_side import Rejected
    from torch_metalgen.verify.device import strict_float32

    try:
        if message["op"] == "start":
            served = _Served(message)
            served.candidate.preload()  # import errors are reported now, not at a case
            from torch_metalgen.verify.device import PoisonEmpty

            with PoisonEmpty(0.0):  # its first use imports torch._dynamo (seconds): now
                torch.empty(1)
            return served, {"ok": True}
        with strict_float32(), torch.no_grad():
            reply = served.case(message) if message["op"] == "case" else served.time(message)
        reply["notes"] = list(served.candidate.notes)
        return served, reply
    except Rejected as rejection:
        return served, {"rejected": [rejection.rule, rejection.reason, rejection.status]}
    except Exception as error:
        text = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        return served, {"error": [type(error).__name__, text]}


def serve() -> None:
    """The worker's loop: requests on (a copy of) stdin, replies on (a copy of) stdout."""
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the candidate's prints go to stderr, never into the protocol
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    sys.stdout = sys.stderr
    served = None
    while True:
        try:
            message = _read_message(requests.fileno(), None, trusted=True)
        except EOFError:
            return
        if message.get("op") == "exit":
            return
        served, reply = _handle(served, message)
        replies.write(_encode(reply))
        replies.flush()


if __name__ == "__main__":
    serve()
