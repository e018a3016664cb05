// Apple-internal builtins of Metal's own headers (`__metal_exp(x, fast)`), which MLX's
// bf16_math.h calls directly. Not in the MSL specification: each maps onto the public
// metal:: function, and the fast-math argument is dropped (the simulator has one
// implementation of each function; docs/simulator.md, Numerics).
#pragma once

#include "math.h"
#include "simd.h"

#define __METAL_MAYBE_FAST_MATH__ 0
#define __METAL_FAST_MATH__ 1
#define __METAL_PRECISE_MATH__ 2

#define __metal_acos(x, ...) ::metal::acos(x)
#define __metal_acosh(x, ...) ::metal::acosh(x)
#define __metal_asin(x, ...) ::metal::asin(x)
#define __metal_asinh(x, ...) ::metal::asinh(x)
#define __metal_atan(x, ...) ::metal::atan(x)
#define __metal_atanh(x, ...) ::metal::atanh(x)
#define __metal_ceil(x, ...) ::metal::ceil(x)
#define __metal_cos(x, ...) ::metal::cos(x)
#define __metal_cosh(x, ...) ::metal::cosh(x)
#define __metal_cospi(x, ...) ::metal::cospi(x)
#define __metal_exp(x, ...) ::metal::exp(x)
#define __metal_exp10(x, ...) ::metal::exp10(x)
#define __metal_exp2(x, ...) ::metal::exp2(x)
#define __metal_fabs(x, ...) ::metal::fabs(x)
#define __metal_floor(x, ...) ::metal::floor(x)
#define __metal_fract(x, ...) ::metal::fract(x)
#define __metal_log(x, ...) ::metal::log(x)
#define __metal_log10(x, ...) ::metal::log10(x)
#define __metal_log2(x, ...) ::metal::log2(x)
#define __metal_rint(x, ...) ::metal::rint(x)
#define __metal_round(x, ...) ::metal::round(x)
#define __metal_rsqrt(x, ...) ::metal::rsqrt(x)
#define __metal_sin(x, ...) ::metal::sin(x)
#define __metal_sinh(x, ...) ::metal::sinh(x)
#define __metal_sinpi(x, ...) ::metal::sinpi(x)
#define __metal_sqrt(x, ...) ::metal::sqrt(x)
#define __metal_tan(x, ...) ::metal::tan(x)
#define __metal_tanh(x, ...) ::metal::tanh(x)
#define __metal_tanpi(x, ...) ::metal::tanpi(x)
#define __metal_trunc(x, ...) ::metal::trunc(x)
#define __metal_atan2(x, y, ...) ::metal::atan2(x, y)
#define __metal_divide(x, y, ...) ::metal::divide(x, y)
#define __metal_fmax(x, y, ...) ::metal::fmax(x, y)
#define __metal_fmin(x, y, ...) ::metal::fmin(x, y)
#define __metal_fmod(x, y, ...) ::metal::fmod(x, y)
#define __metal_nextafter(x, y, ...) ::metal::nextafter(x, y)
#define __metal_pow(x, y, ...) ::metal::pow(x, y)
#define __metal_powr(x, y, ...) ::metal::powr(x, y)
#define __metal_fmax3(x, y, z, ...) ::metal::fmax3(x, y, z)
#define __metal_fmin3(x, y, z, ...) ::metal::fmin3(x, y, z)
#define __metal_fmedian3(x, y, z, ...) ::metal::fmedian3(x, y, z)
#define __metal_fma(x, y, z, ...) ::metal::fma(x, y, z)
#define __metal_frexp(x, e, ...) ::metal::frexp(x, *(e))
#define __metal_ldexp(x, k, ...) ::metal::ldexp(x, k)
#define __metal_simd_max(x) ::metal::simd_max(x)
#define __metal_simd_min(x) ::metal::simd_min(x)
#define __metal_simd_prefix_exclusive_product(x) ::metal::simd_prefix_exclusive_product(x)
#define __metal_simd_prefix_exclusive_sum(x) ::metal::simd_prefix_exclusive_sum(x)
#define __metal_simd_prefix_inclusive_product(x) ::metal::simd_prefix_inclusive_product(x)
#define __metal_simd_prefix_inclusive_sum(x) ::metal::simd_prefix_inclusive_sum(x)
#define __metal_simd_product(x) ::metal::simd_product(x)
#define __metal_simd_sum(x) ::metal::simd_sum(x)
// Apple's builtin also takes float (MLX instantiates it for bfloat): xor of the bits.
#define __metal_simd_xor(x) \
  ::metal::as_type<float>(::metal::simd_xor(::metal::as_type<uint>(float(x))))
#define __metal_simd_broadcast(...) ::metal::simd_broadcast(__VA_ARGS__)
#define __metal_simd_shuffle(...) ::metal::simd_shuffle(__VA_ARGS__)
#define __metal_simd_shuffle_and_fill_down(...) ::metal::simd_shuffle_and_fill_down(__VA_ARGS__)
#define __metal_simd_shuffle_and_fill_up(...) ::metal::simd_shuffle_and_fill_up(__VA_ARGS__)
#define __metal_simd_shuffle_down(...) ::metal::simd_shuffle_down(__VA_ARGS__)
#define __metal_simd_shuffle_rotate_down(...) ::metal::simd_shuffle_rotate_down(__VA_ARGS__)
#define __metal_simd_shuffle_rotate_up(...) ::metal::simd_shuffle_rotate_up(__VA_ARGS__)
#define __metal_simd_shuffle_up(...) ::metal::simd_shuffle_up(__VA_ARGS__)
#define __metal_simd_shuffle_xor(...) ::metal::simd_shuffle_xor(__VA_ARGS__)
#define __metal_get_simdgroup_size(...) ((ushort)32)
#define __metal_get_thread_index_in_simdgroup(...) ((ushort)metalsim_lane_id())
