// Metal 4 tensors (<metal_tensor>, MSL 4.0), the subset MLX's NAX kernels use:
// metal::tensor<device T, extents, tensor_inline> over device or threadgroup memory with
// per-dimension strides, static and dynamic extents, and slices. Dimension 0 is the
// innermost one (a row-major matrix of R rows and C columns has extents (C, R) and
// strides (1, ld)), as in MPP's matmul2d.
//
// Only files that include <metal_tensor> or <MetalPerformancePrimitives/...> see this
// header; they are compiled as MSL 4.0 (build.py).
#pragma once

#include "types.h"

namespace metal {

constexpr size_t dynamic_extent = static_cast<size_t>(-1);

template <class IndexType, size_t... Extents>
struct extents {
  using index_type = IndexType;
  static constexpr size_t rank() { return sizeof...(Extents); }
  static constexpr size_t static_extent(size_t r) {
    constexpr size_t values[] = {Extents...};
    return values[r];
  }
  IndexType values_[sizeof...(Extents)] = {};

  constexpr extents() {
    size_t r = 0;
    ((values_[r++] = Extents == dynamic_extent ? 0 : static_cast<IndexType>(Extents)), ...);
  }
  // One value per dimension, or one per dynamic dimension (the static ones are known).
  template <class... I,
            std::enable_if_t<sizeof...(I) == sizeof...(Extents) && (sizeof...(I) > 0), int> = 0>
  constexpr extents(I... values) : values_{static_cast<IndexType>(values)...} {}
  constexpr IndexType extent(size_t r) const { return values_[r]; }
};

namespace detail {
template <class IndexType, size_t Rank, size_t... Done>
struct dynamic_extents {
  using type = typename dynamic_extents<IndexType, Rank - 1, dynamic_extent, Done...>::type;
};
template <class IndexType, size_t... Done>
struct dynamic_extents<IndexType, 0, Done...> {
  using type = extents<IndexType, Done...>;
};
}  // namespace detail

template <class IndexType, size_t Rank>
using dextents = typename detail::dynamic_extents<IndexType, Rank>::type;

// Descriptor tags: where the tensor's shape lives. The simulator keeps them inline.
struct tensor_inline {};
struct tensor_handle {};
struct tensor_offset {};

template <class ElementType, class Extents, class Descriptor = tensor_handle>
struct tensor {
  using element_type = ElementType;  // with its address space, e.g. `device float`
  using value_type = metal::remove_addrspace_t<std::remove_cv_t<ElementType>>;
  using extents_type = Extents;
  using index_type = typename Extents::index_type;
  static constexpr size_t rank = Extents::rank();

  ElementType* data_ = nullptr;
  Extents extents_{};
  index_type strides_[rank] = {};

  tensor() = default;
  template <class Strides>
  tensor(ElementType* data, Extents e, Strides strides) : data_(data), extents_(e) {
    for (size_t r = 0; r < rank; ++r) strides_[r] = static_cast<index_type>(strides[r]);
  }
  tensor(ElementType* data, Extents e) : data_(data), extents_(e) {
    index_type stride = 1;  // packed, dimension 0 innermost
    for (size_t r = 0; r < rank; ++r) {
      strides_[r] = stride;
      stride *= e.extent(r);
    }
  }

  index_type get_extent(size_t r) const { return extents_.extent(r); }
  index_type get_stride(size_t r) const { return strides_[r]; }
  ElementType* get_data() const { return data_; }

  // The element at the given index (dimension 0 first).
  template <class... I>
  ElementType& element(I... index) const {
    static_assert(sizeof...(I) == rank, "tensor: one index per dimension");
    const index_type at[] = {static_cast<index_type>(index)...};
    ptrdiff_t offset = 0;
    for (size_t r = 0; r < rank; ++r) offset += ptrdiff_t(at[r]) * strides_[r];
    return data_[offset];
  }

  // A view from `offsets` of the given sizes (dynamic_extent: to the end).
  template <size_t... Sizes, class... Offsets>
  auto slice(Offsets... offsets) const {
    static_assert(sizeof...(Sizes) == rank && sizeof...(Offsets) == rank,
                  "tensor::slice: one size and one offset per dimension");
    using sliced_extents = metal::extents<index_type, Sizes...>;
    const index_type at[] = {static_cast<index_type>(offsets)...};
    constexpr size_t sizes[] = {Sizes...};
    index_type values[rank];
    ptrdiff_t offset = 0;
    for (size_t r = 0; r < rank; ++r) {
      offset += ptrdiff_t(at[r]) * strides_[r];
      values[r] = sizes[r] == dynamic_extent ? extents_.extent(r) - at[r]
                                             : static_cast<index_type>(sizes[r]);
    }
    tensor<ElementType, sliced_extents, tensor_inline> result;
    result.data_ = data_ + offset;
    for (size_t r = 0; r < rank; ++r) {
      result.extents_.values_[r] = values[r];
      result.strides_[r] = strides_[r];
    }
    return result;
  }
};

template <class T>
struct is_tensor : std::false_type {};
template <class E, class X, class D>
struct is_tensor<tensor<E, X, D>> : std::true_type {};
template <class T>
constexpr bool is_tensor_v = is_tensor<metal::remove_addrspace_t<std::remove_cv_t<T>>>::value;

// Execution scopes of tensor operations.
struct execution_thread {};
struct execution_simdgroup {};
template <int N>
struct execution_simdgroups {};
struct execution_threadgroup {};

}  // namespace metal
