// simdgroup_matrix<T, 8, 8> (float, half, bfloat) with Apple's lane layout, as the simulator
// has it: lane l holds row 4*(l/16) + (l/2)%4, columns 4*((l/8)%2) + 2*(l%2) + {0, 1}
// (MLX steel/gemm/mma.h). Load and store touch only the lane's own two elements; a multiply
// gathers rows of A and columns of B through warp shuffles and accumulates in float in the
// simulator's order (C, then k = 0..7), rounding once. All 32 lanes must take part: a call
// with fewer is recorded (kPartialMatrix) and its results refused.
#pragma once

#include "atomic.h"

namespace metalcuda {

__forceinline__ void matrix_lane_position(int lane, int& row, int& column) {
  const int quad = lane / 4;
  row = (quad & 4) + (lane / 2) % 4;
  column = (quad & 2) * 2 + (lane % 2) * 2;
}
// The lane holding element (row, column); the element index within the lane is column % 2.
__forceinline__ int matrix_lane_of(int row, int column) {
  return 16 * (row / 4) + 2 * (row % 4) + 8 * (column / 4) + (column % 4) / 2;
}
__forceinline__ uint32_t matrix_mask(const char* file, int line) {
  const uint32_t mask = __activemask();
  if (mask != 0xffffffffu) record(kPartialMatrix, fn_simdgroup_matrix, mask, file, line);
  return mask;
}
__forceinline__ unsigned long matrix_offset(unsigned long stride, unsigned long ox,
                                            unsigned long oy, bool transpose, int row, int column) {
  return transpose ? (oy + column) * stride + ox + row : (oy + row) * stride + ox + column;
}

}  // namespace metalcuda

namespace metal {

template <class T, int Rows, int Cols>
struct simdgroup_matrix {
  static_assert(Rows == 8 && Cols == 8, "the CUDA back end supports 8x8 simdgroup matrices only");
  static_assert(is_floating_point_v<T>, "simdgroup_matrix holds float, half or bfloat");
  using storage_type = vec<T, 2>;
  storage_type elements;

  simdgroup_matrix() = default;
  // A diagonal matrix with `diagonal` on the diagonal (MSL constructor).
  explicit simdgroup_matrix(T diagonal) {
    int row, column;
    ::metalcuda::matrix_lane_position(int(::metalcuda::lane_id()), row, column);
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
__forceinline__ simdgroup_matrix<T, R, C> make_filled_simdgroup_matrix(T value) {
  simdgroup_matrix<T, R, C> m;
  m.elements[0] = value;
  m.elements[1] = value;
  return m;
}

template <class T, int R, int C, class P>
__forceinline__ void simdgroup_load(simdgroup_matrix<T, R, C>& d, P* source,
                                    ulong elements_per_row = 8,
                                    vec<ulong, 2> matrix_origin = vec<ulong, 2>(0, 0),
                                    bool transpose_matrix = false, METALCUDA_SITE) {
  static_assert(sizeof(P) == sizeof(T), "simdgroup_load: pointer and matrix element types differ");
  ::metalcuda::matrix_mask(METALCUDA_SITE_ARGS);
  int row, column;
  ::metalcuda::matrix_lane_position(int(::metalcuda::lane_id()), row, column);
  for (int j = 0; j < 2; ++j)
    d.elements[j] = T(source[::metalcuda::matrix_offset(
        elements_per_row, matrix_origin.x, matrix_origin.y, transpose_matrix, row, column + j)]);
}

template <class T, int R, int C, class P>
__forceinline__ void simdgroup_store(simdgroup_matrix<T, R, C> a, P* destination,
                                     ulong elements_per_row = 8,
                                     vec<ulong, 2> matrix_origin = vec<ulong, 2>(0, 0),
                                     bool transpose_matrix = false, METALCUDA_SITE) {
  static_assert(sizeof(P) == sizeof(T), "simdgroup_store: pointer and matrix element types differ");
  ::metalcuda::matrix_mask(METALCUDA_SITE_ARGS);
  int row, column;
  ::metalcuda::matrix_lane_position(int(::metalcuda::lane_id()), row, column);
  for (int j = 0; j < 2; ++j)
    destination[::metalcuda::matrix_offset(elements_per_row, matrix_origin.x, matrix_origin.y,
                                           transpose_matrix, row, column + j)] = a.elements[j];
}

template <class T, int R, int C>
__forceinline__ void metalcuda_matrix_mma(simdgroup_matrix<T, R, C>& d,
                                          const simdgroup_matrix<T, R, C>& a,
                                          const simdgroup_matrix<T, R, C>& b,
                                          const simdgroup_matrix<T, R, C>* c, const char* file,
                                          int line) {
  const uint32_t mask = ::metalcuda::matrix_mask(file, line);
  int row, column;
  ::metalcuda::matrix_lane_position(int(::metalcuda::lane_id()), row, column);
  float acc[2] = {c ? float(c->elements[0]) : 0.0f, c ? float(c->elements[1]) : 0.0f};
  for (int k = 0; k < 8; ++k) {
    const vec<T, 2> a_pair =
        ::metalcuda::shfl_idx(a.elements, ::metalcuda::matrix_lane_of(row, k), mask);
    const vec<T, 2> b_pair =
        ::metalcuda::shfl_idx(b.elements, ::metalcuda::matrix_lane_of(k, column), mask);
    const float a_value = float(a_pair[k % 2]);
    acc[0] += a_value * float(b_pair[0]);
    acc[1] += a_value * float(b_pair[1]);
  }
  d.elements[0] = T(acc[0]);
  d.elements[1] = T(acc[1]);
}

template <class T, int R, int C>
__forceinline__ void simdgroup_multiply_accumulate(simdgroup_matrix<T, R, C>& d,
                                                   const simdgroup_matrix<T, R, C>& a,
                                                   const simdgroup_matrix<T, R, C>& b,
                                                   const simdgroup_matrix<T, R, C>& c,
                                                   METALCUDA_SITE) {
  const simdgroup_matrix<T, R, C> c_copy = c;  // d may alias a, b or c
  metalcuda_matrix_mma(d, simdgroup_matrix<T, R, C>(a), simdgroup_matrix<T, R, C>(b), &c_copy,
                       METALCUDA_SITE_ARGS);
}
template <class T, int R, int C>
__forceinline__ void simdgroup_multiply(simdgroup_matrix<T, R, C>& d,
                                        const simdgroup_matrix<T, R, C>& a,
                                        const simdgroup_matrix<T, R, C>& b, METALCUDA_SITE) {
  metalcuda_matrix_mma(d, simdgroup_matrix<T, R, C>(a), simdgroup_matrix<T, R, C>(b),
                       static_cast<const simdgroup_matrix<T, R, C>*>(nullptr), METALCUDA_SITE_ARGS);
}

}  // namespace metal
