// Fallbacks for compiler support routines that some toolchains leave out of a shared
// library (zig links no __truncsfbf2 into -shared outputs; libgcc 12 has none). Weak,
// so a real compiler-rt definition wins; exported, so kernel libraries loaded after
// libmetalsim.so resolve against it.
#include <cstdint>
#include <cstring>

extern "C" __attribute__((weak, visibility("default"))) __bf16 __truncsfbf2(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  uint16_t out;
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    out = static_cast<uint16_t>((bits >> 16) | 0x0040u);  // NaN stays NaN, made quiet
  } else {
    bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest, ties to even
    out = static_cast<uint16_t>(bits >> 16);
  }
  __bf16 result;
  std::memcpy(&result, &out, sizeof result);
  return result;
}
