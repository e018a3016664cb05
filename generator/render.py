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

    @property
    def kernel_table(self) -> list[list[str]]:
        """kKernels[variant][dtype] rows for the host."""
        return [list(row.values()) for row in self.kernel_names.values()]

    @property
    def dtypes(self) -> list[dict[str, str]]:
        return [{"name": d, "aten": ATEN_SCALAR_TYPE[d]} for d in self.spec.dtypes]

    @property
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

    @property
    def buffers(self) -> list[dict]:
        """Buffer bindings as C++ expressions; absent optionals bind their fallback."""
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

    @property
    def early_checks(self) -> list[str]:
        return self._checks(early=True)

    @property
    def late_checks(self) -> list[str]:
        return self._checks(early=False)

    def _checks(self, early: bool) -> list[str]:
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

    # The pieces the op's Metal template is filled with.
    @property
    def metal_params_struct(self) -> str:
        fields = [f"  {p['metal_type']} {p['name']};" for p in self.params]
        return "\n".join([f"struct {self.spec.params_struct} {{", *fields, "};"])

    @property
    def metal_tuning_constants(self) -> str:
        return "\n".join(
            f"constant constexpr uint {name} = {value};" for name, value in self.spec.tuning
        )

    @property
    def metal_instantiations(self) -> str:
        return "\n".join(
            f'instantiate_kernel("{name}", {self.spec.name}_{variant}, {METAL_TYPE[dtype]})'
            for variant, dtype, name in self.spec.kernel_names()
        )


def render_op(template: str, spec: OpSpec) -> str:
    """A file generated from one spec (its kernel, plan, MPS impl)."""
    op = OpContext(spec)
    return (
        _environment()
        .get_template(template)
        .render(banner=banner(op.source, template, "//"), spec=spec, op=op)
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
