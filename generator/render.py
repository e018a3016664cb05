"""Turns op specs into file contents: one Jinja2 environment, contexts computed here.

Logic lives in Python (this module); templates only substitute and loop. The Metal file of
an op is rendered, then checked against the spec (every variant's kernel exists, every
``[[buffer(n)]]`` parameter is the tensor the spec binds at n), and gets only the constants
its text uses.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import jinja2

from generator.model import (
    ATEN_SCALAR_TYPE,
    CONSTANT_TYPES,
    METAL_TYPE,
    PARAM_TYPES,
    Buffer,
    Launch,
    OpSpec,
    SpecError,
    _dims,
)

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
# Schema argument type -> Python annotation and isinstance test for the functional wrapper.
PYTHON_ARGUMENT = {
    "Tensor": ("torch.Tensor", "isinstance({n}, torch.Tensor)", "a torch.Tensor"),
    "Tensor?": (
        "torch.Tensor | None",
        "{n} is None or isinstance({n}, torch.Tensor)",
        "a torch.Tensor or None",
    ),
    "float": (
        "float",
        "isinstance({n}, (int, float)) and not isinstance({n}, bool)",
        "a float",
    ),
    "int": ("int", "isinstance({n}, int) and not isinstance({n}, bool)", "an int"),
    "bool": ("bool", "isinstance({n}, bool)", "a bool"),
}
# Schema default literal -> Python literal.
PYTHON_DEFAULT = {"None": "None", "True": "True", "False": "False"}

_CONSTANTS_SLOT = "@@METALGEN_CONSTANTS@@"


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


def _metal_literal(value: int | float | bool, type_name: str) -> str:
    if type_name == "bool":
        return "true" if value else "false"
    if type_name == "float":
        return f"{float(value)!r}f"
    return str(int(value))


def _cpp_literal(value: int | float | bool, type_name: str) -> str:
    if type_name == "bool":
        return "true" if value else "false"
    if type_name == "float":
        return repr(float(value))
    return str(int(value))


def _padded(value: str | tuple[str, ...]) -> list[str]:
    dims = list(_dims(value))
    return dims + ["1"] * (3 - len(dims))


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
        """The arguments with the schema's defaults (the dispatcher passes only those given)."""
        defaults = self.spec.defaults
        return ", ".join(
            f"{n}={PYTHON_DEFAULT.get(defaults[n], defaults[n])}" if n in defaults else n
            for _, n in self.spec.arguments
        )

    # Outputs.
    @property
    def outputs(self) -> list[dict[str, str]]:
        rows = []
        for output in self.spec.all_outputs:
            like = output.like
            fixed = output.dtype != "like"
            options = f"{like}.options().memory_format(at::MemoryFormat::Contiguous)"
            if fixed:
                options = f"{options}.dtype({ATEN_SCALAR_TYPE[output.dtype]})"
            rows.append(
                {
                    "name": output.name,
                    "cpp_shape": output.shape or f"{like}.sizes().vec()",
                    "cpp_options": options,
                    "fake_shape": output.fake_shape or f"{like}.shape",
                    "fake_dtype": f"torch.{output.dtype}" if fixed else f"{like}.dtype",
                    "like": like,
                }
            )
        return rows

    @property
    def return_type(self) -> str:
        if len(self.spec.all_outputs) == 1:
            return "at::Tensor"
        return "std::tuple<" + ", ".join(["at::Tensor"] * len(self.spec.all_outputs)) + ">"

    @property
    def output_names(self) -> str:
        return ", ".join(o.name for o in self.spec.all_outputs)

    @property
    def output_parameters(self) -> str:
        return ", ".join(f"const at::Tensor& {o.name}" for o in self.spec.all_outputs)

    @property
    def output_accessors(self) -> str:
        """The outputs as plan arguments, from a variable ``outputs`` of ``return_type``."""
        if len(self.spec.all_outputs) == 1:
            return "outputs"
        return ", ".join(f"std::get<{i}>(outputs)" for i in range(len(self.spec.all_outputs)))

    @property
    def return_value(self) -> str:
        names = self.output_names
        return names if len(self.spec.all_outputs) == 1 else f"{self.return_type}({names})"

    @property
    def fake_return(self) -> str:
        names = [o.name for o in self.spec.all_outputs]
        return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"

    # Kernels.
    @property
    def kernel_names(self) -> dict[str, dict[str, str]]:
        table: dict[str, dict[str, str]] = {}
        for kernel, dtype, name in self.spec.kernel_names():
            table.setdefault(kernel, {})[dtype] = name
        return table

    @property
    def kernel_index(self) -> dict[str, int]:
        return {kernel: i for i, kernel in enumerate(self.spec.kernel_functions())}

    @property
    def kernel_table(self) -> list[list[str]]:
        """kKernels[kernel][dtype] rows for the host."""
        return [list(row.values()) for row in self.kernel_names.values()]

    @property
    def tuning(self) -> dict[str, int | float | bool]:
        return {c.name: c.value for c in self.spec.constants}

    @property
    def bucket_size(self) -> str:
        """The size launch preferences are bucketed by (generator/tuning_tables.py)."""
        from generator.tuning_tables import bucket_size_name

        return bucket_size_name(self.spec)

    @property
    def host_constants(self) -> list[str]:
        return [
            f"[[maybe_unused]] constexpr {CONSTANT_TYPES[c.type][1]} {c.name} = "
            f"{_cpp_literal(c.value, c.type)};"
            for c in self.spec.constants
        ]

    @property
    def reference_source(self) -> str:
        """The spec's torch_reference function, renamed to the op's name."""
        return _function_source(self.spec.torch_reference, self.spec.name)

    @property
    def samples_source(self) -> str:
        return _function_source(self.spec.samples, f"{self.spec.name}_samples")

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

    def _bindings(self, buffers: tuple[Buffer, ...]) -> list[dict]:
        """Buffer bindings as C++ expressions; absent optionals bind their fallback."""
        optional = {n for t, n in self.spec.arguments if t == "Tensor?"}
        outputs = {o.name for o in self.spec.all_outputs}
        bound = []
        for buffer in buffers:
            if buffer.tensor in optional:
                fallback = buffer.fallback or self.spec.all_outputs[0].like
                binding = f"{buffer.tensor}.has_value() ? *{buffer.tensor} : {fallback}"
            else:
                binding = buffer.tensor
            is_output = buffer.tensor in outputs or buffer.output
            bound.append({"index": buffer.index, "binding": binding, "output": is_output})
        return bound

    @property
    def variants(self) -> list[dict]:
        rows = []
        for variant in self.spec.variants:
            launches = []
            for launch in variant.all_launches():
                launches.append(
                    {
                        "kernel": launch.kernel,
                        "kernel_index": self.kernel_index[launch.kernel],
                        "grid": _padded(launch.grid),
                        "threadgroup": _padded(launch.threadgroup),
                        "dispatch": "Threads" if launch.dispatch == "threads" else "Threadgroups",
                        "buffers": self._bindings(launch.buffers or self.spec.buffers),
                        "threadgroup_memory": list(launch.threadgroup_memory),
                    }
                )
            temporaries = []
            for temporary in variant.temporaries:
                if temporary.dtype.startswith("like "):
                    like = temporary.dtype[5:]
                    options = f"{like}.options()"
                else:
                    options = (
                        f"{self.spec.dtype_tensor}.options().dtype("
                        f"{ATEN_SCALAR_TYPE[temporary.dtype]})"
                    )
                temporaries.append(
                    {"name": temporary.name, "shape": temporary.shape, "options": options}
                )
            rows.append(
                {
                    "name": variant.name,
                    "doc": variant.doc,
                    "when": variant.when,
                    "requires": variant.requires,
                    "launches": launches,
                    "temporaries": temporaries,
                }
            )
        return rows

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

    # Python wrapper.
    @property
    def python_signature(self) -> str:
        defaults = self.spec.defaults
        parts = []
        for type_name, name in self.spec.arguments:
            annotation = PYTHON_ARGUMENT[type_name][0]
            if name in defaults:
                literal = PYTHON_DEFAULT.get(defaults[name], defaults[name])
                parts.append(f"{name}: {annotation} = {literal}")
            else:
                parts.append(f"{name}: {annotation}")
        return ", ".join(parts)

    @property
    def python_checks(self) -> list[dict[str, str]]:
        return [
            {
                "name": name,
                "test": PYTHON_ARGUMENT[type_name][1].format(n=name),
                "expected": PYTHON_ARGUMENT[type_name][2],
            }
            for type_name, name in self.spec.arguments
        ]

    @property
    def python_call_arguments(self) -> str:
        return ", ".join(f"float({n})" if t == "float" else n for t, n in self.spec.arguments)

    @property
    def python_doc(self) -> str:
        lines = [self.spec.doc]
        if self.spec.arg_docs:
            lines += ["", "Args:"]
            lines += [f"    {name}: {text}" for name, text in self.spec.arg_docs]
        lines += [
            "",
            f"Dtypes: {', '.join(self.spec.dtypes)} (float32 math). On ``mps`` it runs the",
            "generated Metal kernel; elsewhere a reference from ATen ops. Raises ValueError /",
            "TypeError naming the offending argument.",
        ]
        return "\n    ".join(line if line else "" for line in lines).replace("    \n", "\n")

    # The pieces the op's Metal template is filled with.
    @property
    def metal_params_struct(self) -> str:
        fields = [f"  {p['metal_type']} {p['name']};" for p in self.params]
        return "\n".join([f"struct {self.spec.params_struct} {{", *fields, "};"])

    @property
    def metal_tuning_constants(self) -> str:
        # Filled in after rendering with the constants the kernel text uses.
        return _CONSTANTS_SLOT

    @property
    def metal_instantiations(self) -> str:
        return "\n".join(
            f'instantiate_kernel("{name}", {self.spec.name}_{kernel}, {METAL_TYPE[dtype]})'
            for kernel, dtype, name in self.spec.kernel_names()
        )


