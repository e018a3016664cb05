// Metal Performance Primitives (MSL 4.0), the subset MLX's NAX kernels use:
// mpp::tensor_ops::matmul2d with a descriptor (M, N, K, transposes, mode), run by one
// SIMD-group (metal::execution_simdgroup) on cooperative tensors or metal::tensor views.
//
// A cooperative tensor holds a matrix spread over the 32 lanes of a SIMD-group. Apple does
// not document how; the simulator uses the layout MLX's NAX code assumes
// (steel/gemm/nax.h BaseNAXFrag::get_coord): the matrix is cut into 16x16 fragments in
// row-major order, and in a fragment lane l holds, for element i (0..7), row
// ((l/4 & 4) | (l/2 & 3)) + 8*(i/4) and column 4*((l/4 & 2) | (l & 1)) + i%4.
// get_multidimensional_index(i) returns {column, row}. Operands are matrices as stored:
// the left input is M x K (K x M when transposed), the right K x N (N x K), the
// destination M x N; a tensor view's dimension 0 is the column. Elements of a tensor
// view outside its extents read as 0 and are not written (MPP's masking at edges).
// Products accumulate in float and round once to the destination's type.
#pragma once

#include "matrix.h"
#include "tensor.h"

namespace metalsim {

inline void mpp_fragment_position(int lane, int i, int& row, int& column) {
  const int quad = lane >> 2;
  row = ((quad & 4) | ((lane >> 1) & 3)) + 8 * (i >> 2);
  column = 4 * ((quad & 2) | (lane & 1)) + (i & 3);
}

template <class T, int Rows, int Cols>
struct cooperative_tensor {
  static_assert(Rows % 16 == 0 && Cols % 16 == 0,
                "cooperative tensors are made of 16x16 fragments in the simulator");
  using value_type = T;
  static constexpr int rows = Rows, cols = Cols;
  static constexpr int capacity = Rows * Cols / 32;
  T values_[capacity];

  static constexpr uint16_t get_capacity() { return capacity; }
  static bool is_valid_element(int) { return true; }
  T& operator[](int i) {
    if (i < 0 || i >= capacity) out_of_range(i);
    return values_[i];
  }
  const T& operator[](int i) const {
    if (i < 0 || i >= capacity) out_of_range(i);
    return values_[i];
  }
  // Row and column of element i of lane `lane` in the matrix.
  static void position(int lane, int i, int& row, int& column) {
    const int fragment = i / 8;
    mpp_fragment_position(lane, i % 8, row, column);
    row += 16 * (fragment / (Cols / 16));
    column += 16 * (fragment % (Cols / 16));
  }
  metal::array<int, 2> get_multidimensional_index(int i) const {
    int row, column;
    position(static_cast<int>(metalsim_lane_id()), i, row, column);
    return metal::array<int, 2>{{column, row}};
  }
  template <class Tensor>
  void load(const Tensor& t) {
    const int lane = static_cast<int>(metalsim_lane_id());
    for (int i = 0; i < capacity; ++i) {
      int row, column;
      position(lane, i, row, column);
      values_[i] = column < t.get_extent(0) && row < t.get_extent(1)
                       ? convert_element<T>(t.element(column, row))
                       : T(0);
    }
  }
  template <class Tensor>
  void store(const Tensor& t) const {
    using E = typename Tensor::value_type;
    const int lane = static_cast<int>(metalsim_lane_id());
    for (int i = 0; i < capacity; ++i) {
      int row, column;
      position(lane, i, row, column);
      if (column < t.get_extent(0) && row < t.get_extent(1))
        t.element(column, row) = convert_element<E>(values_[i]);
    }
  }

