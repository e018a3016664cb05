// simdgroup_matrix<T, 8, 8> (float, half, bfloat) with Apple's lane layout: lane l
// holds row 4*(l/16) + (l/2)%4, columns 4*((l/8)%2) + 2*(l%2) + {0, 1}
// (as in MLX steel/gemm/mma.h). Load, store and multiply-accumulate are
// SIMD-group collectives: all 32 lanes must take part with uniform arguments.
#pragma once

#include "simd.h"

namespace metalsim {

inline void matrix_lane_position(int lane, int& row, int& column) {
  const int quad = lane / 4;
  row = (quad & 4) + (lane / 2) % 4;
  column = (quad & 2) * 2 + (lane % 2) * 2;
}

inline bool matrix_needs_full_simdgroup(uint32_t mask, metalsim_diag* d, const char* function) {
  if (mask == 0xFFFFFFFFu) return true;
  d->kind = METALSIM_ERR_INACTIVE_LANE_READ;
  int n = snprintf(d->message, sizeof d->message,
                   "%s needs all 32 lanes of the SIMD-group, but only lanes ", function);
  n += format_lanes(d->message + n, sizeof d->message - n, mask);
  snprintf(d->message + n, sizeof d->message - n, " take part");
  return false;
}

// Memory operands of load/store must be uniform: pointer, row stride, origin, transpose.
inline bool matrix_uniform(metalsim_call* const* lanes, metalsim_diag* d, const char* function) {
  for (int i = 1; i < 32; ++i) {
    const metalsim_call* a = lanes[0];
    const metalsim_call* b = lanes[i];
    const char* argument = a->ptr != b->ptr     ? "pointer"
                           : a->arg2 != b->arg2 ? "elements_per_row"
                           : a->arg3 != b->arg3 ? "matrix_origin"
                           : a->arg4 != b->arg4 ? "transpose_matrix"
                                                : nullptr;
    if (argument) {
      d->kind = METALSIM_ERR_NON_UNIFORM;
      snprintf(d->message, sizeof d->message,
               "%s: argument '%s' must be the same in all 32 lanes, but lane %d differs from "
               "lane 0",
               function, argument, i);
      return false;
    }
  }
  return true;
}

inline size_t matrix_offset(const metalsim_call* c, int row, int column) {
  const int64_t stride = c->arg2;
  const int64_t ox = c->arg3 & 0xFFFFFFFF, oy = c->arg3 >> 32;
  if (c->arg4) return static_cast<size_t>((oy + column) * stride + ox + row);
  return static_cast<size_t>((oy + row) * stride + ox + column);
}

template <class T>
void resolve_matrix_load(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d) {
  if (!matrix_needs_full_simdgroup(mask, d, "simdgroup_load")) return;
  if (!matrix_uniform(lanes, d, "simdgroup_load")) return;
  const T* src = static_cast<const T*>(lanes[0]->ptr);
  for (int lane = 0; lane < 32; ++lane) {
    int row, column;
    matrix_lane_position(lane, row, column);
    T* out = static_cast<T*>(lanes[lane]->out);
    out[0] = src[matrix_offset(lanes[0], row, column)];
    out[1] = src[matrix_offset(lanes[0], row, column + 1)];
  }
}

template <class T>
void resolve_matrix_store(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d) {
  if (!matrix_needs_full_simdgroup(mask, d, "simdgroup_store")) return;
  if (!matrix_uniform(lanes, d, "simdgroup_store")) return;
  T* dst = static_cast<T*>(const_cast<void*>(lanes[0]->ptr));
  for (int lane = 0; lane < 32; ++lane) {
    int row, column;
    matrix_lane_position(lane, row, column);
    const T* in = static_cast<const T*>(lanes[lane]->in);
    dst[matrix_offset(lanes[0], row, column)] = in[0];
    dst[matrix_offset(lanes[0], row, column + 1)] = in[1];
  }
}

// D = A * B + C, accumulated in float, rounded once to D's type. The operands may have
// different element types (half inputs with a float accumulator: ggml, MLX).
template <class T, class TA = T, class TB = T, class TC = T>
void resolve_matrix_mma(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d) {
  if (!matrix_needs_full_simdgroup(mask, d, "simdgroup_multiply_accumulate")) return;
  float a[8][8], b[8][8], c[8][8];
  for (int lane = 0; lane < 32; ++lane) {
    int row, column;
    matrix_lane_position(lane, row, column);
    const TA* pa = static_cast<const TA*>(lanes[lane]->in);
    const TB* pb = static_cast<const TB*>(lanes[lane]->ptr);
    const TC* pc = reinterpret_cast<const TC*>(lanes[lane]->arg);
    for (int j = 0; j < 2; ++j) {
      a[row][column + j] = static_cast<float>(pa[j]);
      b[row][column + j] = static_cast<float>(pb[j]);
      c[row][column + j] = pc ? static_cast<float>(pc[j]) : 0.0f;
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    int row, column;
    matrix_lane_position(lane, row, column);
    T* out = static_cast<T*>(lanes[lane]->out);
    for (int j = 0; j < 2; ++j) {
      float acc = c[row][column + j];
      for (int k = 0; k < 8; ++k) acc += a[row][k] * b[k][column + j];
      out[j] = static_cast<T>(acc);
    }
  }
}

// The call of simdgroup_load / simdgroup_store: the memory operand travels in ptr,
// arg2 (elements per row), arg3 (origin x | y << 32) and arg4 (transpose).
inline metalsim_call matrix_memory_call(metalsim_resolve_fn fn, const void* memory,
                                        ulong elements_per_row, ulong2 origin, bool transpose,
                                        const char* file, int line, int column) {
  metalsim_call c = site_call(fn, file, line, column);
  c.ptr = memory;
  c.arg2 = static_cast<int64_t>(elements_per_row);
  c.arg3 = static_cast<int64_t>(origin.x) | (static_cast<int64_t>(origin.y) << 32);
  c.arg4 = transpose;
  return c;
}

}  // namespace metalsim

namespace metal {

template <class T, int Rows, int Cols>
struct simdgroup_matrix {
  static_assert(Rows == 8 && Cols == 8, "the simulator supports 8x8 simdgroup matrices only");
  static_assert(metalsim::is_float_v<T>, "simdgroup_matrix holds float, half or bfloat");
  using storage_type = typename metalsim::make_vector<T, 2>::type;
  storage_type elements;

