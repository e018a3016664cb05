"""ggml's Metal kernels (llama.cpp, via the llama-cpp-python sdist), compiled unmodified;
a representative set run against float64 references. ggml builds its kernels at run time
without -Werror, so warnings do not fail here (every MSL conformance check still runs)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from torch_metalgen import sim
from torch_metalgen.tolerances import mismatch

pytestmark = pytest.mark.realworld

FC_NORM = 1700  # ggml-metal-impl.h: the function-constant base of norm.metal


def _include_dirs(src: Path) -> list[Path]:
    return [src / "ggml-metal" / "kernels", src / "ggml-metal", src]


def _standalone(kernels: Path) -> list[Path]:
    """The .metal files ggml compiles as libraries (not those #included by others)."""
    files = sorted(kernels.glob("*.metal"))
    included = {f.name for f in files for g in files if f'#include "{f.name}"' in g.read_text()}
    return [f for f in files if f.name not in included]


def _compile(src: Path, path: Path, **kwargs):
    return sim.compile_library(path, _include_dirs(src), warnings_as_errors=False, **kwargs)


# ggml's kernel files in the llama-cpp-python sdist (ggml/src/ggml-metal/kernels), each
# compiled as ggml's host code compiles it at run time.
GGML_FILES = [
    *("argsort", "binbcast", "conv", "fa_aux", "fa_f16", "fa_f32", "fa_q4_0", "fa_q4_1"),
    *("fa_q5_0", "fa_q5_1", "fa_q8_0", "fa_vec_f16", "fa_vec_f32", "fa_vec_q4_0"),
    *("fa_vec_q4_1", "fa_vec_q5_0", "fa_vec_q5_1", "fa_vec_q8_0", "gated_delta_net", "misc"),
    *("mul_mm", "mul_mv", "norm", "pool", "quantize", "reduce", "rope", "softmax"),
    *("solve_tri", "ssm", "tri", "unary", "upscale", "wkv"),
]
# ggml defines GGML_METAL_HAS_BF16 on GPUs with bfloat (Apple7+), which adds its bfloat
# kernels (ggml-metal-device.m); both configurations compile.
CONFIGURATIONS = {"default": None, "bf16": {"GGML_METAL_HAS_BF16": 1}}


def test_the_file_list_is_the_sdist_s(ggml_src):
    """A kernel file a newer ggml adds shows up here."""
    found = [p.stem for p in _standalone(ggml_src / "ggml-metal" / "kernels")]
    assert found == sorted(GGML_FILES)


@pytest.mark.realworld_sweep
@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
@pytest.mark.parametrize("name", GGML_FILES)
def test_kernel_file_compiles_unmodified(ggml_src, name, configuration):
    library = _compile(
        ggml_src,
        ggml_src / "ggml-metal" / "kernels" / f"{name}.metal",
        defines=CONFIGURATIONS[configuration],
    )
    assert library.kernels


def _norm_args(n: int, rows: int, item: int, per_thread: int) -> bytes:
    """ggml_metal_kargs_norm (ggml-metal-impl.h) with native alignment (152 bytes)."""
    row_bytes = n * item
    packed = struct.pack(
        "@iiQQQf3i3i3i3Q3Q3Qf4x",
        n,
        n // per_thread,
        row_bytes,
        row_bytes * rows,
        row_bytes * rows,
        1e-6,
        *(rows, 1, 1),  # nef1: rows of src0, weight broadcast, unused
        *(1, 1, 1),
        *(1, 1, 1),
        *(row_bytes, 0, 0),
        *(row_bytes * rows, 0, 0),
        *(row_bytes * rows, 0, 0),
        1.0,
    )
    assert len(packed) == 152
    return packed


@pytest.mark.parametrize(
    ("kernel", "per_thread"), [("kernel_rms_norm_mul_f32", 1), ("kernel_rms_norm_mul_f32_4", 4)]
)
@pytest.mark.parametrize("n", [1000, 4096])
def test_ggml_rms_norm_mul_matches_float64(ggml_src, kernel, per_thread, n):
    rows = 3
    x = torch.randn(rows, n) * 3 + 0.5
    x[0, 7] = 40.0  # an outlier
    w = torch.rand(n) + 0.5
    y = torch.zeros(rows, n)
    lib = _compile(ggml_src, ggml_src / "ggml-metal" / "kernels" / "norm.metal")
    lib.launch(
        kernel,
        bytes={0: _norm_args(n, rows, 4, per_thread)},
        buffers={1: x, 2: w, 3: w, 4: y},
        threadgroup_memory={0: 32 * 4},
        grid=(rows, 1, 1),
        threadgroup=(256, 1, 1),
        dispatch="threadgroups",
        outputs=(4,),
        constants={FC_NORM: False},
        check_orders=True,
    )
    xd = x.double()
    expected = xd / torch.sqrt((xd * xd).mean(-1, keepdim=True) + 1e-6) * w.double()
    torch.testing.assert_close(y.double(), expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("kernel", "per_thread"), [("kernel_norm_mul_add_f32", 1), ("kernel_norm_mul_add_f32_4", 4)]
)
@pytest.mark.parametrize("n", [1000, 4096])
def test_ggml_layer_norm_mul_add_matches_float64(ggml_src, kernel, per_thread, n):
    """ggml's layer norm with weight and bias (norm, then * f0 + f1)."""
    rows = 3
    x = torch.randn(rows, n) * 2 + 5  # a large mean: the two-pass variance must hold
    x[2, 11] = -60.0
    w, b = torch.rand(n) + 0.5, torch.randn(n)
    y = torch.zeros(rows, n)
    lib = _compile(ggml_src, ggml_src / "ggml-metal" / "kernels" / "norm.metal")
    lib.launch(
        kernel,
        bytes={0: _norm_args(n, rows, 4, per_thread)},
        buffers={1: x, 2: w, 3: b, 4: y},
        threadgroup_memory={0: 32 * 4},
        grid=(rows, 1, 1),
        threadgroup=(256, 1, 1),
        dispatch="threadgroups",
        outputs=(4,),
        constants={FC_NORM: False},
        check_orders=True,
    )
    xd = x.double()
    mean = xd.mean(-1, keepdim=True)
    variance = ((xd - mean) ** 2).mean(-1, keepdim=True)
    expected = (xd - mean) / torch.sqrt(variance + 1e-6) * w.double() + b.double()
    assert not mismatch(y, expected), mismatch(y, expected)


FC_MUL_MV = 600  # ggml-metal-impl.h
N_R0_Q4_0, N_SG_Q4_0 = 4, 2  # rows per SIMD-group, SIMD-groups per threadgroup


def _quantize_q4_0(w: torch.Tensor) -> tuple[bytes, torch.Tensor]:
    """block_q4_0 rows (half d, 16 bytes of nibbles: element j low, j + 16 high), and the
    float64 values they decode to."""
    rows, k = w.shape
    blocks = w.double().reshape(rows, k // 32, 32)
    index = blocks.abs().argmax(-1, keepdim=True)
    d = (blocks.gather(-1, index) / -8).squeeze(-1).half()
    inv = torch.where(d != 0, 1 / d.double(), torch.zeros_like(d, dtype=torch.float64))
    q = (blocks * inv.unsqueeze(-1) + 8.5).floor().clamp(0, 15).to(torch.uint8)
    packed = q[..., :16] | (q[..., 16:] << 4)
    scale_bytes = d.contiguous().view(torch.uint8).reshape(rows, k // 32, 2)
    blob = torch.cat([scale_bytes, packed], dim=-1).flatten()  # 18-byte blocks
    decoded = (q.double() - 8) * d.double().unsqueeze(-1)
    return bytes(blob.numpy().tobytes()), decoded.reshape(rows, k)


@pytest.mark.parametrize(("m", "k"), [(64, 4096), (40, 512)])
def test_ggml_mul_mv_q4_0_f32_matches_float64(ggml_src, m, k):
    w = torch.randn(m, k) + 0.25
    blob, decoded = _quantize_q4_0(w)
    src0 = torch.frombuffer(bytearray(blob), dtype=torch.uint8).clone()
    y = torch.randn(k) * 2
    out = torch.zeros(m)
    row_bytes = k // 32 * 18
    args = struct.pack(
        "@iiiQQQQiiiQQQQiiihh",
        *(k, m, 1),
        *(18, row_bytes, row_bytes * m, row_bytes * m),
        *(k, 1, 1),
        *(4, 4 * k, 4 * k, 4 * k),
        *(m, 1, N_R0_Q4_0),
        *(1, 1),
    )
    assert len(args) == 112  # sizeof(ggml_metal_kargs_mul_mv)
    lib = _compile(ggml_src, ggml_src / "ggml-metal" / "kernels" / "mul_mv.metal")
    rows_per_group = N_R0_Q4_0 * N_SG_Q4_0
    lib.launch(
        "kernel_mul_mv_q4_0_f32",
        bytes={0: args},
        buffers={1: src0, 2: y, 3: out},
        threadgroup_memory={0: 4096},
        grid=((m + rows_per_group - 1) // rows_per_group, 1, 1),
        threadgroup=(32, N_SG_Q4_0, 1),
        dispatch="threadgroups",
        outputs=(3,),
        constants={
            FC_MUL_MV + 0: N_SG_Q4_0,
            FC_MUL_MV + 1: 0,
            FC_MUL_MV + 2: 1,
            FC_MUL_MV + 3: 1,
            FC_MUL_MV + 4: 1,
            FC_MUL_MV + 5: False,
        },
        check_orders=True,
    )
    expected = decoded @ y.double()
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-4 * k**0.5)
