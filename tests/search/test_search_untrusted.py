"""Language-model "Metal" is compiled as C++ for the simulator: untrusted code on the host.
Each hostile candidate here is rejected before clang sees it, or contained by the limited
processes it runs in, and reported with the reason; none passes and none harms the run."""

from __future__ import annotations

import os
import sys
import time

import pytest

from generator.search.candidate import RunStore
from generator.search.evaluate import evaluate
from generator.search.sandbox import run_limited
from generator.search.screen import screen
from tests.search.search_helpers import (
    PROBLEM,
    SHIPPED,
    failed_at,
    quick_settings,
    saved,
    stage,
)
from torch_metalgen.verify.limits import GIB, ResourceLimits

pytest.importorskip("torch_metalgen.sim")


def _with(before: str, after: str) -> str:
    assert before in SHIPPED
    return SHIPPED.replace(before, after, 1)


PROLOGUE = "using metalgen::SIMD_SIZE;"
FIRST_RETURN = "  if (row >= params.rows) {"

REJECTED_BEFORE_COMPILING = {
    # reads a host file: the preprocessor would quote it in its errors (fed back to the LM)
    "reads_a_file": _with(PROLOGUE, PROLOGUE + '\n#include "/etc/passwd"'),
    "hides_a_directive_after_a_comment": _with(
        PROLOGUE, PROLOGUE + '\n/* */ #include "/etc/hostname"'
    ),
    # runs code when the simulator loads the compiled library
    "load_time_constructor": _with(
        PROLOGUE, PROLOGUE + "\n__attribute__((constructor)) static void grab() {}"
    ),
    "gnu_attribute": _with(PROLOGUE, PROLOGUE + "\n[[gnu::constructor]] void grab2() {}"),
    "extern_fork": _with(PROLOGUE, PROLOGUE + '\nextern "C" int fork(void);'),
    "inline_assembly": _with(FIRST_RETURN, '  asm volatile("syscall");\n' + FIRST_RETURN),
    "token_pasting": _with(PROLOGUE, PROLOGUE + "\n#define GLUE(a, b) a##b"),
    "pragma_silencing_errors": _with(
        PROLOGUE, PROLOGUE + '\n#pragma clang diagnostic ignored "-Wall"'
    ),
}


@pytest.mark.parametrize("name", sorted(REJECTED_BEFORE_COMPILING))
def test_screen_rejects_before_clang(name):
    assert screen(REJECTED_BEFORE_COMPILING[name]), name


def test_screen_accepts_every_shipped_kernel():
    for path in sorted((PROBLEM.parents[4] / "metal").glob("*.metal")):
        assert screen(path.read_text()) == [], path


def test_rejected_candidates_fail_at_the_contract_stage_without_compiling(tmp_path):
    store = RunStore(tmp_path)
    for name in ("reads_a_file", "load_time_constructor", "extern_fork"):
        result = evaluate(
            str(saved(store, REJECTED_BEFORE_COMPILING[name], name)), quick_settings()
        )
        assert failed_at(result) == "contract" and [s["stage"] for s in result["stages"]] == [
            "contract"
        ]
        assert "passwd" not in stage(result, "contract")["reason"].replace("/etc/passwd", "")


def test_a_host_call_the_screen_lets_through_fails_strict_msl(tmp_path):
    # Declared without extern: the text screen passes it; the AST conformance check of the
    # (limited) compile step finds a function defined nowhere.
    metal = _with(PROLOGUE, PROLOGUE + "\nint fork();")
    metal = metal.replace(
        FIRST_RETURN, "  if (row == 12345678) {\n    fork();\n  }\n" + FIRST_RETURN
    )
    result = evaluate(str(saved(RunStore(tmp_path), metal)), quick_settings())
    assert failed_at(result) == "compile"
    assert (
        "'fork'" in stage(result, "compile")["reason"]
        and "defined nowhere" in stage(result, "compile")["reason"]
    )


