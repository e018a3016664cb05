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

from generator.model import Buffer, Check, Constant, OpSpec, Output, Param, Variant


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


# Checks and geometry shared with gelu_and_mul are spelled out here (one spec per op); the
# kernel bodies are shared in generator/templates/gated_activation.metal.inc.
SPEC = OpSpec(
    name="silu_and_mul",
    schema='silu_and_mul(Tensor x, Tensor? up=None, str casting_mode="gemma") -> Tensor',
    doc="silu(gate) * up for x = [..., 2d] (gate, up) or x = gate and up, both [..., d].",
    sizes=(
        ("d", "up.has_value() ? x.size(-1) : x.size(-1) / 2"),
        ("rows", "d == 0 ? 0 : x.numel() / (up.has_value() ? d : 2 * d)"),
        ("per_thread", "BYTES_PER_THREAD / x.element_size()"),
    ),
    checks=(
        Check(
            "x.dim() >= 1",
            '"silu_and_mul: x must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            '"silu_and_mul: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "up.has_value() || x.size(-1) % 2 == 0",
            '"silu_and_mul: without up, x must be [..., 2d] (gate then up), but its last "'
            '"dimension is odd: shape ", x.sizes()',
            before_sizes=True,
        ),
        Check(
            "up->scalar_type() == x.scalar_type()",
            '"silu_and_mul: up must have the same dtype as x (", x.scalar_type(), "), got ", '
            "up->scalar_type()",
            kind="type",
            only_if="up.has_value()",
        ),
        Check(
            "up->sizes() == x.sizes()",
            '"silu_and_mul: up must have the shape of x (the gate) ", x.sizes(), ", got ", '
            "up->sizes()",
            only_if="up.has_value()",
        ),
        Check(
            "up->device() == x.device()",
            '"silu_and_mul: up must be on the same device as x (", x.device(), "), got ", '
            "up->device()",
            only_if="up.has_value()",
        ),
        Check(
            "d <= INT32_MAX && rows <= UINT32_MAX",
            '"silu_and_mul: x must have at most 2^32 - 1 rows and 2^31 - 1 elements per row, "'
            '"got shape ", x.sizes()',
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "up", fallback="x"),
        Buffer(2, "out"),
    ),
    params=(
        Param("d", "uint", "d"),
        Param("rows", "uint", "rows"),
        Param("row_stride", "uint", "up.has_value() ? d : 2 * d"),
        Param("up_offset", "uint", "up.has_value() ? 0 : d"),
        Param("llama_casting", "uint", 'casting_mode == "llama" ? 1 : 0'),
    ),
    params_index=3,
    choices=(("casting_mode", ("gemma", "llama")),),
    tuning=(
        # Bytes each thread reads per operand (reference/apple-gpus.md: 8 / sizeof(T)).
        Constant("BYTES_PER_THREAD", 8),
        # Threads per threadgroup the plan aims for (fewer when the pipeline allows fewer).
        Constant("THREADS", 256),
    ),
    variants=(
        Variant(
            "vector",
            "one aligned vec<T, N> load per operand and thread",
            when=(
                "d % per_thread == 0 && x.storage_offset() % per_thread == 0 && "
                "(!up.has_value() || up->storage_offset() % per_thread == 0)"
            ),
            requires=(
                "d % per_thread == 0 && x.storage_offset() % per_thread == 0 && "
                "(!up.has_value() || up->storage_offset() % per_thread == 0)"
            ),
            grid=("ceil_div(d, per_thread)", "rows"),
            threadgroup=(
                "tile_x(ceil_div(d, per_thread), std::min<int64_t>(THREADS, max_threads))",
                "tile_y(ceil_div(d, per_thread), rows, std::min<int64_t>(THREADS, max_threads))",
            ),
            dispatch="threads",
        ),
        Variant(
            "scalar",
            "any length and alignment, element by element",
            when="true",
            grid=("ceil_div(d, per_thread)", "rows"),
            threadgroup=(
                "tile_x(ceil_div(d, per_thread), std::min<int64_t>(THREADS, max_threads))",
                "tile_y(ceil_div(d, per_thread), rows, std::min<int64_t>(THREADS, max_threads))",
            ),
            dispatch="threads",
        ),
    ),
    outputs=(
        Output(
            "out",
            like="x",
            shape="up.has_value() ? x.sizes().vec() : with_last_dim(x.sizes(), d)",
            fake_shape="x.shape if up is not None else (*x.shape[:-1], x.shape[-1] // 2)",
        ),
    ),
    cpu_reference=(
        "const auto gate = up.has_value() ? x : x.narrow(-1, 0, d);\n"
        "const auto up_half = up.has_value() ? *up : x.narrow(-1, d, d);\n"
        "auto activated = at::silu(gate.to(at::kFloat));\n"
        'if (casting_mode == "llama") activated = activated.to(x.scalar_type()).to(at::kFloat);\n'
        "return (activated * up_half.to(at::kFloat)).to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "[..., 2d] (gate then up), or the gate [..., d] when up is given; any layout."),
        ("up", "optional [..., d] up projection, x's shape, dtype and device."),
        (
            "casting_mode",
            '"gemma": act(gate) * up in float32, rounded once; "llama": act(gate) rounded to '
            "x's dtype first, as Hugging Face's MLPs compute it in half precision.",
        ),
    ),
)