def _function_source(function, new_name: str) -> str:
    source = textwrap.dedent(inspect.getsource(function)).strip()
    return re.sub(r"^def \w+\(", f"def {new_name}(", source, count=1)


_KERNEL = re.compile(r"\[\[\s*kernel\s*\]\]\s*void\s+(\w+)\s*\((.*?)\)\s*\{", re.DOTALL)
_BUFFER_PARAMETER = re.compile(r"(\w+)\s*\[\[\s*buffer\s*\(\s*(\d+)\s*\)\s*\]\]")
_IDENTIFIERS = re.compile(r"\b[A-Za-z_]\w*\b")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def metal_kernel_buffers(metal: str) -> dict[str, dict[int, tuple[str, str]]]:
    """Kernel function -> {buffer index: (parameter name, parameter declaration)}."""
    kernels = {}
    for match in _KERNEL.finditer(metal):
        parameters = {}
        for declaration in match[2].split(","):
            found = _BUFFER_PARAMETER.search(declaration)
            if found:
                parameters[int(found[2])] = (found[1], " ".join(declaration.split()))
        kernels[match[1]] = parameters
    return kernels


def check_buffer_contract(spec: OpSpec, metal: str, path: str) -> None:
    """Every launch's kernel exists in the rendered Metal and each of its ``[[buffer(n)]]``
    parameters is what the spec binds at n (same name; the params struct at params_index)."""
    kernels = metal_kernel_buffers(metal)
    where = spec.location
    for variant in spec.variants:
        for launch in variant.all_launches():
            function = f"{spec.name}_{launch.kernel}"
            if function not in kernels:
                raise SpecError(
                    f"{where}: variants: {variant.name} launches kernel {function!r}, but "
                    f"{path} (from generator/templates/{spec.name}.metal.j2) defines no "
                    f"[[kernel]] {function}; it defines {sorted(kernels)}"
                )
            _check_launch(spec, launch, function, kernels[function], path)


