"""GroupNorm over x of shape (N, C, *spatial) (NCHW and any other trailing spatial dims),
with per-channel weight and bias (each optional) and an optional fused SiLU afterwards:
y = silu?((x - mean_g) / sqrt(var_g + eps) * weight[c] + bias[c]), mean_g and var_g (biased)
over the C / G channels x spatial elements of each (sample, group), as torch.nn.GroupNorm.

Diffusion UNets and VAEs run GroupNorm then SiLU on groups of up to millions of elements
(a 512x512 VAE: 128 channels / 32 groups x 262,144 pixels = 1M); moments are merged (Chan
et al.), never E[x^2] - E[x]^2, so those long groups keep their variance in float32.

Three kernel variants, by group size and count:

- ``simd_groups``: groups up to SIMD_GROUP_MAX elements; one SIMD group per (sample, group),
  several per threadgroup, no barriers.
- ``split``: fewer than SPLIT_MAX_GROUPS groups in all, each of at least SPLIT_MIN_SIZE
  elements (one image, 32 groups of 1M): ``looped`` would run only N x G = 32 threadgroups,
  fewer than the GPU cores of the larger chips. Two launches over (chunk, group)
  threadgroups of SPLIT_CHUNK elements: partial moments into a float32 temporary, then
  each threadgroup merges its group's partials and writes its chunk.
- ``looped``: one threadgroup per (sample, group) of up to LOOPED_THREADS threads striding
  over it; x is read twice (moments, then output).
"""

import torch

from generator.model import Buffer, Check, Launch, OpSpec, Param, Temporary, Variant


