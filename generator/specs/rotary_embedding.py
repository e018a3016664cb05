"""Rotary position embedding applied to q and k in one launch: (q_out, k_out).

For x in (q, k), of shape (batch, heads, seq, head_dim) (q and k may have different head
counts, GQA), and r the rotary dimension:

    out[..., i] = x[..., i] * cos[i] + rotate(x)[..., i] * sin[i]    for i < r
    out[..., i] = x[..., i]                                            for i >= r (passed through)

- ``interleaved=False``: Hugging Face's ``rotate_half`` layout, ``rotate(x) = cat(-x2, x1)``
  over the halves of x[..., :r] (Llama, Mistral, Qwen, Gemma, Phi; MLX traditional=False).
- ``interleaved=True``: the GPT-J layout, pairs (2j, 2j + 1): ``rotate(x)[2j] = -x[2j + 1]``,
  ``rotate(x)[2j + 1] = x[2j]`` (MLX / Meta Llama "traditional").

cos and sin come one of two ways:

- as tensors, exactly as Hugging Face's ``*RotaryEmbedding`` returns them
  (``cos, sin = position_embeddings``): shape (batch or 1, seq, r) or (seq, r), of q's
  dtype, applied along heads (HF's ``unsqueeze_dim=1``); r is their last dimension, even and
  at most head_dim (Phi-style partial rotary: r < head_dim). Each element i reads its own
  cos[i] and sin[i], as HF does (the halves HF duplicates are read, not assumed equal).
- from integer ``positions`` (int64, (seq,) or (batch or 1, seq)) and ``base``:
  theta_j = position * base^(-2j / r) for pair j, r = ``rotary_dim`` (-1: head_dim). The
  kernel computes inv_freq = exp2(j * (-log2(base) / (r / 2))) and theta in float32, then
  precise sin/cos, so it is as accurate as Hugging Face's float32 ``inv_freq`` and
  ``position * inv_freq`` (HF then rounds cos/sin to the model dtype; this mode does not):
  both lose |theta| * ~2^-23 radians to float32 angles, about 5e-4 rad at position 4096
  (docs/rotary.md states the measured bound).

Rounding: float32 math, rounded once to the output dtype (default), or, with
``round_products=True``, Hugging Face's eager arithmetic in the storage dtype: each product
rounded, then their sum (``q * cos + rotate_half(q) * sin`` on half tensors). That mode
gives the same bits as HF's eager CPU code in float16 and bfloat16 (tested), so a patched
model reproduces its unpatched rounding; in float32 a compiler may contract the product and
sum into an fma (1 ulp, more accurate).

q, k, cos and sin are read through their strides (no copy): HF's q and k are
``proj(x).view(b, s, h, d).transpose(1, 2)`` views. Outputs are contiguous
(batch, heads, seq, head_dim).

Kernel: one thread per rotation pair (or pass-through element) and position, each over
several heads of q then k (the plan picks how many: 4 at decode, all of them once the grid
has 16k threads without splitting heads), so a pair's cos/sin are read (or its angle
computed) once for those heads (reference/apple-gpus.md: grid (dims/2, positions, heads)).
"""

import torch

from generator.model import Buffer, Check, Constant, OpSpec, Output, Param, Variant