def _check_launch(spec: OpSpec, launch: Launch, function: str, parameters: dict, path: str) -> None:
    field_name = "variants (launch buffers)" if launch.buffers else "buffers"
    bound = {b.index: b.tensor for b in (launch.buffers or spec.buffers)}
    for index, (name, declaration) in sorted(parameters.items()):
        if index == spec.params_index:
            if spec.params_struct not in declaration:
                raise SpecError(
                    f"{spec.location}: params_index: {path}: kernel {function} parameter "
                    f"'{declaration}' is at the params index {index}, but is not a "
                    f"{spec.params_struct}"
                )
            continue
        if index not in bound:
            raise SpecError(
                f"{spec.location}: {field_name}: {path}: kernel {function} reads '{name}' at "
                f"[[buffer({index})]], but the spec binds nothing there (it binds "
                f"{dict(sorted(bound.items()))}, params at {spec.params_index})"
            )
        if bound[index] != name:
            raise SpecError(
                f"{spec.location}: {field_name}: {path}: kernel {function} reads '{name}' at "
                f"[[buffer({index})]], but the spec binds {bound[index]!r} there"
            )


def render_metal(spec: OpSpec) -> str:
    """metal/<op>.metal: the op's template, checked against the spec, with the constants
    it uses declared in place of ``{{ op.metal_tuning_constants }}``."""
    template = f"{spec.name}.metal.j2"
    text = render_op(template, spec)
    path = f"metal/{spec.name}.metal"
    check_buffer_contract(spec, text, path)
    code = _COMMENTS.sub(" ", text.replace(_CONSTANTS_SLOT, ""))
    used = set(_IDENTIFIERS.findall(code))
    declarations = "\n".join(
        f"constant constexpr {CONSTANT_TYPES[c.type][0]} {c.name} = "
        f"{_metal_literal(c.value, c.type)};"
        for c in spec.constants
        if c.name in used
    )
    if _CONSTANTS_SLOT not in text:
        if declarations:
            raise SpecError(
                f"{spec.location}: tuning: generator/templates/{template} uses constants but "
                "has no {{ op.metal_tuning_constants }} line to declare them"
            )
        return text
    if not declarations:  # drop the placeholder line
        return re.sub(rf"{_CONSTANTS_SLOT}\n\n?", "", text)
    return text.replace(_CONSTANTS_SLOT, declarations)


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
