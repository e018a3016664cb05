"""silu_and_mul: out = silu(gate) * up, the gated activation of Llama-style MLPs (SwiGLU).

Two input layouts: one tensor ``x = [..., 2d]`` holding gate then up (a fused gate/up
projection, vLLM's ``silu_and_mul``), or ``x`` = gate and a separate ``up``, both
``[..., d]``. The output is ``[..., d]``.

Elementwise technique of ``reference/apple-gpus.md``: each thread handles ``BYTES_PER_THREAD
/ sizeof(T)`` consecutive elements (8 bytes: 2 float32, 4 float16/bfloat16); a 2-D grid of
threads (columns, rows). Two variants: ``vector`` (one aligned vec<T, N> load per operand)
when the row length and every base offset are multiples of N, ``scalar`` otherwise.
"""

import torch

from generator.model import OpSpec
from generator.specs import _gated_activation as gated


def torch_reference(
    x: torch.Tensor, up: torch.Tensor | None = None, casting_mode: str = "gemma"
) -> torch.Tensor:
    """The definition: silu(gate) * up, in whatever dtype x has (float64 for the verifier)."""
    if up is None:
        gate, up = x.chunk(2, dim=-1)
    else:
        gate = x
    activated = torch.nn.functional.silu(gate)
    if casting_mode == "llama":
        # Rounded to x's dtype before the multiply: a no-op here, where x's dtype is the
        # compute dtype (the modes differ only in a kernel's half-precision rounding).
        activated = activated.to(x.dtype)
    return activated * up


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """A [..., 2d] input with d = 1028 = 4 x 257: the vector variant's width (2 or 4)
    divides it, no larger power of two does."""
    return torch.randn(3, 2, 2 * 1028, generator=generator).to(dtype), None, "llama"


# Checks, buffers, params, variants and output: generator/specs/_gated_activation.py; the
# kernel bodies: generator/templates/gated_activation.metal.inc.
SPEC = OpSpec(
    name="silu_and_mul",
    schema='silu_and_mul(Tensor x, Tensor? up=None, str casting_mode="gemma") -> Tensor',
    doc="silu(gate) * up for x = [..., 2d] (gate, up) or x = gate and up, both [..., d].",
    sizes=gated.SIZES,
    checks=gated.checks("silu_and_mul"),
    buffers=gated.BUFFERS,
    params=gated.params(),
    params_index=gated.PARAMS_INDEX,
    choices=gated.CHOICES,
    tuning=gated.TUNING,
    variants=gated.VARIANTS,
    outputs=gated.OUTPUTS,
    cpu_reference=gated.CPU_HALVES
    + (
        "auto activated = at::silu(gate.to(at::kFloat));\n"
        'if (casting_mode == "llama") activated = activated.to(x.scalar_type()).to(at::kFloat);\n'
        "return (activated * up_half.to(at::kFloat)).to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        *gated.ARG_DOCS,
        gated.CASTING_DOC,
    ),
)
