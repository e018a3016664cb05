"""Runs a launch in a subprocess (the AddressSanitizer build), so that an ASan report
or a crash becomes a Python exception with the report, not a dead test run."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import tempfile
from pathlib import Path

import torch

from .errors import ERROR_BY_KIND, OutOfBoundsError, SimulatorError
from .request import MAX_BINDINGS, ORDERS, LaunchRequest
from .toolchain import symbolizer

# ASan runs are ~2-5x slower than plain ones; a launch still running after this hangs.
ISOLATED_TIMEOUT_S = 900

ASAN_OPTIONS = (
    # Fibers switch stacks: the fake-stack mode for use-after-return would be ~50x slower.
    "detect_stack_use_after_return=0:detect_leaks=0:halt_on_error=1:abort_on_error=0:"
    "symbolize=1:print_summary=1:exitcode=86"
)
ASAN_EXIT = 86


def _span(tensor: torch.Tensor) -> torch.Tensor:
    """The elements from data_ptr() to the tensor's last element, as a kernel addresses
    them (a strided view, read through its strides, spans the gaps between its elements;
    the in-process launch bounds-checks the same extent)."""
    extent = 1 + sum(
        (size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride(), strict=True)
    )
    return tensor.detach().as_strided((extent,), (1,))


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    if tensor.numel() == 0:
        return b""
    return _span(tensor).contiguous().view(torch.uint8).numpy().tobytes()


def _write_back(tensor: torch.Tensor, data: bytes) -> None:
    if tensor.numel() == 0:
        return
    source = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    _span(tensor).view(torch.uint8).copy_(source)


def _summarize(report: str, kernel: str) -> str:
    start = report.find("ERROR: AddressSanitizer")
    body = report[start:] if start >= 0 else report
    kind = re.search(r"AddressSanitizer: ([\w-]+)", body)
    frame = re.search(r"#\d+ 0x[0-9a-f]+ in .*? (\S+\.(?:metal|h|hpp|inc)):(\d+)", body)
    where = f" at {frame.group(1)}:{frame.group(2)}" if frame else ""
    what = kind.group(1) if kind else "memory error"
    lines = body.splitlines()
    return (
        f"kernel '{kernel}': out-of-bounds access ({what}){where}, found by AddressSanitizer. "
        "Check the index arithmetic and the bounds test against the buffer's length.\n"
        + "\n".join(lines[:60])
    )


def _request_bytes(request: LaunchRequest, order: str) -> tuple[bytes, list[int]]:
    """The request file asan_driver.cpp reads, and the buffer indices in its order."""
    ordered = [(index, _tensor_bytes(t)) for index, t in sorted(request.buffers.items())]
    ordered += [(index, bytes(data)) for index, data in sorted(request.bytes_args.items())]
    name = request.kernel.encode()
    parts = [
        b"MSIMREQ1",
        struct.pack("<I", len(name)),
        name,
        struct.pack(
            "<3I3IiiQi",
            *request.grid,
            *request.threadgroup,
            int(request.dispatch_threadgroups),
            ORDERS[order],
            request.seed,
            int(request.poison_inactive),
        ),
        struct.pack(f"<{MAX_BINDINGS}I", *request.threadgroup_lengths()),
        struct.pack("<I", len(ordered)),
    ]
    for index, data in ordered:
        parts += [struct.pack("<IQ", index, len(data)), data]
    return b"".join(parts), [index for index, _ in ordered]


def launch_in_subprocess(executable: Path, request: LaunchRequest, order: str) -> None:
    """Runs one launch in the ASan executable and copies the buffers back into the
    request's tensors (setBytes copies are not copied back)."""
    kernel = request.kernel
    payload, indices = _request_bytes(request, order)
    with tempfile.TemporaryDirectory(prefix="metalsim-asan-") as tmp:
        request_file, response = Path(tmp) / "request", Path(tmp) / "response"
        request_file.write_bytes(payload)
        env = dict(os.environ, ASAN_OPTIONS=ASAN_OPTIONS)
        if symbolizer():
            env["ASAN_SYMBOLIZER_PATH"] = symbolizer()
        try:
            run = subprocess.run(
                [str(executable), str(request_file), str(response)],
                capture_output=True,
                text=True,
                env=env,
                timeout=ISOLATED_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            # A hang (e.g. a spin on device memory no other threadgroup will write) is a
            # report too, not a stuck test run.
            raise SimulatorError(
                f"kernel '{kernel}': the AddressSanitizer run did not finish within "
                f"{ISOLATED_TIMEOUT_S} s; look for a loop that waits on another threadgroup, "
                "or launch a smaller grid"
            ) from error
        if "ERROR: AddressSanitizer" in run.stderr or run.returncode == ASAN_EXIT:
            raise OutOfBoundsError(_summarize(run.stderr, kernel))
        if run.returncode != 0 or not response.exists():
            raise SimulatorError(
                f"kernel '{kernel}': the isolated run exited with status {run.returncode} "
                f"(signal {-run.returncode} if negative):\n{run.stderr[-4000:]}"
            )
        data = response.read_bytes()
    kind, length = struct.unpack_from("<iI", data, 0)
    offset = 8
    message = data[offset : offset + length].decode(errors="replace")
    offset += length
    for index in indices:
        (size,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        if index in request.buffers:
            _write_back(request.buffers[index], data[offset : offset + size])
        offset += size
    if kind:
        raise ERROR_BY_KIND.get(kind, SimulatorError)(message)