def torch_reference(
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
    silu: bool,
) -> torch.Tensor:
    """The definition, for the verifier: computed in whatever dtype x has (float64 there)."""
    per_group = x.shape[1] // num_groups * x.shape[2:].numel()
    grouped = x.reshape(x.shape[0], num_groups, per_group)
    centered = grouped - grouped.mean(-1, keepdim=True)
    y = centered * torch.rsqrt(centered.pow(2).mean(-1, keepdim=True) + eps)
    y = y.reshape(x.shape)
    per_channel = (1, -1) + (1,) * (x.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    if bias is not None:
        y = y + bias.reshape(per_channel)
    if silu:
        y = y * torch.sigmoid(y)
    return y


def samples(dtype: torch.dtype, generator: torch.Generator) -> tuple:
    """Arguments for the selftest and the registry-driven tests (odd spatial dims, SiLU)."""
    x = (2 + torch.randn(2, 12, 9, 13, generator=generator)).to(dtype)
    weight = torch.randn(12, generator=generator).to(dtype)
    bias = torch.randn(12, generator=generator).to(dtype)
    return x, 3, weight, bias, 1e-5, True


def _affine_checks(name: str) -> tuple[Check, ...]:
    """dtype, shape and device of the optional per-channel tensor `name` (weight or bias)."""
    return (
        Check(
            f"{name}->scalar_type() == x.scalar_type()",
            f'"group_norm: {name} must have the same dtype as x (", x.scalar_type(), "), got ", '
            f'{name}->scalar_type(), "; convert it with {name}.to(x.dtype)"',
            kind="type",
            only_if=f"{name}.has_value()",
        ),
        Check(
            f"{name}->dim() == 1 && {name}->size(0) == channels",
            f'"group_norm: {name} must have shape (", channels, ",) to match the channels '
            f'(dimension 1) of x, got ", {name}->sizes()',
            only_if=f"{name}.has_value()",
        ),
        Check(
            f"{name}->device() == x.device()",
            f'"group_norm: {name} must be on the same device as x (", x.device(), "), got ", '
            f"{name}->device()",
            only_if=f"{name}.has_value()",
        ),
    )


SPEC = OpSpec(
    name="group_norm",
    schema=(
        "group_norm(Tensor x, int num_groups, Tensor? weight=None, Tensor? bias=None, "
        "float eps=1e-05, bool silu=False) -> Tensor"
    ),
    doc=(
        "GroupNorm over (N, C, *spatial) with optional per-channel weight and bias and an "
        "optional fused SiLU; fp32 accumulation."
    ),
    sizes=(
        ("samples", "x.size(0)"),
        ("channels", "x.size(1)"),
        ("spatial", "samples * channels == 0 ? 0 : x.numel() / (samples * channels)"),
        ("group_size", "channels / num_groups * spatial"),
        # One "row" per (sample, group): what the plan launches over.
        ("rows", "samples * num_groups"),
        # SPLIT_CHUNK-element pieces of a group in the split variant.
        ("chunks", "ceil_div(group_size, SPLIT_CHUNK)"),
    ),
    checks=(
        Check(
            "x.dim() >= 2",
            '"group_norm: x must have shape (N, C, *spatial) with at least 2 dimensions, got ", '
            "x.dim()",
            before_sizes=True,
        ),
        Check(
            "is_supported_dtype(x.scalar_type())",
            '"group_norm: x must be float32, float16 or bfloat16, got ", x.scalar_type()',
            kind="type",
            before_sizes=True,
        ),
        Check(
            "num_groups > 0",
            '"group_norm: num_groups must be positive, got ", num_groups',
            before_sizes=True,
        ),
        Check(
            "channels % num_groups == 0",
            '"group_norm: num_groups (", num_groups, ") must divide the channels (dimension 1) '
            'of x, got ", channels',
        ),
        *_affine_checks("weight"),
        *_affine_checks("bias"),
        # eps = 0 is allowed, as in torch: a constant group then normalizes to NaN, as there.
        Check(
            "eps >= 0 && std::isfinite(eps)",
            '"group_norm: eps must be a non-negative finite number, got ", eps',
        ),
        Check(
            "group_size <= INT32_MAX && rows <= UINT32_MAX && spatial <= UINT32_MAX",
            '"group_norm: x must have at most 2^32 - 1 groups in all and 2^31 - 1 elements '
            'per group, got shape ", x.sizes(), " with ", num_groups, " groups"',
        ),
    ),
    buffers=(
        Buffer(0, "x"),
        Buffer(1, "weight", fallback="x"),
        Buffer(2, "bias", fallback="x"),
        Buffer(3, "out", output=True),
    ),
    params=(
        Param("group_size", "uint", "group_size"),
        Param("groups", "uint", "rows"),
        Param("groups_per_sample", "uint", "num_groups"),
        Param("channels_per_group", "uint", "channels / num_groups"),
        Param("spatial", "uint", "spatial"),
        Param("eps", "float", "eps"),
        Param("has_weight", "uint", "weight.has_value() ? 1 : 0"),
        Param("has_bias", "uint", "bias.has_value() ? 1 : 0"),
        Param("silu", "uint", "silu ? 1 : 0"),
        Param("chunks", "uint", "chunks"),
    ),
    params_index=4,
    tuning=(
        # Contiguous elements each thread reads per step (MLX's N_READS).
        ("N_READS", 4),
        # Groups up to this size get one SIMD group each.
        ("SIMD_GROUP_MAX", 512),
        # SIMD groups (= groups of x) per threadgroup in the simd_groups variant.
        ("GROUPS_PER_THREADGROUP", 8),
        ("LOOPED_THREADS", 1024),
        # The split variant: groups at least this long, fewer than this many groups in all,
        # chunks of this many elements per threadgroup.
        ("SPLIT_MIN_SIZE", 65536),
        ("SPLIT_MAX_GROUPS", 256),
        ("SPLIT_CHUNK", 16384),
    ),
    variants=(
        Variant(
            "simd_groups",
            "one SIMD group per (sample, group), GROUPS_PER_THREADGROUP per threadgroup",
            when="group_size <= SIMD_GROUP_MAX",
            requires="true",
            grid="ceil_div(rows, GROUPS_PER_THREADGROUP)",
            threadgroup="SIMD_SIZE * GROUPS_PER_THREADGROUP",
        ),
        Variant(
            "split",
            "(chunk, group) threadgroups: partial moments, then merge and write",
            when="group_size >= SPLIT_MIN_SIZE && rows < SPLIT_MAX_GROUPS",
            requires="true",
            launches=(
                Launch(
                    "partial_moments",
                    grid=("chunks", "rows"),
                    threadgroup="std::min<int64_t>(LOOPED_THREADS, max_threads)",
                    buffers=(Buffer(0, "x"), Buffer(5, "partials")),
                ),
                Launch(
                    "split_output",
                    grid=("chunks", "rows"),
                    threadgroup="std::min<int64_t>(LOOPED_THREADS, max_threads)",
                    buffers=(
                        Buffer(0, "x"),
                        Buffer(1, "weight", fallback="x"),
                        Buffer(2, "bias", fallback="x"),
                        Buffer(3, "out"),
                        Buffer(5, "partials"),
                    ),
                ),
            ),
            temporaries=(Temporary("partials", "std::vector<int64_t>{rows * chunks * 3}"),),
        ),
        Variant(
            "looped",
            "one threadgroup per (sample, group), its threads merging moments",
            when="true",
            requires="true",
            grid="rows",
            threadgroup=(
                "std::min<int64_t>(std::min<int64_t>(LOOPED_THREADS, max_threads), "
                "round_up(std::max<int64_t>(ceil_div(group_size, N_READS), 1), SIMD_SIZE))"
            ),
        ),
    ),
    output_like="x",
    # In float64, rounded once, as layer_norm's (a float32 mean of 1e3 is off by ~3e-5).
    cpu_reference=(
        "if (x.numel() == 0) return at::empty_like(x, at::MemoryFormat::Contiguous);\n"
        "c10::optional<at::Tensor> weight_double, bias_double;\n"
        "if (weight.has_value()) weight_double = weight->to(at::kDouble);\n"
        "if (bias.has_value()) bias_double = bias->to(at::kDouble);\n"
        "auto y = at::group_norm(x.to(at::kDouble), num_groups, weight_double, bias_double, eps);\n"
        "if (silu) y = at::silu(y);\n"
        "return y.to(x.scalar_type());"
    ),
    torch_reference=torch_reference,
    samples=samples,
    autograd="reference",
    arg_docs=(
        ("x", "tensor of shape (N, C, *spatial), at least 2-D; any layout."),
        ("num_groups", "positive number of groups dividing C."),
        ("weight", "optional 1-D tensor of C elements, x's dtype and device."),
        ("bias", "optional 1-D tensor of C elements, x's dtype and device."),
        ("eps", "non-negative finite number added to the variance."),
        ("silu", "apply x * sigmoid(x) to the result (fused)."),
    ),
)
