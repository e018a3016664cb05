"""Load one problem file (KernelBench format plus optional metadata) into a ``Problem``.

Optional module-level metadata a problem file may define (KernelBench files define none of it,
and get the defaults in brackets):

- ``SHAPES`` / ``CHECK_SHAPES`` / ``HELD_OUT_SHAPES``: ``{name: {global: value}}``. Each shape
  overrides module globals (``batch_size = ...``) that ``get_inputs`` reads, so the file's own
  functions make the tensors. SHAPES are timed; CHECK_SHAPES are small and odd (31, 33, 4097,
  one row) for correctness; HELD_OUT_SHAPES are never used while tuning. [the file's own
  shape ("default", timed), plus two shapes derived from its size globals: "derived-odd"
  (check: each size one or two larger, odd) and "derived-half" (held-out: about half), so a
  kernel hard-coded to the one shape a KernelBench file names cannot pass; see
  ``derived_shapes``]
- ``DTYPES``: storage dtypes the problem runs in. [("float32",)]
- ``RANDOMIZED_INPUTS``: indices of inputs the harness may refill from its distributions
  (masks, indices and positions stay as made). [every floating-point input]
- ``NONFINITE_INPUTS``: True when the op defines its result for inf/NaN inputs. [False]
- ``NEAR_CONSTANT``: the author's claim that outputs are near-constant; checked. [False]
- ``NONDETERMINISTIC``: a reason why bit-for-bit determinism is not expected. [None]
- ``flops(inputs) -> float`` and ``compulsory_bytes(inputs, outputs, params) -> int``.
  [no FLOPs; bytes = every input and parameter read once + every output written once]
- ``METALGEN_OPS`` and ``class ModelMetalgen``: the project ops a problem maps to, and a module
  with Model's constructor signature that calls them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def parse_dtype(name: str) -> torch.dtype:
    """Map 'bf16' / 'bfloat16' / ... to a torch dtype; the error lists the accepted names."""
    try:
        return DTYPES[name.lower()]
    except KeyError:
        raise ValueError(f"dtype {name!r} is not one of {sorted(DTYPES)}") from None


def dtype_argument(text: str) -> str:
    """argparse ``type=`` for a dtype name: a typo is a usage error naming the choices."""
    import argparse

    try:
        parse_dtype(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


@dataclass(frozen=True)
class Shape:
    """One size setting of a problem: module globals to override before making inputs."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    kind: str = "bench"  # "bench" (timed), "check" (small, correctness) or "held-out"
    derived: bool = False  # made by the harness from size globals, not named by the file

    @property
    def held_out(self) -> bool:
        return self.kind == "held-out"


