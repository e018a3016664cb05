"""Decode attention: softmax(q k^T * scale [soft-capped] + mask) v for 1 to 8 new queries per
head over a KV cache, fused in one pass over K and V (MLX's ``sdpa_vector`` technique).

Layouts are Hugging Face's: q (batch, heads, queries, head_dim), k and v (batch, kv_heads,
keys, head_dim) as its caches hold them; out (batch, heads, queries, head_dim), contiguous.
q, k, v and the mask are read through their strides (``strided``), so the transposed query
view attention modules make, a slice of a static cache or an expanded mask cost no copy.

- Grouped-query and multi-query attention: query head h reads KV head h // (heads /
  kv_heads), as transformers' ``repeat_kv``; K and V are never repeated.
- ``scale`` (None: 1 / sqrt(head_dim)) multiplies q.k; ``softcap`` > 0 then applies
  Gemma 2's logit soft-capping, softcap * tanh(logit / softcap), before the mask is added.
- ``mask``: boolean (True = attend, as torch's scaled_dot_product_attention and transformers'
  sdpa masks) or additive of q's dtype (0 / -inf, or finfo.min as transformers' eager masks),
  broadcastable to (batch, heads, queries, keys), at most 4-D.
- ``causal`` hides key j from query i when j > i + keys - queries: bottom-right aligned, as a
  KV cache needs (the last query sees every key). ``window`` > 0 (sliding-window attention,
  Mistral, Gemma 2) hides key j from query i when (i + keys - queries) - j >= window, as
  transformers' ``sliding_window``: each query sees itself and the window - 1 keys before.
- A row whose logits are all -inf (fully masked, or causal with no key before it) is written
  as zeros, as FlashAttention and torch's scaled_dot_product_attention (torch 2.5 and later,
  measured with 2.13 on CPU) do: such a query attends to nothing. NaN in q, k, v or an
  additive mask makes its row NaN, as in the float64 reference; a +inf logit too.

Kernels (generator/templates/decode_attention.metal.j2): a threadgroup serves one KV head and
up to ROW_FLOATS / ceil(head_dim / 32) of its query rows (every query of every head sharing
that KV head, position-major), so each K and V row is read once per threadgroup, not once
per query head. Its SIMD groups take keys with a stride; a lane holds head_dim / 32
interleaved elements of q, k, v and the output; q.k is a simd_sum; softmax is online in
float32 (max, normalizer, rescaled output), merged over the SIMD groups at the end through
threadgroup memory. Keys no query of the threadgroup may see (causal, window, mask) are
never read.

Two variants, chosen by how many threadgroups a single pass would run:

- ``single_pass``: one launch of batch x kv_heads x row blocks threadgroups of 1024 threads.
- ``split_kv``: when a single pass would have fewer threadgroups than the largest Apple GPU
  has cores (SINGLE_PASS_MIN_THREADGROUPS = 80, M3 Ultra) and there are keys enough for two
  splits of SPLIT_MIN_KEYS: the visible keys are cut into splits contiguous ranges so the
  launch has about SPLIT_TARGET_THREADGROUPS (4 per core) threadgroups of 256 threads, each
  writing its rows' partial (max, normalizer, unnormalized output) in float32; a second launch
  merges the splits (one SIMD group per output row). A 7B decode step (32 query heads over 8
  KV heads, batch 1) is 8 threadgroups as a single pass: split from 256 keys on.
"""

import torch

from generator.model import Buffer, Check, Launch, OpSpec, Param, Temporary, Variant

# Head dims with a compiled kernel each (the lane count of a row is a compile-time constant).
HEAD_DIMS = (64, 80, 96, 128, 256)