 private:
  [[noreturn]] static void out_of_range(int i) {
    char message[160];
    snprintf(message, sizeof message,
             "cooperative tensor element %d is out of range: this tensor holds %d elements per "
             "lane (%dx%d over 32 lanes)",
             i, capacity, Rows, Cols);
    metalsim_fail(METALSIM_ERR_OUT_OF_BOUNDS, message, __FILE__, __LINE__);
    __builtin_unreachable();
  }
};

template <class T>
struct is_cooperative : std::false_type {};
template <class T, int R, int C>
struct is_cooperative<cooperative_tensor<T, R, C>> : std::true_type {};

// An operand as a Rows x Cols float matrix: from every lane's cooperative tensor, or
// from a tensor view (uniform across the lanes: lane 0's is read).
inline const void* operand_of(const metalsim_call* call, int which) {
  return which == 0 ? call->in : which == 1 ? call->ptr : call->out;
}

template <class X, int Rows, int Cols>
void gather_operand(metalsim_call* const* lanes, int which, float* out) {
  using P = metal::remove_addrspace_t<std::remove_cv_t<X>>;
  if constexpr (is_cooperative<P>::value) {
    static_assert(P::rows == Rows && P::cols == Cols,
                  "matmul2d: a cooperative tensor's shape does not match the descriptor");
    for (int lane = 0; lane < 32; ++lane) {
      const P* x = static_cast<const P*>(operand_of(lanes[lane], which));
      for (int i = 0; i < P::capacity; ++i) {
        int row, column;
        P::position(lane, i, row, column);
        out[row * Cols + column] = static_cast<float>(x->values_[i]);
      }
    }
  } else {
    const P* t = static_cast<const P*>(operand_of(lanes[0], which));
    for (int row = 0; row < Rows; ++row)
      for (int column = 0; column < Cols; ++column)
        out[row * Cols + column] = column < t->get_extent(0) && row < t->get_extent(1)
                                       ? static_cast<float>(t->element(column, row))
                                       : 0.0f;
  }
}

template <int M, int N, int K, bool TL, bool TR, bool Accumulate, class A, class B, class C>
void resolve_mpp_matmul(metalsim_call* const* lanes, uint32_t mask, metalsim_diag* d) {
  if (!matrix_needs_full_simdgroup(mask, d, "mpp::tensor_ops::matmul2d::run")) return;
  constexpr int LR = TL ? K : M, LC = TL ? M : K, RR = TR ? N : K, RC = TR ? K : N;
  float* a = new float[LR * LC];
  float* b = new float[RR * RC];
  float* c = new float[M * N];
  gather_operand<A, LR, LC>(lanes, 0, a);
  gather_operand<B, RR, RC>(lanes, 1, b);
  if constexpr (Accumulate) gather_operand<C, M, N>(lanes, 2, c);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float acc = Accumulate ? c[m * N + n] : 0.0f;
      for (int k = 0; k < K; ++k)
        acc += (TL ? a[k * LC + m] : a[m * LC + k]) * (TR ? b[n * RC + k] : b[k * RC + n]);
      c[m * N + n] = acc;
    }
  for (int lane = 0; lane < 32; ++lane) {
    C* out = static_cast<C*>(lanes[lane]->out);
    for (int i = 0; i < C::capacity; ++i) {
      int row, column;
      C::position(lane, i, row, column);
      out->values_[i] = convert_element<typename C::value_type>(c[row * N + column]);
    }
  }
  delete[] a;
  delete[] b;
  delete[] c;
}

}  // namespace metalsim

namespace mpp {
namespace tensor_ops {

struct matmul2d_descriptor {
  enum class mode { multiply, multiply_accumulate };
  int m = 0, n = 0, k = 0;
  bool transpose_left = false, transpose_right = false, relaxed_precision = false;
  mode matmul_mode = mode::multiply;
  constexpr matmul2d_descriptor(int m_, int n_, int k_, bool transpose_left_ = false,
                                bool transpose_right_ = false, bool relaxed_precision_ = false,
                                mode matmul_mode_ = mode::multiply)
      : m(m_),
        n(n_),
        k(k_),
        transpose_left(transpose_left_),
        transpose_right(transpose_right_),
        relaxed_precision(relaxed_precision_),
        matmul_mode(matmul_mode_) {}
};

template <matmul2d_descriptor Descriptor, class Scope, class... Rest>
struct matmul2d {
  static_assert(std::is_same_v<Scope, metal::execution_simdgroup>,
                "the simulator runs matmul2d on one SIMD-group (metal::execution_simdgroup)");
  static constexpr int M = Descriptor.m, N = Descriptor.n, K = Descriptor.k;
  static constexpr bool TL = Descriptor.transpose_left, TR = Descriptor.transpose_right;
  static constexpr bool accumulate =
      Descriptor.matmul_mode == matmul2d_descriptor::mode::multiply_accumulate;

  template <class A, class B, class C>
  auto get_left_input_cooperative_tensor() const {
    return metalsim::cooperative_tensor<A, TL ? K : M, TL ? M : K>{};
  }
  template <class A, class B, class C>
  auto get_right_input_cooperative_tensor() const {
    return metalsim::cooperative_tensor<B, TR ? N : K, TR ? K : N>{};
  }
  template <class A, class B, class C>
  auto get_destination_cooperative_tensor() const {
    return metalsim::cooperative_tensor<C, M, N>{};
  }

  // C = A * B (+ C in multiply_accumulate mode): a SIMD-group collective.
  template <class A, class B, class C>
  METALSIM_GLUE void run(const A& a, const B& b, C& c, METALSIM_SITE) const {
    using PC = metal::remove_addrspace_t<std::remove_cv_t<C>>;
    static_assert(metalsim::is_cooperative<PC>::value,
                  "the simulator's matmul2d writes a cooperative tensor destination");
    metalsim_call call = metalsim::site_call(
        &metalsim::resolve_mpp_matmul<M, N, K, TL, TR, accumulate, A, B, PC>, METALSIM_SITE_ARGS);
    call.in = &a;
    call.ptr = &b;
    call.out = &c;
    metalsim_collective(&call);
  }
};

}  // namespace tensor_ops
}  // namespace mpp
