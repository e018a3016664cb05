"""Resource limits for processes that run untrusted code (a candidate's worker, a kernel
search's compile of language-model "Metal", which the simulator builds as C++).

``ResourceLimits.apply`` is a ``preexec_fn``: the limits are set in the child before it
execs, so the code it runs cannot skip them, and everything it starts (clang, threads)
inherits them. CPU time (``RLIMIT_CPU``: SIGXCPU, then SIGKILL), address space
(``RLIMIT_AS``: allocations fail), the size of any file it writes, its stderr included
(``RLIMIT_FSIZE``: SIGXFSZ), no core dumps. The child also starts its own session, so
``kill_group`` ends whatever it forked. Not a sandbox: files and network stay reachable
with the user's rights; the search screens candidate text before compiling for that
(``generator/search/screen.py``).
"""

from __future__ import annotations

import os
import resource
import signal
from dataclasses import dataclass

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class ResourceLimits:
    cpu_seconds: int = 300
    memory_bytes: int = 8 * GIB  # address space: torch + the simulator's stacks use ~1 GiB
    file_bytes: int = 256 * MIB  # any one file written (outputs, compiled kernels, logs)

    def apply(self) -> None:
        """Set the limits on the calling process (use as ``preexec_fn``)."""
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_bytes, self.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def describe(self) -> str:
        return (
            f"{self.cpu_seconds} s CPU, {self.memory_bytes / GIB:g} GiB address space, "
            f"{self.file_bytes / MIB:g} MiB per file written"
        )


def why_it_ended(returncode: int, limits: ResourceLimits | None) -> str:
    """Which limit a child's exit status points at ("" when none)."""
    if returncode == -signal.SIGXCPU:
        return f"killed at its CPU-time limit ({limits.cpu_seconds if limits else '?'} s)"
    if returncode == -signal.SIGXFSZ:
        return f"killed for writing more than {limits.file_bytes if limits else '?'} bytes"
    return ""


def kill_group(pid: int) -> None:
    """SIGKILL the process group of a child started with ``start_new_session=True``: the
    child and anything it forked (unless it left the group itself)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
