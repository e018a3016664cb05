// Small helpers the generated op files (csrc/ops/*.cpp) share.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>

namespace metalgen {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

inline bool is_supported_dtype(at::ScalarType type) {
  return type == at::kFloat || type == at::kHalf || type == at::kBFloat16;
}

inline c10::optional<at::Tensor> contiguous(const c10::optional<at::Tensor>& tensor) {
  if (!tensor.has_value()) return c10::nullopt;
  return tensor->contiguous();
}

inline at::Tensor contiguous(const at::Tensor& tensor) { return tensor.contiguous(); }

}  // namespace metalgen
