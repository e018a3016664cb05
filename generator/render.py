"""Turns op specs into file contents: one Jinja2 environment, contexts computed here.

Logic lives in Python (this module); templates only substitute and loop.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import jinja2

from generator.model import ATEN_SCALAR_TYPE, METAL_TYPE, PARAM_TYPES, OpSpec

TEMPLATES = Path(__file__).parent / "templates"
REGENERATE = "python -m generator"

# Schema argument type -> C++ parameter type.
CPP_ARGUMENT_TYPE = {
    "Tensor": "const at::Tensor&",
    "Tensor?": "const c10::optional<at::Tensor>&",
    "float": "double",
    "int": "int64_t",
    "bool": "bool",
}


def banner(source: str, template: str, comment: str) -> str:
    # Written as "@" + "generated" so this file is not itself marked as generated.
    marker = "@" + "generated"
    return (
        f"{comment} {marker} by {REGENERATE} from {source} (template generator/templates/"
        f"{template}).\n{comment} Do not edit: change the spec or the template, then run "
        f"`{REGENERATE}`."
    )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class OpContext:
    """Everything the templates need about one op, derived from its spec."""

    spec: OpSpec

    @property
    def source(self) -> str:
        return f"generator/specs/{self.spec.name}.py"

    @property
    def signature(self) -> str:
        return ", ".join(f"{CPP_ARGUMENT_TYPE[t]} {n}" for t, n in self.spec.arguments)

    @property
    def argument_names(self) -> str:
        return ", ".join(n for _, n in self.spec.arguments)

    @property
    def contiguous_argument_names(self) -> str:
        return ", ".join(
            f"{n}_contiguous" if t.startswith("Tensor") else n for t, n in self.spec.arguments
        )

    @property
    def tensor_arguments(self) -> list[tuple[str, str]]:
        return [(t, n) for t, n in self.spec.arguments if t.startswith("Tensor")]

    @property
    def tensor_keywords(self) -> str:
        return ", ".join(f"{n}={n}" for _, n in self.tensor_arguments)

    @property
    def python_parameters(self) -> str:
        return ", ".join(n for _, n in self.spec.arguments)

    @property
    def kernel_names(self) -> dict[str, dict[str, str]]:
        table: dict[str, dict[str, str]] = {}
        for variant, dtype, name in self.spec.kernel_names():
            table.setdefault(variant, {})[dtype] = name
        return table

    @property
    def tuning(self) -> dict[str, int]:
        return dict(self.spec.tuning)

    @property
    def reference_source(self) -> str:
        """The spec's torch_reference function, renamed to the op's name."""
        source = textwrap.dedent(inspect.getsource(self.spec.torch_reference)).strip()
        return re.sub(r"^def \w+\(", f"def {self.spec.name}(", source, count=1)

    def kernel_table(self) -> list[list[str]]:
        return [list(row.values()) for row in self.kernel_names.values()]

    def params(self) -> list[dict[str, str]]:
        return [
            {
                "name": p.name,
                "metal_type": PARAM_TYPES[p.type][0],
                "cpp_type": PARAM_TYPES[p.type][1],
                "value": p.value,
            }
            for p in self.spec.params
        ]

    def buffers(self) -> list[dict]:
        bound = []
        for buffer in self.spec.buffers:
            optional = any(t == "Tensor?" and n == buffer.tensor for t, n in self.spec.arguments)
            if optional:
                fallback = buffer.fallback or self.spec.output_like
                binding = f"{buffer.tensor}.has_value() ? *{buffer.tensor} : {fallback}"
            else:
                binding = buffer.tensor
            bound.append({"index": buffer.index, "binding": binding, "output": buffer.output})
        return bound

    def checks(self, early: bool) -> list[str]:
        rendered = []
        for check in self.spec.checks:
            if check.before_sizes != early:
                continue
            macro = "TORCH_CHECK_TYPE" if check.kind == "type" else "TORCH_CHECK_VALUE"
            if check.only_if:
                statement = (
                    f"  if ({check.only_if}) {{\n    {macro}({check.condition},\n"
                    f"        {check.message});\n  }}"
                )
            else:
                statement = f"  {macro}({check.condition},\n      {check.message});"
            rendered.append(statement)
        return rendered


def render_metal(spec: OpSpec) -> str:
    op = OpContext(spec)
    environment = _environment()
    params = op.params()
    struct = "\n".join(
        [f"struct {spec.params_struct} {{"]
        + [f"  {p['metal_type']} {p['name']};" for p in params]
        + ["};"]
    )
    constants = "\n".join(
        f"constant constexpr uint {name} = {value};" for name, value in spec.tuning
    )
    instantiations = "\n".join(
        f'instantiate_kernel("{name}", {spec.name}_{variant}, {METAL_TYPE[dtype]})'
        for variant, dtype, name in spec.kernel_names()
    )
    return environment.get_template(f"{spec.name}.metal.j2").render(
        banner=banner(op.source, f"{spec.name}.metal.j2", "//"),
        spec=spec,
        params_struct=struct,
        tuning_constants=constants,
        instantiations=instantiations,
    )


def render_op_cpp(spec: OpSpec) -> str:
    op = OpContext(spec)
    return (
        _environment()
        .get_template("op.cpp.j2")
        .render(
            banner=banner(op.source, "op.cpp.j2", "//"),
            spec=spec,
            params=op.params(),
            buffers=op.buffers(),
            kernel_table=op.kernel_table(),
            dtypes=[{"name": d, "aten": ATEN_SCALAR_TYPE[d]} for d in spec.dtypes],
            signature=op.signature,
            argument_names=op.argument_names,
            contiguous_argument_names=op.contiguous_argument_names,
            tensor_arguments=op.tensor_arguments,
            early_checks=op.checks(early=True),
            late_checks=op.checks(early=False),
            cpu_reference=spec.cpu_reference,
        )
    )


def render_op_mm(spec: OpSpec) -> str:
    op = OpContext(spec)
    return (
        _environment()
        .get_template("op.mm.j2")
        .render(
            banner=banner(op.source, "op.mm.j2", "//"),
            spec=spec,
            signature=op.signature,
            argument_names=op.argument_names,
        )
    )


def render_shared(template: str, specs: list[OpSpec], comment: str) -> str:
    """A file generated from every spec at once (registration, bindings, registries)."""
    return (
        _environment()
        .get_template(template)
        .render(
            banner=banner("generator/specs/*.py", template, comment),
            ops=[OpContext(spec) for spec in specs],
        )
    )
