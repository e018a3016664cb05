// Forms real Metal code uses (MLX, ggml) that C++ spells differently: each kernel
// exercises one, and test_msl_forms.py checks its result.
#include <metal_stdlib>
using namespace metal;

// half <-> bfloat conversions, scalar, vector and matrix (clang refuses every one).
kernel void half_bfloat(device const half* h [[buffer(0)]],
                        device bfloat* b [[buffer(1)]],
                        device half* back [[buffer(2)]],
                        uint i [[thread_position_in_grid]]) {
  if (i == 0) {
    const half4 v = half4(h[0], h[1], h[2], h[3]);
    const bfloat4 bv = static_cast<bfloat4>(v);
    const half4x4 m = half4x4(v, v, v, v);
    const bfloat4x4 bm = bfloat4x4(m);
    b[0] = static_cast<bfloat>(h[0]);
    b[1] = bfloat(h[1]);
    b[2] = bv.z;
    b[3] = bm[3][3];
    back[0] = half(b[0]);
    back[1] = static_cast<half>(bv.y);
  }
}

// A comparison converted to a number is 1 where it holds (Metal's boolN), in place.
template <typename T>
kernel void sign_of(device const T* x [[buffer(0)]],
                    device T* out [[buffer(1)]],
                    uint i [[thread_position_in_grid]]) {
  out[i] = T(x[i] > 0) - T(x[i] < 0);
}
template [[host_name("sign_of_float4")]] kernel decltype(sign_of<float4>) sign_of<float4>;

// A conditional is its branch's value, not its condition's: T(n == 0 ? 0 : x / n) and
// (float4)(i < 2 ? a : b) convert the chosen branch (Metal's ?: takes a scalar condition).
template <typename T>
kernel void divide_or_zero(device const T* x [[buffer(0)]],
                           device const T* n [[buffer(1)]],
                           device T* out [[buffer(2)]],
                           device float4* picked [[buffer(3)]],
                           uint i [[thread_position_in_grid]]) {
  out[i] = T(n[i] == T(0) ? T(0) : x[i] / n[i]) + T(i < 2 ? x[i] : n[i]);
  picked[i] = (float4)(i < 2 ? float4(x[i]) : float4(n[i]));
}
template [[host_name("divide_or_zero_float")]] kernel decltype(divide_or_zero<float>)
    divide_or_zero<float>;

kernel void mask_cast(device const float4* x [[buffer(0)]],
                      device float4* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  out[i] = (float4)(x[i] >= 1.0f) + half4(x[i] == 0.0f).x;
}

// Braced lists as arguments, vector constructors through vec<T, N> and aliases,
// direct-initialization, uniform<T>.
template <typename IdxT>
IdxT flatten(uint3 position, constant const int* shape) {
  return IdxT(position.x) + IdxT(shape[0]) * (IdxT(position.y) + IdxT(shape[1]) * position.z);
}

template <typename T>
struct Pair {
  using pair_t = vec<T, 2>;
  static pair_t make(T a, T b) {
    return pair_t(a, b);
  }
};

kernel void construct(device float* out [[buffer(0)]],
                      constant int* shape [[buffer(1)]],
                      uint3 gid [[thread_position_in_grid]]) {
  const int2 offset(1, 2);
  const uniform<int> width = make_uniform(shape[0]);
  const uniform<int> twice = width * 2;
  const vec<float, 2> v = vec<float, 2>(float(offset.x), float(offset.y));
  const float2 w = Pair<float>::make(3.0f, 4.0f);
  const long index = flatten<long>({gid.x, gid.y, gid.z}, shape);
  out[index] = v.x + v.y + w.x * w.y + float(int(twice)) + float(index);
}

// Function constants declared through a macro, as MLX's STEEL_CONST does.
#define MY_CONST static constant constexpr const
MY_CONST bool scale_output [[function_constant(7)]];

kernel void macro_constant(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = scale_output ? 2.0f : 1.0f;
}

// Overloads on the address space of `this` and of reference parameters (MLX complex.h,
// steel_gemm_masked.h), and a logger object in the constant address space built from
// string literals (MLX logging.h).
struct Flag {
  char x;
  constexpr operator bool() thread {
    return true;
  }
  constexpr operator bool() const threadgroup {
    return true;
  }
  constexpr operator bool() const device {
    return true;
  }
};

struct Acc {
  float v;
};
constexpr thread Acc& operator+=(thread Acc& a, float b) {
  a.v += b;
  return a;
}
constexpr device Acc& operator+=(device Acc& a, float b) {
  a.v += b;
  return a;
}

struct Logger {
  constexpr Logger(constant char*, constant char*) constant {}
  template <typename... Args>
  void log_debug(constant char*, Args...) const thread {}
  template <typename... Args>
  void log_debug(constant char*, Args...) const constant {}
};
constant Logger logger("sim", "forms");

kernel void overloads(device Acc* acc [[buffer(0)]],
                      device const Flag* flags [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  Acc local{1.0f};
  local += 1.0f;
  logger.log_debug("value %f", local.v);
  if (bool(flags[i])) {
    acc[i] += local.v;
  }
}

// A function as a template argument (MLX's FFT codelets): resolved at compile time.
float twice(float x) {
  return 2 * x;
}
template <float (*F)(float)>
float apply(float x) {
  return F(x);
}
kernel void function_argument(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = apply<twice>(float(i));
}

// simdgroup_multiply_accumulate with half inputs and a float accumulator (ggml).
kernel void mixed_mma(device const half* a [[buffer(0)]],
                      device const half* b [[buffer(1)]],
                      device float* c [[buffer(2)]]) {
  simdgroup_half8x8 ma, mb;
  simdgroup_float8x8 mc = make_filled_simdgroup_matrix<float, 8>(1.0f);
  simdgroup_load(ma, a, 8);
  simdgroup_load(mb, b, 8);
  simdgroup_multiply_accumulate(mc, ma, mb, mc);
  simdgroup_store(mc, c, 8);
}

// A macro from the compile options (defines=).
kernel void defined_macro(device int* out [[buffer(0)]]) {
#ifdef SIM_VALUE
  out[0] = SIM_VALUE;
#else
  out[0] = -1;
#endif
}
