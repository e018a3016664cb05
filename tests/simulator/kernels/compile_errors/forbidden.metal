// One construct per helper, each valid C++ and invalid Metal (docs/simulator.md, Strict
// MSL conformance). tests/simulator/test_conformance.py expects each at its line: keep the
// `// line N` markers in step with the code.
#include <metal_stdlib>
using namespace metal;

extern "C" int getpid();
extern "C" int printf(const char*, ...);

float g_mutable;                                           // line 10: mutable global
thread_local float g_thread_local = 0;                     // line 11: thread_local

float factorial(float x) { return x <= 1 ? 1 : x * factorial(x - 1); }  // line 13: recursion

float uses_new(float x) {
  float* p = new float[4];                                 // line 16: new
  p[0] = x;
  float r = p[0];
  delete[] p;                                              // line 19: delete
  return r;
}

float uses_alloca(float x) {
  float* a = (float*)__builtin_alloca(16);                 // line 24: alloca
  a[0] = x;
  return a[0];
}

struct Shape {
  virtual float area() { return 1; }                       // line 30: virtual
};

float twice(float x) { return 2 * x; }
float uses_function_pointer(float x) {
  float (*f)(float) = &twice;                              // line 35: function pointer
  return f(x);
}

float uses_lambda(float x) {
  auto l = [](float v) { return v + 1; };                  // line 40: lambda
  return l(x);
}

float uses_goto(float x) {
  if (x > 0) goto done;                                    // line 45: goto
  x = -x;
done:
  return x;
}

float uses_static_local(float x) {
  static float seen = 0;                                   // line 52: static local
  seen += x;
  return seen;
}

float uses_printf(float x) {
  printf("%f", x);                                         // line 58: printf
  return x;
}

float uses_asm(float x) {
  asm volatile("nop");                                     // line 63: inline asm
  return x;
}

float uses_host_call(float x) { return x + float(getpid()); }  // line 67: host libc

float uses_int128(float x) {
  __int128 big = 1;                                        // line 70: __int128
  return x + float(big);
}

float uses_noexcept(float x) {
  return noexcept(twice(x)) ? x : -x;                      // line 75: noexcept
}

float uses_threadgroup_in_helper(float x) {
  threadgroup float scratch[4];                            // line 79: threadgroup in helper
  scratch[0] = x;
  return scratch[0];
}

float bfloat_from_float(float x) {
  bfloat b = x;                                            // line 85: float -> bfloat
  return float(b);
}

kernel float returns_value(device float* out [[buffer(0)]],  // line 89: non-void kernel
                           uint i [[thread_position_in_grid]]) {
  out[i] = 1;
  return 1;
}

kernel void callee_kernel(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 2;
}

kernel void calls_kernel(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  callee_kernel(out, i);                                   // line 100: kernel from kernel
}

kernel void bad_atomics(device atomic<long>* counter [[buffer(0)]],  // line 103: atomic<long>
                        device atomic_float* total [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  atomic_fetch_add_explicit(counter, 1l, memory_order_relaxed);
  atomic_fetch_min_explicit(total, 1.0f, memory_order_relaxed);  // line 107: float min
}

kernel void casts(constant float* in [[buffer(0)]], device float* out [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  threadgroup float tile[32];
  tile[i % 32] = in[i];
  ((device float*)in)[0] = 1;                              // line 114: constant -> device
  device float* alias = (device float*)&tile[0];           // line 115: threadgroup -> device
  out[i] = alias[0] + factorial(2) + uses_new(1) + uses_alloca(1) + Shape().area() +
           uses_function_pointer(1) + uses_lambda(1) + uses_goto(1) + uses_static_local(1) +
           uses_printf(1) + uses_asm(1) + uses_host_call(1) + uses_int128(1) + uses_noexcept(1) +
           uses_threadgroup_in_helper(1) + bfloat_from_float(1) + g_mutable + g_thread_local;
}