def test_huge_stack_arrays_are_a_resource_error(tmp_path):
    metal = _with(
        "  float sum_squares = 0.0f;\n  for (uint i = simd_lane * N_READS;",
        "  float big[1 << 22];\n  big[simd_lane] = 1.0f;\n"
        "  float sum_squares = big[simd_lane ^ 1] * 0.0f;\n  for (uint i = simd_lane * N_READS;",
    )
    result = evaluate(str(saved(RunStore(tmp_path), metal)), quick_settings())
    assert failed_at(result) == "simulator"
    assert "ResourceLimitError" in stage(result, "simulator")["reason"]


def test_a_huge_constant_table_dies_in_the_limited_compile(tmp_path):
    metal = _with(PROLOGUE, PROLOGUE + "\nconstant float huge_table[1u << 27] = {1.0f};")
    metal = metal.replace(
        "const float inv_rms = precise::rsqrt(simd_sum(sum_squares)",
        "const float inv_rms = huge_table[row] * precise::rsqrt(simd_sum(sum_squares)",
        1,
    )
    settings = quick_settings(memory_gib=2.0)
    start = time.monotonic()
    result = evaluate(str(saved(RunStore(tmp_path), metal)), settings)
    assert failed_at(result) == "compile", result
    assert time.monotonic() - start < 240


def test_an_endless_kernel_is_stopped_and_its_worker_killed(tmp_path):
    # A volatile store each turn: C++ compilers may delete an endless loop without side
    # effects (forward progress), which would hide the hang.
    metal = _with(
        FIRST_RETURN,
        "  volatile uint spins = 0;\n  for (;;) {\n    spins = spins + 1;\n  }\n" + FIRST_RETURN,
    )
    result = evaluate(str(saved(RunStore(tmp_path), metal)), quick_settings(case_timeout=20.0))
    assert failed_at(result) == "simulator"
    reason = stage(result, "simulator")["reason"]
    assert "[worker]" in reason and "no reply within 20 s" in reason


def test_writes_outside_the_buffers_are_caught(tmp_path):
    metal = _with(FIRST_RETURN, "  out[-4096] = T(1.0f);\n" + FIRST_RETURN)
    result = evaluate(str(saved(RunStore(tmp_path), metal)), quick_settings())
    assert failed_at(result) == "simulator"
    assert "OutOfBoundsError" in stage(result, "simulator")["reason"]


# --- the limited process itself, with payloads no screen would let through -----------------
LIMITS = ResourceLimits(cpu_seconds=3, memory_bytes=2 * GIB, file_bytes=1 << 20)


def test_cpu_time_is_limited():
    result = run_limited([sys.executable, "-c", "while True: pass"], LIMITS, timeout=60)
    assert not result.ok and "CPU-time limit" in result.why


def test_memory_is_limited():
    code = "x = bytearray(3 << 30); print('{\"ok\": true}')"
    result = run_limited([sys.executable, "-c", code], LIMITS, timeout=60)
    assert not result.ok and "MemoryError" in result.why


def test_output_is_limited():
    code = "import sys\nwhile True: sys.stdout.write('x' * 65536)"
    result = run_limited([sys.executable, "-c", code], LIMITS, timeout=60)
    # C programs (clang) die of SIGXFSZ; CPython ignores it and gets EFBIG instead.
    assert not result.ok and ("more than" in result.why or "File too large" in result.why)


def test_wall_time_is_limited_and_forked_children_die(tmp_path):
    marker = tmp_path / "child.pid"
    code = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(600)\n"
        f"open({str(marker)!r}, 'w').write(str(pid))\n"
        "time.sleep(600)\n"
    )
    result = run_limited([sys.executable, "-c", code], LIMITS, timeout=5)
    assert not result.ok and "no result within" in result.why
    child = int(marker.read_text())
    time.sleep(0.5)
    try:
        os.kill(child, 0)
        alive = open(f"/proc/{child}/stat").read().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        alive = False
    assert not alive, "the forked child outlived the sandbox"


def test_a_forged_reply_needs_exit_status_zero():
    code = "import sys; print('{\"ok\": true}'); sys.exit(3)"
    result = run_limited([sys.executable, "-c", code], LIMITS, timeout=60)
    assert not result.ok and "status 3" in result.why