  simdgroup_matrix() = default;
  // A diagonal matrix with `diagonal` on the diagonal (MSL constructor).
  explicit simdgroup_matrix(T diagonal) {
    int row, column;
    metalsim::matrix_lane_position(static_cast<int>(metalsim_lane_id()), row, column);
    elements[0] = row == column ? diagonal : T(0);
    elements[1] = row == column + 1 ? diagonal : T(0);
  }
  storage_type& thread_elements() { return elements; }
  const storage_type& thread_elements() const { return elements; }
};
typedef simdgroup_matrix<float, 8, 8> simdgroup_float8x8;
typedef simdgroup_matrix<half, 8, 8> simdgroup_half8x8;
typedef simdgroup_matrix<bfloat, 8, 8> simdgroup_bfloat8x8;

template <class T, int R, int C = R>
inline simdgroup_matrix<T, R, C> make_filled_simdgroup_matrix(T value) {
  simdgroup_matrix<T, R, C> m;
  m.elements[0] = value;
  m.elements[1] = value;
  return m;
}

template <class T, int R, int C, class P>
METALSIM_GLUE void simdgroup_load(simdgroup_matrix<T, R, C>& d, P* source,
                                  ulong elements_per_row = 8, ulong2 matrix_origin = ulong2{0, 0},
                                  bool transpose_matrix = false, METALSIM_SITE) {
  static_assert(sizeof(P) == sizeof(T), "simdgroup_load: pointer and matrix element types differ");
  metalsim_call c = metalsim::matrix_memory_call(
      &metalsim::resolve_matrix_load<T>, (const void*)source, elements_per_row, matrix_origin,
      transpose_matrix, METALSIM_SITE_ARGS);
  c.out = &d.elements;
  metalsim_collective(&c);
}

template <class T, int R, int C, class P>
METALSIM_GLUE void simdgroup_store(simdgroup_matrix<T, R, C> a, P* destination,
                                   ulong elements_per_row = 8, ulong2 matrix_origin = ulong2{0, 0},
                                   bool transpose_matrix = false, METALSIM_SITE) {
  static_assert(sizeof(P) == sizeof(T), "simdgroup_store: pointer and matrix element types differ");
  metalsim_call c = metalsim::matrix_memory_call(
      &metalsim::resolve_matrix_store<T>, (const void*)destination, elements_per_row, matrix_origin,
      transpose_matrix, METALSIM_SITE_ARGS);
  c.in = &a.elements;
  metalsim_collective(&c);
}

namespace detail {
// d = a * b (+ c when c is not null); see resolve_matrix_mma.
template <class T, class TA, class TB, class TC, int R, int C>
METALSIM_GLUE void matrix_mma(simdgroup_matrix<T, R, C>& d, const simdgroup_matrix<TA, R, C>& a,
                              const simdgroup_matrix<TB, R, C>& b,
                              const simdgroup_matrix<TC, R, C>* c, const char* file, int line,
                              int column) {
  simdgroup_matrix<T, R, C> result;
  metalsim_call call =
      metalsim::site_call(&metalsim::resolve_matrix_mma<T, TA, TB, TC>, file, line, column);
  call.in = &a.elements;
  call.ptr = &b.elements;
  call.arg = c ? reinterpret_cast<int64_t>(&c->elements) : 0;
  call.out = &result.elements;
  metalsim_collective(&call);
  d = result;  // after the call: d may alias a, b or c
}
}  // namespace detail

template <class T, class TA, class TB, class TC, int R, int C>
inline void simdgroup_multiply_accumulate(simdgroup_matrix<T, R, C>& d,
                                          const simdgroup_matrix<TA, R, C>& a,
                                          const simdgroup_matrix<TB, R, C>& b,
                                          const simdgroup_matrix<TC, R, C>& c, METALSIM_SITE) {
  detail::matrix_mma(d, a, b, &c, METALSIM_SITE_ARGS);
}

template <class T, class TA, class TB, int R, int C>
inline void simdgroup_multiply(simdgroup_matrix<T, R, C>& d, const simdgroup_matrix<TA, R, C>& a,
                               const simdgroup_matrix<TB, R, C>& b, METALSIM_SITE) {
  detail::matrix_mma(d, a, b, static_cast<const simdgroup_matrix<T, R, C>*>(nullptr),
                     METALSIM_SITE_ARGS);
}

}  // namespace metal

// ---- floatCxR matrices (MSL specification 2.3) --------------------------------------
// A matrix of C columns, each a vector of R elements; m[i] is column i. Element type
// float, half or bfloat.
namespace metal {

template <class T, int C, int R>
struct matrix {
  using column_type = typename metalsim::make_vector<T, R>::type;
  column_type columns[C];

