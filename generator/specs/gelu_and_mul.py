"""gelu_and_mul: out = gelu(gate) * up, the gated activation of GeGLU MLPs (Gemma, T5 v1.1).

``approximate_tanh`` picks torch's ``approximate="tanh"`` form over the exact (erf) one.
Metal has no erf: the exact form uses a Chebyshev fit of erfc whose fractional error is
below 1.2e-7 (generator/templates/gated_activation.metal.inc). Measured through the
simulator over 65539 gates in [-13, 13] (tests/sim/test_gelu_and_mul_sim.py): max relative
error 4.1e-7 for the exact form, 1.0e-5 for the tanh form, wherever |gelu| > 1e-30.

Two input layouts: one tensor ``x = [..., 2d]`` holding gate then up (a fused gate/up
projection, vLLM's ``gelu_and_mul``), or ``x`` = gate and a separate ``up``, both
``[..., d]``. The output is ``[..., d]``.

Elementwise technique of ``reference/apple-gpus.md``: each thread handles ``BYTES_PER_THREAD
/ sizeof(T)`` consecutive elements (8 bytes: 2 float32, 4 float16/bfloat16); a 2-D grid of
threads (columns, rows). Two variants: ``vector`` (one aligned vec<T, N> load per operand)
when the row length and every base offset are multiples of N, ``scalar`` otherwise.
"""

import torch

from generator.model import OpSpec, Param
from generator.specs import _gated_activation as gated


def torch_reference(
    x: torch.Tensor,
    up: torch.Tensor | None = None,
    approximate_tanh: bool = False,
    casting_mode: str = "gemma",
) -> torch.Tensor:
    """The definition: gelu(gate) * up, in whatever dtype x has (float64 for the verifier)."""
    if up is None:
        gate, up = x.chunk(2, dim=-1)
    else:
        gate = x
    approximate = "tanh" if approximate_tanh else "none"
    activated = torch.nn.functional.gelu(gate, approximate=approximate)
    if casting_mode == "llama":
        # Rounded to x's dtype before the multiply: a no-op here, where x's dtype is the
        # compute dtype (the modes differ only in a kernel's half-precision rounding).
        activated = activated.to(x.dtype)
    return activated * up


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """A [..., 2d] input with d = 1028 = 4 x 257: the vector variant's width (2 or 4)
    divides it, no larger power of two does."""
    return torch.randn(3, 2, 2 * 1028, generator=generator).to(dtype), None, False, "llama"


# Checks, buffers, params, variants and output: generator/specs/_gated_activation.py; the
# kernel bodies: generator/templates/gated_activation.metal.inc.
SPEC = OpSpec(
    name="gelu_and_mul",
    schema=(
        "gelu_and_mul(Tensor x, Tensor? up=None, bool approximate_tanh=False, "
        'str casting_mode="gemma") -> Tensor'
    ),
    doc="gelu(gate) * up (exact or tanh gelu) for x = [..., 2d] = (gate, up), or x = gate and up.",
    sizes=gated.SIZES,
    checks=gated.checks("gelu_and_mul"),
    buffers=gated.BUFFERS,
    params=gated.params(Param("approximate_tanh", "uint", "approximate_tanh ? 1 : 0")),
    params_index=gated.PARAMS_INDEX,
    choices=gated.CHOICES,
    tuning=gated.TUNING,
    variants=gated.VARIANTS,
    outputs=gated.OUTPUTS,
    cpu_reference=gated.CPU_HALVES
    + (
        'const auto approximate = approximate_tanh ? "tanh" : "none";\n'
        "const auto activated = at::gelu(gate.to(at::kFloat), approximate);\n"
        'const auto rounded = casting_mode == "llama" ? '
        "activated.to(x.scalar_type()).to(at::kFloat) : activated;\n"
        "return (rounded * up_half.to(at::kFloat)).to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        *gated.ARG_DOCS,
        ("approximate_tanh", "True for torch's approximate='tanh' form, False for the exact one."),
        gated.CASTING_DOC,
    ),
)