def torch_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    cos: torch.Tensor | None,
    sin: torch.Tensor | None,
    positions: torch.Tensor | None,
    base: float,
    rotary_dim: int,
    interleaved: bool,
    round_products: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition, for the verifier: computed in q's dtype (float64 there, where
    round_products rounds nothing). In float16/bfloat16 with round_products=True it is
    Hugging Face's eager apply_rotary_pos_emb, bit for bit."""
    if positions is not None:
        rot = q.shape[-1] if rotary_dim < 0 else rotary_dim
        exponents = torch.arange(0, rot, 2, dtype=torch.float64, device=q.device) / max(rot, 1)
        inv_freq = base**-exponents
        rows = positions if positions.dim() == 2 else positions.unsqueeze(0)
        angles = rows.to(torch.float64).unsqueeze(-1) * inv_freq
        if interleaved:
            angles = angles.repeat_interleave(2, -1)
        else:
            angles = torch.cat((angles, angles), -1)
        cos_table, sin_table = angles.cos().to(q.dtype), angles.sin().to(q.dtype)
    else:
        rot = cos.shape[-1]
        cos_table = cos if cos.dim() == 3 else cos.unsqueeze(0)
        sin_table = sin if sin.dim() == 3 else sin.unsqueeze(0)
    cos_table, sin_table = cos_table.unsqueeze(1), sin_table.unsqueeze(1)

    def rotate(x):
        if interleaved:
            return torch.stack((-x[..., 1::2], x[..., 0::2]), -1).flatten(-2)
        return torch.cat((-x[..., rot // 2 :], x[..., : rot // 2]), -1)

    def apply(x):
        x_rot = x[..., :rot]
        if round_products:
            out = (x_rot * cos_table).to(x.dtype) + (rotate(x_rot) * sin_table).to(x.dtype)
        else:
            out = x_rot * cos_table + rotate(x_rot) * sin_table
        return torch.cat((out, x[..., rot:]), -1)

    return apply(q), apply(k)


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """HF's layout at odd sizes: q and k as transposed views of a projection, GQA (5 query
    heads, 1 key head), partial rotary (64 of head_dim 96), seq 7, batch 2."""
    batch, seq, head_dim = 2, 7, 96
    q = torch.randn(batch, seq, 5 * head_dim, generator=generator).to(dtype)
    k = torch.randn(batch, seq, head_dim, generator=generator).to(dtype)
    q = q.view(batch, seq, 5, head_dim).transpose(1, 2)
    k = k.view(batch, seq, 1, head_dim).transpose(1, 2)
    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, 64, 2, dtype=torch.float32) / 64)
    angles = torch.arange(3, 3 + seq, dtype=torch.float32)[:, None] * inv_freq
    angles = torch.cat((angles, angles), -1).expand(batch, seq, 64)
    return q, k, angles.cos().to(dtype), angles.sin().to(dtype), None, 10000.0, -1, False, False


# Element strides as uint params; a tensor's stride along a dimension it broadcasts is 0.
def _strides(tensor: str, dims: tuple[str, ...], access: str = ".") -> tuple[Param, ...]:
    return tuple(
        Param(f"{tensor}_stride_{name}", "uint", f"{tensor}{access}stride({i})")
        for i, name in enumerate(dims)
        if name
    )


# Threads per threadgroup the plan aims for (fewer when the pipeline allows fewer).
_TILE = "std::min<int64_t>(THREADS, max_threads)"
_TABLE_BATCH_STRIDE = "{t}->dim() == 3 && {t}->size(0) > 1 ? {t}->stride(0) : 0"

SPEC = OpSpec(
    name="rotary_embedding",
    schema=(
        "rotary_embedding(Tensor q, Tensor k, Tensor? cos=None, Tensor? sin=None, "
        "Tensor? positions=None, float base=10000., int rotary_dim=-1, bool interleaved=False, "
        "bool round_products=False) -> (Tensor, Tensor)"
    ),
    doc=(
        "Rotary position embedding of q and k (batch, heads, seq, head_dim) in one launch, "
        "from cos/sin tables or positions and base; rotate_half or interleaved; partial rotary."
    ),
    sizes=(
        ("batch", "q.size(0)"),
        ("q_heads", "q.size(1)"),
        ("seq", "q.size(2)"),
        ("head_dim", "q.size(3)"),
        ("k_heads", "k.size(1)"),
        ("rot", "cos.has_value() ? cos->size(-1) : (rotary_dim < 0 ? head_dim : rotary_dim)"),
        # Threads along a row: one per rotation pair, one per passed-through element.
        ("row_threads", "head_dim - rot / 2"),
        # Heads each thread rotates: at least MIN_HEADS_PER_THREAD, more while the grid
        # still has TARGET_THREADS threads (prefill: all heads, so cos/sin are read once).
        (
            "heads_per_thread",
            "std::clamp<int64_t>(ceil_div((q_heads + k_heads) * row_threads * seq * batch, "
            "TARGET_THREADS), std::min<int64_t>(MIN_HEADS_PER_THREAD, q_heads + k_heads), "
            "std::max<int64_t>(q_heads + k_heads, 1))",
        ),
        ("head_groups", "ceil_div(q_heads + k_heads, std::max<int64_t>(heads_per_thread, 1))"),
    ),
    checks=(
        Check(
            "q.dim() == 4",
            '"rotary_embedding: q must be 4-D (batch, heads, seq, head_dim), as Hugging Face\'s "'
            '"attention passes it, got shape ", q.sizes()',
            before_sizes=True,
        ),
        Check(
            "k.dim() == 4",
            '"rotary_embedding: k must be 4-D (batch, kv_heads, seq, head_dim), got shape ", '
            "k.sizes()",
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(q.scalar_type())",
            '"rotary_embedding: q must be float32, float16 or bfloat16, got ", q.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "k.scalar_type() == q.scalar_type()",
            '"rotary_embedding: k must have the same dtype as q (", q.scalar_type(), "), got ", '
            "k.scalar_type()",
            kind="type",
            before_sizes=True,
        ),
        Check(
            "cos.has_value() == sin.has_value()",
            '"rotary_embedding: cos and sin come together; got ", '
            '(cos.has_value() ? "cos" : "sin"), " without the other"',
            before_sizes=True,
        ),
        Check(
            "cos.has_value() != positions.has_value()",
            '"rotary_embedding: give either cos and sin (tables, as Hugging Face passes "'
            '"them) or positions (angles from base), ", '
            '(positions.has_value() ? "not both" : "got neither")',
            before_sizes=True,
        ),
        Check(
            "cos->dim() == 2 || cos->dim() == 3",
            '"rotary_embedding: cos must be (batch, seq, rotary_dim) or (seq, rotary_dim), as "'
            '"Hugging Face\'s rotary embedding returns it, got shape ", cos->sizes()',
            only_if="cos.has_value()",
            before_sizes=True,
        ),
        Check(
            "k.size(0) == batch && k.size(2) == seq && k.size(3) == head_dim",
            '"rotary_embedding: k must have q\'s batch, seq and head_dim (", batch, ", ", seq, '
            '", ", head_dim, "), got shape ", k.sizes()',
        ),
        Check(
            "cos->scalar_type() == q.scalar_type()",
            '"rotary_embedding: cos must have the same dtype as q (", q.scalar_type(), "), got ", '
            "cos->scalar_type()",
            kind="type",
            only_if="cos.has_value()",
        ),
        Check(
            "sin->scalar_type() == q.scalar_type()",
            '"rotary_embedding: sin must have the same dtype as q (", q.scalar_type(), "), got ", '
            "sin->scalar_type()",
            kind="type",
            only_if="cos.has_value()",
        ),
        Check(
            "cos->size(-2) == seq && (cos->dim() == 2 || cos->size(0) == 1 || "
            "cos->size(0) == batch)",
            '"rotary_embedding: cos must be (", batch, " or 1, ", seq, ", rotary_dim) for q of "'
            '"shape ", q.sizes(), ", got shape ", cos->sizes()',
            only_if="cos.has_value()",
        ),
        Check(
            "sin->sizes() == cos->sizes()",
            '"rotary_embedding: sin must have the shape of cos ", cos->sizes(), ", got ", '
            "sin->sizes()",
            only_if="cos.has_value()",
        ),
        Check(
            "rot % 2 == 0 && rot <= head_dim",
            '"rotary_embedding: cos and sin\'s last dimension is the rotary dimension; it must "'
            '"be even and at most head_dim = ", head_dim, ", got ", rot',
            only_if="cos.has_value()",
        ),
        Check(
            "rotary_dim == -1 || rotary_dim == rot",
            '"rotary_embedding: rotary_dim must be -1 or cos\'s last dimension (", rot, ") when "'
            '"cos and sin are given, got ", rotary_dim',
            only_if="cos.has_value()",
        ),
        Check(
            "rotary_dim == -1 || (rotary_dim >= 0 && rotary_dim % 2 == 0 && "
            "rotary_dim <= head_dim)",
            '"rotary_embedding: rotary_dim must be -1 (all of head_dim) or even, from 0 to "'
            '"head_dim = ", head_dim, ", got ", rotary_dim',
            only_if="positions.has_value()",
        ),
        Check(
            "rot % 2 == 0",
            '"rotary_embedding: the rotary dimension must be even; head_dim = ", head_dim, '
            '" is odd: pass an even rotary_dim"',
            only_if="positions.has_value()",
        ),
        Check(
            "positions->scalar_type() == at::kLong",
            '"rotary_embedding: positions must be int64 (torch.long, as position_ids are), "'
            '"got ", positions->scalar_type()',
            kind="type",
            only_if="positions.has_value()",
        ),
        Check(
            "(positions->dim() == 1 || (positions->dim() == 2 && (positions->size(0) == 1 || "
            "positions->size(0) == batch))) && positions->size(-1) == seq",
            '"rotary_embedding: positions must be (seq,) or (batch or 1, seq) = (", batch, ", ", '
            'seq, "), got shape ", positions->sizes()',
            only_if="positions.has_value()",
        ),
        Check(
            "std::isfinite(base) && base > 0",
            '"rotary_embedding: base must be a positive finite number, got ", base',
            only_if="positions.has_value()",
        ),
        Check(
            "k.device() == q.device()",
            '"rotary_embedding: k must be on q\'s device (", q.device(), "), got ", k.device()',
        ),
        Check(
            "cos->device() == q.device() && sin->device() == q.device()",
            '"rotary_embedding: cos and sin must be on q\'s device (", q.device(), "), got ", '
            'cos->device(), " and ", sin->device()',
            only_if="cos.has_value()",
        ),
        Check(
            "positions->device() == q.device()",
            '"rotary_embedding: positions must be on q\'s device (", q.device(), "), got ", '
            "positions->device()",
            only_if="positions.has_value()",
        ),
        Check(
            "strides_fit_uint32(q) && strides_fit_uint32(k) && q_heads + k_heads <= UINT32_MAX "
            "&& seq <= UINT32_MAX && head_dim <= UINT32_MAX",
            '"rotary_embedding: q and k must have strides and sizes below 2^32 (pass "'
            '"contiguous tensors), got strides ", q.strides(), " and ", k.strides()',
        ),
        Check(
            "strides_fit_uint32(*cos) && strides_fit_uint32(*sin)",
            '"rotary_embedding: cos and sin must have strides below 2^32, got ", cos->strides(), '
            '" and ", sin->strides()',
            only_if="cos.has_value()",
        ),
    ),
    buffers=(
        Buffer(0, "q"),
        Buffer(1, "k"),
        Buffer(2, "cos", fallback="q"),
        Buffer(3, "sin", fallback="q"),
        Buffer(4, "positions", fallback="q"),
        Buffer(5, "q_out"),
        Buffer(6, "k_out"),
    ),
    params=(
        Param("head_dim", "uint", "head_dim"),
        Param("rot_half", "uint", "rot / 2"),
        Param("row_threads", "uint", "row_threads"),
        Param("seq", "uint", "seq"),
        Param("q_heads", "uint", "q_heads"),
        Param("k_heads", "uint", "k_heads"),
        Param("heads_per_thread", "uint", "heads_per_thread"),
        Param("head_groups", "uint", "head_groups"),
        *_strides("q", ("batch", "head", "seq", "dim")),
        *_strides("k", ("batch", "head", "seq", "dim")),
        Param(
            "cos_stride_batch",
            "uint",
            "cos.has_value() ? " + _TABLE_BATCH_STRIDE.format(t="cos") + " : 0",
        ),
        Param("cos_stride_seq", "uint", "cos.has_value() ? cos->stride(-2) : 0"),
        Param("cos_stride_dim", "uint", "cos.has_value() ? cos->stride(-1) : 0"),
        Param(
            "sin_stride_batch",
            "uint",
            "cos.has_value() ? " + _TABLE_BATCH_STRIDE.format(t="sin") + " : 0",
        ),
        Param("sin_stride_seq", "uint", "cos.has_value() ? sin->stride(-2) : 0"),
        Param("sin_stride_dim", "uint", "cos.has_value() ? sin->stride(-1) : 0"),
        # positions is contiguous (seq,) or (batch or 1, seq): rows seq apart, or shared.
        Param(
            "positions_stride_batch",
            "uint",
            "positions.has_value() && positions->dim() == 2 && positions->size(0) > 1 ? seq : 0",
        ),
        # inv_freq_j = exp2(j * freq_exponent_step): base^(-2j / rot), computed in double here.
        Param("freq_exponent_step", "float", "rot >= 2 ? -std::log2(base) / (rot / 2) : 0.0"),
        Param("from_positions", "uint", "positions.has_value() ? 1 : 0"),
        Param("interleaved", "uint", "interleaved ? 1 : 0"),
        Param("round_products", "uint", "round_products ? 1 : 0"),
    ),
    params_index=7,
    tuning=(
        # Heads each thread rotates with one read of its pair's cos/sin (or one sincos): at
        # least MIN_HEADS_PER_THREAD (decode), up to all heads while the grid keeps
        # TARGET_THREADS threads (enough to fill an M-series Max GPU's ~40 cores).
        Constant("MIN_HEADS_PER_THREAD", 4),
        Constant("TARGET_THREADS", 16384),
        # Threads per threadgroup the plan aims for (fewer when the pipeline allows fewer).
        Constant("THREADS", 256),
    ),
    variants=(
        Variant(
            "pairs",
            "a thread per rotation pair (or passed-through element) and position, over "
            "several heads; cos/sin from the tables or from positions (params.from_positions)",
            when="true",
            grid=("row_threads", "seq", "batch * head_groups"),
            # x spans the row's pairs, y positions, z head groups with the threads left
            # (decode: 64 pairs x 1 position x 4 head groups = 256 threads).
            threadgroup=(
                f"tile_x(row_threads, {_TILE})",
                f"tile_y(row_threads, seq, {_TILE})",
                f"std::max<int64_t>(1, std::min<int64_t>(batch * head_groups, {_TILE} / "
                f"(tile_x(row_threads, {_TILE}) * tile_y(row_threads, seq, {_TILE}))))",
            ),
            dispatch="threads",
        ),
    ),
    outputs=(Output("q_out", like="q"), Output("k_out", like="k")),
    strided=("q", "k", "cos", "sin"),
    # float64 math rounded once; with round_products the products are rounded to the storage
    # dtype first (a float64 product of two half-precision values is exact, so this is HF's
    # eager arithmetic bit for bit).
    cpu_reference=(
        "auto table = [&](bool cosine) -> at::Tensor {\n"
        "  if (positions.has_value()) {\n"
        "    auto exponents = at::arange(0, rot, 2, q.options().dtype(at::kDouble)) /\n"
        "                     static_cast<double>(std::max<int64_t>(rot, 1));\n"
        "    auto inv_freq = at::pow(base, -exponents);\n"
        "    auto rows = positions->dim() == 2 ? *positions : positions->unsqueeze(0);\n"
        "    auto angles = rows.to(at::kDouble).unsqueeze(-1) * inv_freq;\n"
        "    angles = interleaved ? angles.repeat_interleave(2, -1)\n"
        "                         : at::cat({angles, angles}, -1);\n"
        "    return (cosine ? angles.cos() : angles.sin()).unsqueeze(1);\n"
        "  }\n"
        "  const at::Tensor& given = cosine ? *cos : *sin;\n"
        "  return (given.dim() == 3 ? given : given.unsqueeze(0)).to(at::kDouble).unsqueeze(1);\n"
        "};\n"
        "const auto cos_table = table(true);\n"
        "const auto sin_table = table(false);\n"
        "auto apply = [&](const at::Tensor& x) -> at::Tensor {\n"
        "  const auto x_rot = x.narrow(-1, 0, rot).to(at::kDouble);\n"
        "  at::Tensor rotated;\n"
        "  if (interleaved) {\n"
        "    auto pairs = x_rot.unflatten(-1, {rot / 2, 2});\n"
        "    rotated = at::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2);\n"
        "  } else {\n"
        "    const int64_t half = rot / 2;\n"
        "    rotated = at::cat({-x_rot.narrow(-1, half, half), x_rot.narrow(-1, 0, half)}, -1);\n"
        "  }\n"
        "  const auto dtype = x.scalar_type();\n"
        "  const auto out = round_products\n"
        "      ? (x_rot * cos_table).to(dtype) + (rotated * sin_table).to(dtype)\n"
        "      : (x_rot * cos_table + rotated * sin_table).to(dtype);\n"
        "  return at::cat({out, x.narrow(-1, rot, head_dim - rot)}, -1).contiguous();\n"
        "};\n"
        "return std::make_tuple(apply(q), apply(k));"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("q", "queries (batch, heads, seq, head_dim); any strides (HF's transposed views)."),
        ("k", "keys (batch, kv_heads, seq, head_dim): q's batch, seq, head_dim and dtype."),
        ("cos", "(batch or 1, seq, rotary_dim) or (seq, rotary_dim), q's dtype; with sin."),
        ("sin", "sin table, cos's shape and dtype."),
        ("positions", "int64 (seq,) or (batch or 1, seq): angles from base instead of tables."),
        ("base", "RoPE base (theta), with positions: inv_freq_j = base^(-2j / rotary_dim)."),
        ("rotary_dim", "with positions: dims rotated (-1: head_dim); with cos: -1 or its size."),
        ("interleaved", "GPT-J pairs (2j, 2j + 1) instead of HF's rotate_half halves."),
        ("round_products", "round each product to the storage dtype before the sum (HF eager)."),
    ),
)
