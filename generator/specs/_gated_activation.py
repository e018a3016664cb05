"""What silu_and_mul and gelu_and_mul share, written once: their argument checks, buffers,
params, tuning constants, variants and output (the kernel bodies are shared too, in
generator/templates/gated_activation.metal.inc). Each op's spec keeps what differs: its
name, schema, activation, references and extra arguments.

Two input layouts: one tensor ``x = [..., 2d]`` holding gate then up (a fused gate/up
projection, vLLM's ``*_and_mul``), or ``x`` = gate and a separate ``up``, both ``[..., d]``.
The output is ``[..., d]``.
"""

from __future__ import annotations

from generator.model import Buffer, Check, Constant, Output, Param, Variant

SIZES = (
    ("d", "up.has_value() ? x.size(-1) : x.size(-1) / 2"),
    ("rows", "d == 0 ? 0 : x.numel() / (up.has_value() ? d : 2 * d)"),
    ("per_thread", "BYTES_PER_THREAD / x.element_size()"),
)


def checks(op: str) -> tuple[Check, ...]:
    """The argument checks, their messages naming `op`."""
    return (
        Check(
            "x.dim() >= 1",
            f'"{op}: x must have at least 1 dimension, got a 0-dim tensor"',
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            f'"{op}: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "up.has_value() || x.size(-1) % 2 == 0",
            f'"{op}: without up, x must be [..., 2d] (gate then up), but its last "'
            '"dimension is odd: shape ", x.sizes()',
            before_sizes=True,
        ),
        Check(
            "up->scalar_type() == x.scalar_type()",
            f'"{op}: up must have the same dtype as x (", x.scalar_type(), "), got ", '
            "up->scalar_type()",
            kind="type",
            only_if="up.has_value()",
        ),
        Check(
            "up->sizes() == x.sizes()",
            f'"{op}: up must have the shape of x (the gate) ", x.sizes(), ", got ", up->sizes()',
            only_if="up.has_value()",
        ),
        Check(
            "up->device() == x.device()",
            f'"{op}: up must be on the same device as x (", x.device(), "), got ", up->device()',
            only_if="up.has_value()",
        ),
        Check(
            "d <= INT32_MAX && rows <= UINT32_MAX",
            f'"{op}: x must have at most 2^32 - 1 rows and 2^31 - 1 elements per row, "'
            '"got shape ", x.sizes()',
        ),
    )


BUFFERS = (
    Buffer(0, "x"),
    Buffer(1, "up", fallback="x"),
    Buffer(2, "out"),
)


def params(*extra: Param) -> tuple[Param, ...]:
    """The params struct: the shared fields, then the op's own (`extra`)."""
    return (
        Param("d", "uint", "d"),
        Param("rows", "uint", "rows"),
        Param("row_stride", "uint", "up.has_value() ? d : 2 * d"),
        Param("up_offset", "uint", "up.has_value() ? 0 : d"),
        Param("llama_casting", "uint", 'casting_mode == "llama" ? 1 : 0'),
        *extra,
    )


PARAMS_INDEX = 3
CHOICES = (("casting_mode", ("gemma", "llama")),)

TUNING = (
    # Bytes each thread reads per operand (reference/apple-gpus.md: 8 / sizeof(T)).
    Constant("BYTES_PER_THREAD", 8),
    # Threads per threadgroup the plan aims for (fewer when the pipeline allows fewer).
    Constant("THREADS", 256),
)

_THREADGROUP = (
    "tile_x(ceil_div(d, per_thread), std::min<int64_t>(THREADS, max_threads))",
    "tile_y(ceil_div(d, per_thread), rows, std::min<int64_t>(THREADS, max_threads))",
)
_ALIGNED = (
    "d % per_thread == 0 && x.storage_offset() % per_thread == 0 && "
    "(!up.has_value() || up->storage_offset() % per_thread == 0)"
)
VARIANTS = (
    Variant(
        "vector",
        "one aligned vec<T, N> load per operand and thread",
        when=_ALIGNED,
        requires=_ALIGNED,
        grid=("ceil_div(d, per_thread)", "rows"),
        threadgroup=_THREADGROUP,
        dispatch="threads",
    ),
    Variant(
        "scalar",
        "any length and alignment, element by element",
        when="true",
        grid=("ceil_div(d, per_thread)", "rows"),
        threadgroup=_THREADGROUP,
        dispatch="threads",
    ),
)

OUTPUTS = (
    Output(
        "out",
        like="x",
        shape="up.has_value() ? x.sizes().vec() : with_last_dim(x.sizes(), d)",
        fake_shape="x.shape if up is not None else (*x.shape[:-1], x.shape[-1] // 2)",
    ),
)

# The C++ CPU reference's first lines: the gate and up halves.
CPU_HALVES = (
    "const auto gate = up.has_value() ? x : x.narrow(-1, 0, d);\n"
    "const auto up_half = up.has_value() ? *up : x.narrow(-1, d, d);\n"
)

ARG_DOCS = (
    ("x", "[..., 2d] (gate then up), or the gate [..., d] when up is given; any layout."),
    ("up", "optional [..., d] up projection, x's shape, dtype and device."),
)
CASTING_DOC = (
    "casting_mode",
    '"gemma": act(gate) * up in float32, rounded once; "llama": act(gate) rounded to '
    "x's dtype first, as Hugging Face's MLPs compute it in half precision.",
)
