// main() of an AddressSanitizer kernel executable (one per .metal file and kernel
// set). torch_metalgen/sim/isolated.py writes a request file, runs this in a
// subprocess, and reads the buffers back; a crash or an ASan report stays in the child.
//
// Every buffer gets its own exact-size heap allocation, so one element past the end
// lands in an ASan redzone.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "metalsim/rt.h"

extern "C" const int metalsim_kernel_count;
extern "C" const metalsim_kernel_info metalsim_kernels[];

namespace {

struct Reader {
  FILE* f;
  template <class T>
  T get() {
    T v{};
    if (std::fread(&v, sizeof v, 1, f) != 1) fail("truncated request");
    return v;
  }
  void bytes(void* out, size_t n) {
    if (n && std::fread(out, 1, n, f) != n) fail("truncated request");
  }
  [[noreturn]] static void fail(const char* what) {
    std::fprintf(stderr, "metalsim asan driver: %s\n", what);
    std::exit(3);
  }
};

struct Buffer {
  uint32_t index;
  uint64_t size;
  void* data;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s REQUEST RESPONSE\n", argv[0]);
    return 2;
  }
  FILE* in = std::fopen(argv[1], "rb");
  if (!in) Reader::fail("cannot open the request file");
  Reader r{in};
  char magic[8];
  r.bytes(magic, 8);
  if (std::memcmp(magic, "MSIMREQ1", 8) != 0) Reader::fail("bad request magic");
  std::string name(r.get<uint32_t>(), '\0');
  r.bytes(name.data(), name.size());

  metalsim_launch_desc desc{};
  desc.kernel_name = name.c_str();
  for (int k = 0; k < 3; ++k) desc.grid[k] = r.get<uint32_t>();
  for (int k = 0; k < 3; ++k) desc.threadgroup[k] = r.get<uint32_t>();
  desc.dispatch_threadgroups = r.get<int32_t>();
  desc.order = r.get<int32_t>();
  desc.seed = r.get<uint64_t>();
  desc.poison_inactive = r.get<int32_t>();
  for (int i = 0; i < METALSIM_MAX_BINDINGS; ++i) desc.threadgroup_lengths[i] = r.get<uint32_t>();
  std::vector<Buffer> buffers(r.get<uint32_t>());
  for (Buffer& b : buffers) {
    b.index = r.get<uint32_t>();
    b.size = r.get<uint64_t>();
    b.data = b.size ? std::malloc(b.size) : nullptr;
    r.bytes(b.data, b.size);
    if (b.index < METALSIM_MAX_BINDINGS) desc.buffers[b.index] = b.data;
  }
  std::fclose(in);

  for (int i = 0; i < metalsim_kernel_count; ++i) {
    if (metalsim_kernels[i].host_name && name == metalsim_kernels[i].host_name)
      desc.entry = metalsim_kernels[i].entry;
  }
  if (!desc.entry) Reader::fail("unknown kernel");
  metalsim_launch(&desc);

  FILE* out = std::fopen(argv[2], "wb");
  if (!out) Reader::fail("cannot open the response file");
  const int32_t kind = desc.error_kind;
  const uint32_t length = static_cast<uint32_t>(std::strlen(desc.error));
  std::fwrite(&kind, sizeof kind, 1, out);
  std::fwrite(&length, sizeof length, 1, out);
  std::fwrite(desc.error, 1, length, out);
  for (const Buffer& b : buffers) {
    std::fwrite(&b.size, sizeof b.size, 1, out);
    if (b.size) std::fwrite(b.data, 1, b.size, out);
  }
  std::fclose(out);
  for (Buffer& b : buffers) std::free(b.data);
  return 0;
}
