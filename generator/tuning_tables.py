"""Tuning tables: ``generator/tuning/<op>.json``, written by the kernel search
(``python -m generator search OP``) and read by ``python -m generator``.

A table has two parts:

- ``shipped``: the configuration the generator emits for the op: its tuning ``constants``
  (they replace the spec's values in the Metal file and the host plan alike) and its
  ``kernel``: ``"template"`` (the op's template, rendered with those constants) or the path,
  relative to the table, of a searched kernel file (a language model's winner, checked
  against the spec's launch interface at generate time). ``selected_by`` says on what
  evidence (timed on which GPU, or correctness only), ``search`` where the log is.
- ``entries``: what the search established per (GPU family, dtype, size bucket): the
  candidate, the variant the plan chose there, its times against the current kernel,
  eager and torch.compile where a GPU timed them (``basis`` "timed-mps"), or
  ``basis`` "correctness-only" (verified in the simulator, not timed). Apple families only:
  CUDA timings are never written here (``generator/tuning/cuda/<op>.json``, a separate
  kind of table nothing reads to emit kernels).

Size buckets: the op's bucket size is the first of its ``sizes`` that a variant's ``when``
condition reads (rms_norm: n, the row length; group_norm: group_size); a bucket is
"<size><=<power of two>", the smallest power of two at or above the value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from generator.model import OpSpec, SpecError, with_constants

TABLE_DIR = Path(__file__).resolve().parent / "tuning"
FORMAT = 1
APPLE_BASES = ("correctness-only", "timed-mps")
CUDA_BASES = ("correctness-only", "timed-cuda")


def table_path(op: str, directory: Path | None = None, kind: str = "apple") -> Path:
    root = Path(directory) if directory is not None else TABLE_DIR
    return root / f"{op}.json" if kind == "apple" else root / "cuda" / f"{op}.json"


def load_table(
    op: str, directory: Path | None = None, kind: str = "apple"
) -> dict[str, Any] | None:
    path = table_path(op, directory, kind)
    if not path.exists():
        return None
    try:
        table = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SpecError(f"{path}: not valid JSON ({error})") from None
    check_table(table, path, kind)
    return table


def check_table(table: dict[str, Any], path: Path, kind: str = "apple") -> None:
    """A table's shape, and that an Apple table holds no CUDA timings (SpecError)."""
    if table.get("format") != FORMAT or not isinstance(table.get("op"), str):
        raise SpecError(f"{path}: expected a tuning table of format {FORMAT} naming its op")
    bases = APPLE_BASES if kind == "apple" else CUDA_BASES
    for entry in table.get("entries", []):
        if entry.get("basis") not in bases:
            raise SpecError(
                f"{path}: entry {entry.get('gpu')}/{entry.get('dtype')}/{entry.get('bucket')} has "
                f"basis {entry.get('basis')!r}; a {kind} table holds only {bases}"
            )
        if kind == "apple" and str(entry.get("gpu", "")).startswith("cuda"):
            raise SpecError(f"{path}: CUDA entry {entry} in an Apple tuning table")


def bucket_size_name(spec: OpSpec) -> str:
    """The size buckets are over: the first size a variant condition reads."""
    names = [name for name, _ in spec.sizes]
    for variant in spec.variants:
        for name in names:
            if re.search(rf"\b{re.escape(name)}\b", variant.when):
                return name
    return names[0]


def bucket_label(spec: OpSpec, value: int) -> str:
    bound = 1
    while bound < value:
        bound *= 2
    return f"{bucket_size_name(spec)}<={bound}"


def tuned_spec(spec: OpSpec, directory: Path | None = None) -> OpSpec:
    """The spec with its table's shipped constants (the spec itself when there is none)."""
    table = load_table(spec.name, directory)
    if not table or "shipped" not in table:
        return spec
    try:
        return with_constants(spec, table["shipped"].get("constants", {}))
    except ValueError as error:  # a constant the spec no longer has, or of the wrong type
        raise SpecError(f"{table_path(spec.name, directory)}: {error}; re-run the search") from None


def shipped_kernel(spec: OpSpec, directory: Path | None = None) -> Path | None:
    """The searched kernel file the table ships instead of the template, or None."""
    table = load_table(spec.name, directory)
    kernel = (table or {}).get("shipped", {}).get("kernel", "template")
    if kernel == "template":
        return None
    return table_path(spec.name, directory).parent / kernel


def render_shipped_metal(spec: OpSpec, directory: Path | None = None) -> str:
    """metal/<op>.metal as the table ships it: the template with the tuned constants, or a
    searched kernel file (banner added; checked against the spec's launch interface)."""
    from generator.render import OpContext, banner, check_buffer_contract, render_metal

    tuned = tuned_spec(spec, directory)
    kernel = shipped_kernel(spec, directory)
    if kernel is None:
        return render_metal(tuned)
    if not kernel.exists():
        raise SpecError(f"{table_path(spec.name, directory)}: shipped kernel {kernel} is missing")
    text = kernel.read_text()
    relative = (
        kernel.relative_to(TABLE_DIR.parent.parent)
        if kernel.is_relative_to(TABLE_DIR.parent.parent)
        else kernel
    )
    source = f"{relative} (searched; generator/tuning/{spec.name}.json)"
    path = f"metal/{spec.name}.metal"
    check_buffer_contract(tuned, text, path)
    struct = OpContext(tuned).metal_params_struct
    if struct not in text:
        raise SpecError(
            f"{kernel}: its params struct is not the spec's current one:\n{struct}\nThe kernel "
            "was searched against an older interface: re-run the search"
        )
    return (
        banner(source, f"{spec.name}.metal.j2", "//").replace(
            f"(template generator/templates/{spec.name}.metal.j2)",
            "(no template: a searched kernel)",
        )
        + "\n"
        + text
    )


def write_table(table: dict[str, Any], directory: Path | None = None, kind: str = "apple") -> Path:
    path = table_path(table["op"], directory, kind)
    check_table(table, path, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n")
    return path
