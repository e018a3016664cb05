"""Launch preferences at run time: which kernel variant, under how many threads per
threadgroup, an op should use for a dtype and size bucket on this GPU.

The generated C++ plans (``plan_<op>``) pick a variant by the spec's ``when`` conditions;
a preference installed here (``csrc/tuning.h``) overrides that choice where the variant is
correct for the input (its ``requires`` holds) and fits the thread limit, and is ignored
otherwise, so a stale table can cost speed, never correctness. ``python -m torch_metalgen
tune`` times every variant x thread limit on this Mac's GPU and writes the user's table,
``~/.cache/torch_metalgen/tuning/<gpu family>.json`` (``METALGEN_TUNING_DIR``), which
``install()`` loads when ``torch_metalgen`` is imported on a machine with MPS.

Size buckets: the op's bucket size (the registry's ``bucket_size``, the first size a
variant condition reads: rms_norm's row length ``n``) rounded up to a power of two.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from torch_metalgen import _ops
from torch_metalgen._generated.registry import OPS
from torch_metalgen.spec_expressions import SIMD_SIZE, evaluate, schema_values

FORMAT = 1


def tuning_dir() -> Path:
    return Path(
        os.environ.get("METALGEN_TUNING_DIR")
        or Path.home() / ".cache" / "torch_metalgen" / "tuning"
    )


def gpu_family(device: str = "mps") -> str | None:
    """'apple-m2-pro' on a Mac with MPS, None elsewhere."""
    if device != "mps" or not torch.backends.mps.is_available():
        return None
    from torch_metalgen.bench.speed_of_light import apple_chip_name

    name = apple_chip_name() or "unknown"
    return "apple-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def bucket_of(op: str, arguments: tuple) -> int:
    """The size bucket the plan of ``op`` looks its preference up in, for these arguments
    (schema order; trailing ones may be left to their defaults)."""
    entry = OPS[op]
    names: dict[str, Any] = dict(entry["tuning"])
    names["SIMD_SIZE"] = SIMD_SIZE
    names.update(schema_values(entry["schema"], arguments))
    for name, expression in entry["sizes"]:
        names[name] = int(evaluate(expression, names))
    return int(_ops._C.size_bucket(names[entry["bucket_size"]]))


def prefer(op: str, dtype: torch.dtype, bucket: int, variant: str, max_threads: int = 1024):
    """Install one preference (``bucket``: a power of two, see ``bucket_of``)."""
    if op not in OPS or variant not in OPS[op]["variants"]:
        raise ValueError(
            f"prefer: {op!r}/{variant!r} is not an op and one of its variants "
            f"({ {k: v['variants'] for k, v in OPS.items()} })"
        )
    _ops._C.set_launch_preference(op, dtype, int(bucket), variant, int(max_threads))


def clear() -> None:
    _ops._C.clear_launch_preferences()


def preferences() -> list[tuple]:
    return list(_ops._C.launch_preferences())


def table_path(family: str) -> Path:
    return tuning_dir() / f"{family}.json"


def write_table(family: str, entries: list[dict[str, Any]], dev: bool = False) -> Path:
    path = table_path(family)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = {"format": FORMAT, "gpu": family, "dev_run": dev, "entries": entries}
    path.write_text(json.dumps(table, indent=1) + "\n")
    return path


def install(family: str | None = None) -> list[dict[str, Any]]:
    """Clear, then install the user's table for ``family`` (default: this GPU). Tables of
    another GPU, and dev-run tables (``tune --cpu-dev``), are never installed."""
    clear()
    if family is None and not any(tuning_dir().glob("*.json")):
        return []  # no table written on this machine: no need to ask the chip's name
    family = family or gpu_family()
    if family is None:
        return []
    path = table_path(family)
    if not path.exists():
        return []
    table = json.loads(path.read_text())
    if table.get("format") != FORMAT or table.get("gpu") != family or table.get("dev_run"):
        return []
    installed = []
    for entry in table.get("entries", []):
        dtype = getattr(torch, entry["dtype"])
        prefer(entry["op"], dtype, entry["bucket"], entry["variant"], entry["max_threads"])
        installed.append(entry)
    return installed