@dataclass
class Problem:
    """A loaded problem file. ``module`` is the file's module; its globals are the shapes."""

    name: str
    path: Path
    module: ModuleType
    level: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # --set, to load it again elsewhere

    # --- metadata with KernelBench-compatible defaults -----------------------------------
    def _meta(self, attr: str, default: Any) -> Any:
        return getattr(self.module, attr, default)

    @property
    def dtypes(self) -> tuple[torch.dtype, ...]:
        return tuple(parse_dtype(d) for d in self._meta("DTYPES", ("float32",)))

    @property
    def randomized_inputs(self) -> tuple[int, ...] | None:
        value = self._meta("RANDOMIZED_INPUTS", None)
        return None if value is None else tuple(value)

    @property
    def nonfinite_inputs(self) -> bool:
        return bool(self._meta("NONFINITE_INPUTS", False))

    @property
    def declared_near_constant(self) -> bool:
        return bool(self._meta("NEAR_CONSTANT", False))

    @property
    def nondeterministic_reason(self) -> str | None:
        return self._meta("NONDETERMINISTIC", None)

    @property
    def metalgen_ops(self) -> tuple[str, ...]:
        return tuple(self._meta("METALGEN_OPS", ()))

    @property
    def metalgen_class(self) -> type | None:
        return self._meta("ModelMetalgen", None)

    def shapes(self, kinds: tuple[str, ...] = ("bench", "check", "held-out")) -> list[Shape]:
        found: list[Shape] = []
        for attr, kind in (
            ("SHAPES", "bench"),
            ("CHECK_SHAPES", "check"),
            ("HELD_OUT_SHAPES", "held-out"),
        ):
            table = self._meta(attr, None) or {}
            if kind in kinds:
                found += [Shape(name, dict(over), kind) for name, over in table.items()]
        if not any(self._meta(a, None) for a in ("SHAPES", "CHECK_SHAPES", "HELD_OUT_SHAPES")):
            if "bench" in kinds or "check" in kinds:
                found.append(Shape("default", {}, "bench"))
            found += [s for s in self.derived_shapes() if s.kind in kinds]
        return found

    def size_globals(self) -> dict[str, Any]:
        """Module globals that ``get_inputs`` reads and that hold a size: an int >= 2, or a
        tuple of ints with one >= 2 (``input_shape = (4096,)``). Flags and axes (``dim = 1``)
        are below 2 and left alone."""
        names: set[str] = set()
        stack = [self.module.get_inputs.__code__]
        while stack:  # the function and any code nested in it (comprehensions, lambdas)
            code = stack.pop()
            names.update(code.co_names)
            stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        found = {}
        for name in sorted(names):
            value = getattr(self.module, name, None)
            if _is_size(value) or (
                isinstance(value, tuple)
                and value
                and all(_is_int(v) for v in value)
                and any(_is_size(v) for v in value)
            ):
                found[name] = value
        return found

    def derived_shapes(self) -> list[Shape]:
        """For files without shape tables: "derived-odd" (check; every size global one or
        two larger and odd: 16 -> 17, 4096 -> 4097, 4097 -> 4099) and "derived-half"
        (held-out; about half: 4096 -> 2049). Applied to equal values alike, so globals that
        must agree (``num_classes`` and ``input_shape = (num_classes,)``) still agree."""
        sizes = self.size_globals()
        if not sizes:
            return []
        return [
            Shape(
                "derived-odd",
                _map_sizes(sizes, lambda v: v + 1 if v % 2 == 0 else v + 2),
                "check",
                derived=True,
            ),
            Shape(
                "derived-half", _map_sizes(sizes, lambda v: v // 2 + 1), "held-out", derived=True
            ),
        ]

    # --- making models and inputs ---------------------------------------------------------
    @contextlib.contextmanager
    def at_shape(self, shape: Shape | None) -> Iterator[None]:
        """Set the shape's module globals for the duration; restore them after."""
        overrides = shape.overrides if shape else {}
        missing = [k for k in overrides if not hasattr(self.module, k)]
        if missing:
            raise ValueError(
                f"shape {shape.name!r} of {self.path} sets {missing}, which the file does not "
                "define as module globals; fix the SHAPES table or the --set argument"
            )
        saved = {k: getattr(self.module, k) for k in overrides}
        try:
            for key, value in overrides.items():
                setattr(self.module, key, value)
            yield
        finally:
            for key, value in saved.items():
                setattr(self.module, key, value)

    def init_inputs(self, shape: Shape | None, seed: int) -> list[Any]:
        with self.at_shape(shape):
            torch.manual_seed(seed)
            return list(self.module.get_init_inputs())

    def inputs(self, shape: Shape | None, seed: int) -> list[Any]:
        with self.at_shape(shape):
            torch.manual_seed(seed)
            return list(self.module.get_inputs())

    def new_model(self, init_inputs: list[Any], seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return self.module.Model(*init_inputs)

    def flops(self, inputs: list[Any]) -> float | None:
        fn = self._meta("flops", None)
        return None if fn is None else float(fn(inputs))

    def compulsory_bytes(
        self, inputs: list[Any], outputs: list[torch.Tensor], params: list[torch.Tensor]
    ) -> int:
        fn = self._meta("compulsory_bytes", None)
        if fn is not None:
            return int(fn(inputs, outputs, params))
        tensors = [t for t in (*inputs, *outputs, *params) if isinstance(t, torch.Tensor)]
        return sum(t.numel() * t.element_size() for t in tensors)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_size(value: Any) -> bool:
    return _is_int(value) and value >= 2


def _map_sizes(sizes: dict[str, Any], change) -> dict[str, Any]:
    def one(v: int) -> int:
        return change(v) if _is_size(v) else v

    return {
        k: tuple(one(x) for x in v) if isinstance(v, tuple) else one(v) for k, v in sizes.items()
    }


def load_module(path: Path, prefix: str = "metalgen_problem") -> ModuleType:
    """Import a Python file under a unique module name (so two problems never collide)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"problem or candidate file {path} does not exist")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location(f"{prefix}_{path.stem}_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_problem(path: str | Path, overrides: dict[str, Any] | None = None) -> Problem:
    """Load a problem file; ``overrides`` (from --set) replace module globals permanently."""
    path = Path(path)
    module = load_module(path)
    for required in ("Model", "get_inputs", "get_init_inputs"):
        if not hasattr(module, required):
            raise ValueError(
                f"{path} defines no {required!r}: a problem needs Model, "
                "get_inputs and get_init_inputs (KernelBench format)"
            )
    for key, value in (overrides or {}).items():
        if not hasattr(module, key):
            raise ValueError(f"--set {key}=...: {path} has no module global {key!r}")
        setattr(module, key, value)
    level = None
    for part in path.resolve().parts:
        if part.startswith("level") and part[5:].isdigit():
            level = int(part[5:])
    return Problem(
        name=path.stem, path=path, module=module, level=level, overrides=dict(overrides or {})
    )