def torch_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float | None,
    mask: torch.Tensor | None,
    causal: bool,
    window: int,
    softcap: float,
) -> torch.Tensor:
    """The definition, for the verifier: computed in whatever dtype q has (float64 there)."""
    # Query head h reads KV head h // (heads / kv_heads): the heads of a KV head are one
    # matmul (no repeated K and V, which at 32k keys would be gigabytes in float64).
    batch, heads, queries, head_dim = q.shape
    kv_heads, keys = k.shape[1], k.shape[2]
    if scale is None:
        scale = head_dim**-0.5
    grouped = q.reshape(batch, kv_heads, heads // kv_heads * queries, head_dim)
    logits = (grouped @ k.transpose(-1, -2)).reshape(batch, heads, queries, keys) * scale
    if softcap > 0:
        logits = torch.tanh(logits / softcap) * softcap
    if mask is not None:
        if mask.dtype == torch.bool:
            logits = logits.masked_fill(~mask, float("-inf"))
        else:
            logits = logits + mask
    position = torch.arange(queries, device=q.device).unsqueeze(-1) + (keys - queries)
    key = torch.arange(keys, device=q.device)
    if causal:
        logits = logits.masked_fill(key > position, float("-inf"))
    if window > 0:
        logits = logits.masked_fill(position - key >= window, float("-inf"))
    fully_masked = (logits == float("-inf")).all(-1, keepdim=True)
    weights = torch.softmax(logits, -1).masked_fill(fully_masked, 0.0)
    weights = weights.reshape(batch, kv_heads, heads // kv_heads * queries, keys)
    return (weights @ v).reshape(batch, heads, queries, head_dim)


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """Arguments for the selftest and the registry-driven tests: 3 speculative queries of 4
    heads over 2 KV heads (a transposed view, as attention modules pass q), head dim 80,
    37 keys, a padding mask, causal, soft-capped."""
    q = torch.randn(2, 3, 4, 80, generator=generator).transpose(1, 2).to(dtype)
    k = torch.randn(2, 2, 37, 80, generator=generator).to(dtype)
    v = torch.randn(2, 2, 37, 80, generator=generator).to(dtype)
    mask = torch.zeros(2, 1, 1, 37)
    mask[1, ..., :5] = float("-inf")
    return q, k, v, None, mask.to(dtype), True, 0, 30.0


def _stride(tensor: str, dimension: int, optional: bool = False) -> str:
    """tensor's stride along `dimension` (counted from the end, < 0) in elements, 0 where the
    dimension is 1 or absent (a broadcast dimension, or an index that is always 0)."""
    access = f"{tensor}->" if optional else f"{tensor}."
    present = f"{tensor}.has_value() && {access}dim() >= {-dimension} && " if optional else ""
    return f"({present}{access}size({dimension}) > 1 ? {access}stride({dimension}) : 0)"


_STRIDES = {name: [_stride(name, d) for d in (-4, -3, -2, -1)] for name in ("q", "k", "v")} | {
    "mask": [_stride("mask", d, optional=True) for d in (-4, -3, -2, -1)]
}
_STRIDE_NAMES = ("batch", "head", "row", "dim")
# Rows the split merge's threadgroups hold: COMBINE_ROWS, fewer under a smaller pipeline.
_COMBINE_ROWS_HERE = "std::min<int64_t>(COMBINE_ROWS, max_threads / SIMD_SIZE)"
_HEAD_DIM_SLOT = " : ".join(f"head_dim == {d} ? {i}" for i, d in enumerate(HEAD_DIMS)) + " : -1"


def _shape_check(tensor: str, layout: str) -> Check:
    return Check(
        f"{tensor}.dim() == 4",
        f'"decode_attention: {tensor} must have shape {layout}, got ", {tensor}.sizes()',
        before_sizes=True,
    )


def _same_dtype_check(tensor: str) -> Check:
    return Check(
        f"{tensor}.scalar_type() == q.scalar_type()",
        f'"decode_attention: {tensor} must have q\'s dtype (", q.scalar_type(), "), got ", '
        f"{tensor}.scalar_type()",
        kind="type",
        before_sizes=True,
    )


def _device_check(tensor: str, optional: bool = False) -> Check:
    access = f"{tensor}->" if optional else f"{tensor}."
    return Check(
        f"{access}device() == q.device()",
        f'"decode_attention: {tensor} must be on q\'s device (", q.device(), "), got ", '
        f"{access}device()",
        only_if=f"{tensor}.has_value()" if optional else "",
    )


SPEC = OpSpec(
    name="decode_attention",
    schema=(
        "decode_attention(Tensor q, Tensor k, Tensor v, float? scale=None, Tensor? mask=None, "
        "bool causal=False, int window=0, float softcap=0.0) -> Tensor"
    ),
    doc=(
        "Attention of 1 to 8 queries per head over a KV cache (GQA/MQA, causal, boolean or "
        "additive mask, sliding window, soft-capping); fp32 online softmax; fully masked "
        "rows give 0."
    ),
    sizes=(
        ("batch", "q.size(0)"),
        ("heads", "q.size(1)"),
        ("queries", "q.size(2)"),
        ("head_dim", "q.size(3)"),
        ("kv_heads", "k.size(1)"),
        ("keys", "k.size(2)"),
        ("group", "heads / kv_heads"),
        # Query rows per KV head (every query of every head that reads it), and how many of
        # them one threadgroup holds: the kernel's compile-time row block, same formula.
        ("rows", "group * queries"),
        ("row_block", "std::max<int64_t>(1, ROW_FLOATS / ceil_div(head_dim, SIMD_SIZE))"),
        ("row_blocks", "ceil_div(rows, row_block)"),
        ("head_dim_slot", _HEAD_DIM_SLOT),
        # Keys some query may see: the sliding window of the first query starts here.
        (
            "key_begin",
            "window > 0 ? std::min(keys, std::max<int64_t>(0, keys - queries - window + 1)) : 0",
        ),
        ("span", "keys - key_begin"),
        ("single_pass_threadgroups", "batch * kv_heads * row_blocks"),
        (
            "splits",
            "single_pass_threadgroups >= SINGLE_PASS_MIN_THREADGROUPS ? 1 : "
            "std::max<int64_t>(1, std::min<int64_t>(ceil_div(SPLIT_TARGET_THREADGROUPS, "
            "std::max<int64_t>(single_pass_threadgroups, 1)), span / SPLIT_MIN_KEYS))",
        ),
        ("keys_per_split", "std::max<int64_t>(1, ceil_div(span, splits))"),
        ("output_rows", "batch * heads * queries"),
    ),
    checks=(
        _shape_check("q", "(batch, heads, queries, head_dim)"),
        _shape_check("k", "(batch, kv_heads, keys, head_dim), a Hugging Face KV cache layer's"),
        _shape_check("v", "(batch, kv_heads, keys, head_dim), a Hugging Face KV cache layer's"),
        Check(
            "q.scalar_type() == at::kFloat || q.scalar_type() == at::kHalf || "
            "q.scalar_type() == at::kBFloat16",
            '"decode_attention: q must be float32, float16 or bfloat16, got ", q.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        _same_dtype_check("k"),
        _same_dtype_check("v"),
        Check(
            " || ".join(f"q.size(3) == {d}" for d in HEAD_DIMS),
            f"\"decode_attention: q's head_dim (its last dimension) must be one of "
            f'{", ".join(map(str, HEAD_DIMS))}, got ", q.size(3), '
            '" (shape ", q.sizes(), "); run other head dims with '
            'torch.nn.functional.scaled_dot_product_attention"',
            before_sizes=True,
        ),
        Check(
            "k.size(0) == q.size(0) && k.size(3) == q.size(3)",
            '"decode_attention: k must have q\'s batch (", q.size(0), ") and head_dim (", '
            'q.size(3), "), got shape ", k.sizes()',
            before_sizes=True,
        ),
        Check(
            "v.sizes() == k.sizes()",
            '"decode_attention: v must have the shape of k (", k.sizes(), "), got ", v.sizes()',
            before_sizes=True,
        ),
        Check(
            "k.size(1) >= 1 && q.size(1) % k.size(1) == 0",
            '"decode_attention: the heads of q (", q.size(1), ") must be a multiple of the '
            'kv_heads of k (", k.size(1), "): query head h reads KV head h / (heads / '
            'kv_heads)"',
            before_sizes=True,
        ),
        Check(
            "q.size(2) <= MAX_QUERIES",
            '"decode_attention: q must have at most ", MAX_QUERIES, " queries per head '
            '(decode and speculative decoding), got ", q.size(2), "; run prefill with '
            'torch.nn.functional.scaled_dot_product_attention"',
            before_sizes=True,
        ),
        Check(
            "!scale.has_value() || std::isfinite(*scale)",
            '"decode_attention: scale must be a finite number or None (1 / sqrt(head_dim)), '
            'got ", *scale',
        ),
        Check(
            "window >= 0 && window <= INT32_MAX",
            '"decode_attention: window must be >= 0 (0: no sliding window), got ", window',
        ),
        Check(
            "softcap >= 0 && std::isfinite(softcap)",
            '"decode_attention: softcap must be a finite number >= 0 (0: no soft-capping), '
            'got ", softcap',
        ),
        Check(
            "mask->scalar_type() == at::kBool || mask->scalar_type() == q.scalar_type()",
            "\"decode_attention: mask must be boolean (True = attend) or additive with q's "
            'dtype (", q.scalar_type(), "), got ", mask->scalar_type()',
            kind="type",
            only_if="mask.has_value()",
        ),
        Check(
            "mask->dim() <= 4 && at::is_expandable_to(mask->sizes(), "
            "at::IntArrayRef({batch, heads, queries, keys}))",
            '"decode_attention: mask must be broadcastable to (batch, heads, queries, keys) = (", '
            'batch, ", ", heads, ", ", queries, ", ", keys, ") with at most 4 dimensions, got '
            'shape ", mask->sizes()',
            only_if="mask.has_value()",
        ),
        _device_check("k"),
        _device_check("v"),
        _device_check("mask", optional=True),
        Check(
            "keys <= INT32_MAX / 2 && output_rows <= UINT32_MAX && "
            + " && ".join(f"{s} <= UINT32_MAX" for strides in _STRIDES.values() for s in strides),
            '"decode_attention: q, k, v and mask must have at most 2^30 keys and strides below '
            '2^32 elements, got shapes ", q.sizes(), " and ", k.sizes()',
        ),
    ),
    buffers=(
        Buffer(0, "q"),
        Buffer(1, "k"),
        Buffer(2, "v"),
        Buffer(3, "mask", fallback="q"),
        Buffer(4, "out"),
    ),
    params=(
        Param("heads", "uint", "heads"),
        Param("kv_heads", "uint", "kv_heads"),
        Param("queries", "uint", "queries"),
        Param("keys", "uint", "keys"),
        Param("group", "uint", "group"),
        Param("rows", "uint", "rows"),
        Param("output_rows", "uint", "output_rows"),
        Param("head_dim", "uint", "head_dim"),
        Param("scale", "float", "scale.has_value() ? *scale : 1.0 / std::sqrt(double(head_dim))"),
        Param("softcap", "float", "softcap"),
        Param("causal", "uint", "causal ? 1 : 0"),
        Param("window", "uint", "window"),
        Param("key_begin", "uint", "key_begin"),
        Param("keys_per_split", "uint", "keys_per_split"),
        Param("splits", "uint", "splits"),
        Param(
            "mask_kind",
            "uint",
            "!mask.has_value() ? MASK_NONE : mask->scalar_type() == at::kBool ? MASK_BOOLEAN "
            ": MASK_ADDITIVE",
        ),
        *(
            Param(f"{name}_stride_{axis}", "uint", stride)
            for name, strides in _STRIDES.items()
            for axis, stride in zip(_STRIDE_NAMES, strides, strict=True)
        ),
    ),
    params_index=5,
    tuning=(
        # Floats of q (and as many of the output) one lane holds for its threadgroup's rows:
        # row block = ROW_FLOATS / ceil(head_dim / 32) rows (head dim 128: 4, one 7B KV head's
        # 4 query heads; 64: 8; 80 and 96: 5; 256: 2).
        ("ROW_FLOATS", 16),
        ("MAX_QUERIES", 8),
        ("SINGLE_PASS_THREADS", 1024),
        ("SPLIT_THREADS", 256),
        # Below this many single-pass threadgroups (the largest Apple GPU's cores, M3 Ultra),
        # cores would idle: split the keys instead.
        ("SINGLE_PASS_MIN_THREADGROUPS", 80),
        # Threadgroups a split launch aims at (4 per core of an 80-core GPU) ...
        ("SPLIT_TARGET_THREADGROUPS", 320),
        # ... each with at least this many keys (its partials then cost under 3% of its
        # K and V bytes at head dim 128).
        ("SPLIT_MIN_KEYS", 128),
        # (row, 32-element chunk) slots the SIMD groups exchange per threadgroup barrier when
        # merging outputs: 4 x 32 SIMD groups x 32 floats = 16 KiB of threadgroup memory.
        ("EXCHANGE_SLOTS", 4),
        # Output rows (one SIMD group each) per threadgroup of the split merge (fewer where
        # the pipeline allows fewer threads).
        ("COMBINE_ROWS", 8),
        ("MASK_NONE", 0),
        ("MASK_ADDITIVE", 1),
        ("MASK_BOOLEAN", 2),
    ),
    variants=(
        Variant(
            "single_pass",
            "one launch: a threadgroup per (KV head, row block), 1024 threads",
            when="splits == 1",
            launches=(
                Launch(
                    tuple(f"single_pass_{d}" for d in HEAD_DIMS),
                    grid=("row_blocks", "batch * kv_heads", "1"),
                    threadgroup="std::min<int64_t>(SINGLE_PASS_THREADS, max_threads)",
                    select="head_dim_slot",
                ),
            ),
        ),
        Variant(
            "split_kv",
            "partials over key ranges (256 threads per threadgroup), then a merge",
            when="true",
            launches=(
                Launch(
                    tuple(f"split_partials_{d}" for d in HEAD_DIMS),
                    grid=("row_blocks", "batch * kv_heads", "splits"),
                    threadgroup="std::min<int64_t>(SPLIT_THREADS, max_threads)",
                    buffers=(
                        Buffer(0, "q"),
                        Buffer(1, "k"),
                        Buffer(2, "v"),
                        Buffer(3, "mask", fallback="q"),
                        # Written whole by this launch: the simulator poisons and checks them.
                        Buffer(6, "partial_out", output=True),
                        Buffer(7, "partial_stats", output=True),
                    ),
                    select="head_dim_slot",
                ),
                Launch(
                    "combine_splits",
                    grid=f"ceil_div(output_rows, {_COMBINE_ROWS_HERE})",
                    threadgroup=f"SIMD_SIZE * {_COMBINE_ROWS_HERE}",
                    buffers=(
                        Buffer(4, "out"),
                        Buffer(6, "partial_out"),
                        Buffer(7, "partial_stats"),
                    ),
                ),
            ),
            temporaries=(
                Temporary("partial_out", "std::vector<int64_t>{output_rows * splits * head_dim}"),
                Temporary("partial_stats", "std::vector<int64_t>{output_rows * splits * 2}"),
            ),
        ),
    ),
    output_like="q",
    # In float64, rounded once (the definition of torch_reference, in ATen).
    cpu_reference=(
        "auto out = at::empty(q.sizes(),\n"
        "                     q.options().memory_format(at::MemoryFormat::Contiguous));\n"
        "if (out.numel() == 0) return out;\n"
        "// The query heads of a KV head are one matmul: K and V are not repeated.\n"
        "auto grouped = q.to(at::kDouble).reshape({batch, kv_heads, rows, head_dim});\n"
        "const double scale_value =\n"
        "    scale.has_value() ? *scale : 1.0 / std::sqrt(double(head_dim));\n"
        "auto logits = at::matmul(grouped, k.to(at::kDouble).transpose(-1, -2))\n"
        "                  .reshape({batch, heads, queries, keys}) *\n"
        "              scale_value;\n"
        "if (softcap > 0) logits = at::tanh(logits / softcap) * softcap;\n"
        "if (mask.has_value()) {\n"
        "  logits = mask->scalar_type() == at::kBool\n"
        "               ? logits.masked_fill(mask->logical_not(), -INFINITY)\n"
        "               : logits + mask->to(at::kDouble);\n"
        "}\n"
        "auto position = at::arange(queries, q.options().dtype(at::kLong)).unsqueeze(-1) +\n"
        "                (keys - queries);\n"
        "auto key = at::arange(keys, q.options().dtype(at::kLong));\n"
        "if (causal) logits = logits.masked_fill(key > position, -INFINITY);\n"
        "if (window > 0) logits = logits.masked_fill(position - key >= window, -INFINITY);\n"
        "auto fully_masked = (logits == -INFINITY).all(-1, /*keepdim=*/true);\n"
        "auto weights = at::softmax(logits, -1).masked_fill(fully_masked, 0.0);\n"
        "weights = weights.reshape({batch, kv_heads, rows, keys});\n"
        "out.copy_(at::matmul(weights, v.to(at::kDouble)).reshape(q.sizes()));\n"
        "return out;"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="none",
    strided=("q", "k", "v", "mask"),
    arg_docs=(
        ("q", "(batch, heads, queries <= 8, head_dim in 64/80/96/128/256); any strides."),
        ("k", "(batch, kv_heads, keys, head_dim), kv_heads dividing heads; q's dtype."),
        ("v", "the shape and dtype of k."),
        ("scale", "finite number multiplying q.k, or None for 1 / sqrt(head_dim)."),
        (
            "mask",
            "optional boolean (True = attend) or additive mask of q's dtype, "
            "broadcastable to (batch, heads, queries, keys).",
        ),
        ("causal", "hide key j from query i when j > i + keys - queries (bottom-right)."),
        ("window", "sliding window: > 0 hides keys window or more positions before a query."),
        ("softcap", "> 0: logits become softcap * tanh(logits / softcap) (Gemma 2)."),
    ),
)
