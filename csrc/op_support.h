// Small helpers the generated op files (csrc/ops/*.cpp) share.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include "launch_plan.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace metalgen {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Whether a threadgroup of dims[0] x dims[1] x ... threads fits `max_threads`.
template <typename... Dims>
bool threads_fit(int64_t max_threads, Dims... dims) {
  int64_t threads = 1;
  for (int64_t dim : {static_cast<int64_t>(dims)...}) {
    if (dim < 1) return false;
    threads *= dim;
  }
  return threads <= max_threads;
}

// Threadgroup shape for a 2-D elementwise grid of cols x rows threads: x spans the row in
// whole SIMD groups, up to `limit` threads; y stacks rows into the threads left over.
inline int64_t tile_x(int64_t cols, int64_t limit) {
  return std::max<int64_t>(1, std::min<int64_t>(round_up(cols, kSimdSize), limit));
}
inline int64_t tile_y(int64_t cols, int64_t rows, int64_t limit) {
  return std::max<int64_t>(1, std::min<int64_t>(rows, limit / tile_x(cols, limit)));
}

// sizes with its last dimension replaced by `last` (outputs like a [..., 2d] -> [..., d]).
inline std::vector<int64_t> with_last_dim(at::IntArrayRef sizes, int64_t last) {
  std::vector<int64_t> result = sizes.vec();
  result.back() = last;
  return result;
}

inline bool is_supported_dtype(at::ScalarType type) {
  return type == at::kFloat || type == at::kHalf || type == at::kBFloat16;
}

inline c10::optional<at::Tensor> contiguous(const c10::optional<at::Tensor>& tensor) {
  if (!tensor.has_value()) return c10::nullopt;
  return tensor->contiguous();
}

inline at::Tensor contiguous(const at::Tensor& tensor) { return tensor.contiguous(); }

// A spec's strided arguments reach the plan as they are: its kernels read them through the
// strides its params carry (a transposed query, a sliced KV cache, an expanded mask).
inline c10::optional<at::Tensor> as_strided_view(const c10::optional<at::Tensor>& tensor) {
  return tensor;
}

inline at::Tensor as_strided_view(const at::Tensor& tensor) { return tensor; }

}  // namespace metalgen