  matrix() = default;
  // Diagonal matrix (float4x4(1.0f)), as in MSL.
  explicit matrix(T diagonal) {
    for (int c = 0; c < C; ++c) {
      columns[c] = column_type(T(0));
      if (c < R) columns[c][c] = diagonal;
    }
  }
  template <class... V, std::enable_if_t<sizeof...(V) == C && C >= 2, int> = 0>
  matrix(V... cols) : columns{static_cast<column_type>(cols)...} {}
  // Element-type conversion, (half4x4)m or half4x4(m), from any address space: element
  // by element (vector_cast goes through float between half and bfloat, which clang 19's
  // x86 backend cannot lower as one vector conversion).
  template <class U>
  explicit matrix(const matrix<U, C, R>& m) {
    for (int c = 0; c < C; ++c) columns[c] = metalsim::vector_cast<column_type>(m.columns[c]);
  }
#ifndef METALSIM_NO_ADDRESS_SPACES
  template <class U>
  matrix(const __attribute__((address_space(1))) matrix<U, C, R>& m) {
    for (int c = 0; c < C; ++c) columns[c] = metalsim::vector_cast<column_type>(m.columns[c]);
  }
  template <class U>
  matrix(const __attribute__((address_space(2))) matrix<U, C, R>& m) {
    for (int c = 0; c < C; ++c) columns[c] = metalsim::vector_cast<column_type>(m.columns[c]);
  }
  template <class U>
  matrix(const __attribute__((address_space(3))) matrix<U, C, R>& m) {
    for (int c = 0; c < C; ++c) columns[c] = metalsim::vector_cast<column_type>(m.columns[c]);
  }
#endif
  column_type& operator[](int c) { return columns[c]; }
  const column_type& operator[](int c) const { return columns[c]; }
};

template <class T, int C, int R>
inline matrix<T, C, R> operator+(matrix<T, C, R> a, const matrix<T, C, R>& b) {
  for (int c = 0; c < C; ++c) a.columns[c] += b.columns[c];
  return a;
}
template <class T, int C, int R>
inline matrix<T, C, R> operator-(matrix<T, C, R> a, const matrix<T, C, R>& b) {
  for (int c = 0; c < C; ++c) a.columns[c] -= b.columns[c];
  return a;
}
template <class T, int C, int R>
inline matrix<T, C, R> operator*(matrix<T, C, R> a, T s) {
  for (int c = 0; c < C; ++c) a.columns[c] *= s;
  return a;
}
template <class T, int C, int R>
inline matrix<T, C, R> operator*(T s, matrix<T, C, R> a) {
  return a * s;
}
// matrix * column vector: sum of columns weighted by the vector's elements.
template <class T, int C, int R>
inline typename matrix<T, C, R>::column_type operator*(
    const matrix<T, C, R>& m, typename metalsim::make_vector<T, C>::type v) {
  typename matrix<T, C, R>::column_type r(T(0));
  for (int c = 0; c < C; ++c) r += m.columns[c] * v[c];
  return r;
}
// row vector * matrix: one dot product per column.
template <class T, int C, int R>
inline typename metalsim::make_vector<T, C>::type operator*(typename matrix<T, C, R>::column_type v,
                                                            const matrix<T, C, R>& m) {
  typename metalsim::make_vector<T, C>::type r;
  for (int c = 0; c < C; ++c) {
    T s = T(0);
    for (int k = 0; k < R; ++k) s += v[k] * m.columns[c][k];
    r[c] = s;
  }
  return r;
}
template <class T, int K, int R, int C>
inline matrix<T, C, R> operator*(const matrix<T, K, R>& a, const matrix<T, C, K>& b) {
  matrix<T, C, R> r;
  for (int c = 0; c < C; ++c) r.columns[c] = a * b.columns[c];
  return r;
}
template <class T, int C, int R>
inline matrix<T, R, C> transpose(const matrix<T, C, R>& m) {
  matrix<T, R, C> r;
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < R; ++k) r.columns[k][c] = m.columns[c][k];
  return r;
}

#define METALSIM_MATRICES(S)      \
  typedef matrix<S, 2, 2> S##2x2; \
  typedef matrix<S, 2, 3> S##2x3; \
  typedef matrix<S, 2, 4> S##2x4; \
  typedef matrix<S, 3, 2> S##3x2; \
  typedef matrix<S, 3, 3> S##3x3; \
  typedef matrix<S, 3, 4> S##3x4; \
  typedef matrix<S, 4, 2> S##4x2; \
  typedef matrix<S, 4, 3> S##4x3; \
  typedef matrix<S, 4, 4> S##4x4;
METALSIM_MATRICES(float)
METALSIM_MATRICES(half)
METALSIM_MATRICES(bfloat)
#undef METALSIM_MATRICES

}  // namespace metal
