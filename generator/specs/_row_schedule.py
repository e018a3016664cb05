"""The row schedule of the row-wise ops (rms_norm, add_rms_norm, layer_norm, softmax): their
tuning constants and three variants chosen by row length n, written once
(``reference/apple-gpus.md``). The kernel bodies differ per op; what a variant promises
(``requires``) can differ too, so each op passes its own.

- ``simd_rows``: short rows; one SIMD group per row, ROWS_PER_THREADGROUP rows per
  threadgroup, no threadgroup memory or barriers.
- ``single_row``: one threadgroup per row, the row held in registers (N_READS per thread);
  rows up to SINGLE_ROW_MAX = 1024 threads x N_READS.
- ``looped``: any row; LOOPED_THREADS threads stride over it.
"""

from __future__ import annotations

from generator.model import Constant, Variant

TUNING = (
    # Contiguous elements each thread reads per step (MLX's N_READS).
    Constant("N_READS", 4),
    # Longest row the single_row variant keeps in registers: 1024 threads x N_READS.
    Constant("SINGLE_ROW_MAX", 4096),
    # Rows up to this length get one SIMD group each (ggml gives short rows 32 threads),
    # SIMD_ROW_MAX / 32 registers per lane.
    Constant("SIMD_ROW_MAX", 512),
    # SIMD groups (= rows) per threadgroup in the simd_rows variant.
    Constant("ROWS_PER_THREADGROUP", 8),
    # Threads of the looped variant, fewer when the pipeline allows fewer.
    Constant("LOOPED_THREADS", 1024),
)


def variants(*, simd_rows: tuple[str, str], looped: str) -> tuple[Variant, ...]:
    """The three variants. `simd_rows`: (its description, its `requires`: "n <=
    SIMD_ROW_MAX" for a kernel that holds the row in registers, "true" for one that
    loops); `looped`: its description."""
    simd_rows_doc, simd_rows_requires = simd_rows
    return (
        Variant(
            "simd_rows",
            simd_rows_doc,
            when="n <= SIMD_ROW_MAX",
            requires=simd_rows_requires,
            grid="ceil_div(rows, ROWS_PER_THREADGROUP)",
            threadgroup="SIMD_SIZE * ROWS_PER_THREADGROUP",
        ),
        Variant(
            "single_row",
            "one threadgroup per row, the row in registers",
            when="n <= SINGLE_ROW_MAX",
            requires="n <= SINGLE_ROW_MAX",
            grid="rows",
            threadgroup="round_up(std::max<int64_t>(ceil_div(n, N_READS), 1), SIMD_SIZE)",
        ),
        Variant(
            "looped",
            looped,
            when="true",
            requires="true",
            grid="rows",
            threadgroup="std::min<int64_t>(LOOPED_THREADS, max_threads)",
        ),
    )
