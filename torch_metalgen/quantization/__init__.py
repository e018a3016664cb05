"""Weight-only quantization (int4 / int8, MLX's packed format): quantize weights, whole
models, and load quantized (also MLX-quantized) state dicts. See docs/quantization.md.

    report = torch_metalgen.quantize(model, bits=4, group_size=64)   # nn.Linear -> QuantizedLinear
    print(report)                                                    # bytes before / after
    layer = torch_metalgen.nn.QuantizedLinear.from_linear(linear, bits=8, group_size=None)
    packed = torch_metalgen.quantize_weight(w, bits=4, group_size=64, mode="affine")
    w_back = torch_metalgen.dequantize_weight(*packed)               # exact on representable w
"""

from torch_metalgen.quantization.format import (
    QuantizedWeight,
    pack_codes,
    quantize_weight,
    unpack_codes,
)
from torch_metalgen.quantization.mlx import convert_mlx_state_dict, load_mlx_state_dict
from torch_metalgen.quantization.model import (
    DEFAULT_SKIP,
    QuantizationReport,
    load_quantized_state_dict,
    model_bytes,
    quantize,
)
from torch_metalgen.quantization.module import QuantizedLinear

__all__ = [
    "DEFAULT_SKIP",
    "QuantizationReport",
    "QuantizedLinear",
    "QuantizedWeight",
    "convert_mlx_state_dict",
    "load_mlx_state_dict",
    "load_quantized_state_dict",
    "model_bytes",
    "pack_codes",
    "quantize",
    "quantize_weight",
    "unpack_codes",
]
