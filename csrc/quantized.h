// Weight-only quantization helpers for the CPU reference impls of metalgen::quantized_linear
// and metalgen::dequantize_weight (ATen ops, every device). The packing and the math are
// documented in docs/quantization.md and defined once in Python by the specs'
// torch_reference (generator/specs/quantized_linear.py); tests check these against it.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Optional.h>
#include <c10/util/accumulate.h>

#include <cstdint>

namespace metalgen {

// Rows of x viewed as (rows, x.size(-1)): the product of the leading dimensions (also when
// the last one is 0). x must have at least one dimension.
inline int64_t leading_rows(const at::Tensor& x) {
  return c10::multiply_integers(x.sizes().begin(), x.sizes().end() - 1);
}

// Codes of a packed (N, K * bits / 32) uint32 (or int32, same bits) tensor as (N, K) int64:
// value j of word w is bits [bits * j, bits * j + bits) of the word (least significant first),
// so row n's code k lives in word k / (32 / bits) at position k % (32 / bits) (MLX's layout).
inline at::Tensor unpack_quantized_codes(const at::Tensor& qweight, int64_t bits) {
  const int64_t per_word = 32 / bits;
  const auto words = qweight.view(at::kInt).to(at::kLong).bitwise_and(0xFFFFFFFFLL);
  const auto shifts = at::arange(0, 32, bits, words.options());
  const auto codes = words.unsqueeze(-1).bitwise_right_shift(shifts).bitwise_and((1LL << bits) - 1);
  return codes.reshape({qweight.size(0), qweight.size(1) * per_word});
}

// The dequantized weight (N, K) in float32: affine (biases given) w = scale * q + bias;
// symmetric (no biases) w = scale * (q - 2^(bits - 1)). One scale (and bias) per group of
// `group_size` consecutive k of a row.
inline at::Tensor dequantize_float(const at::Tensor& qweight, const at::Tensor& scales,
                                   const c10::optional<at::Tensor>& biases, int64_t bits,
                                   int64_t group_size) {
  const int64_t rows = qweight.size(0);
  const int64_t groups = scales.size(1);
  const auto codes =
      unpack_quantized_codes(qweight, bits).to(at::kFloat).reshape({rows, groups, group_size});
  const auto scale = scales.to(at::kFloat).unsqueeze(-1);
  at::Tensor weight;
  if (biases.has_value()) {
    weight = codes * scale + biases->to(at::kFloat).unsqueeze(-1);
  } else {
    weight = (codes - static_cast<double>(1LL << (bits - 1))) * scale;
  }
  return weight.reshape({rows, groups * group_size});
}

}  // namespace metalgen
