#include "tuning.h"

#include <c10/util/Exception.h>

#include <map>
#include <mutex>

namespace metalgen {
namespace {

using Key = std::tuple<std::string, at::ScalarType, int64_t>;

std::mutex& table_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<Key, LaunchPreference>& table() {
  static std::map<Key, LaunchPreference> preferences;
  return preferences;
}

}  // namespace

int64_t size_bucket(int64_t size) {
  int64_t bound = 1;
  while (bound < size) bound *= 2;
  return bound;
}

void set_launch_preference(const std::string& op, at::ScalarType dtype, int64_t bucket,
                           const std::string& variant, int64_t max_threads) {
  TORCH_CHECK_VALUE(bucket >= 1 && size_bucket(bucket) == bucket,
                    "launch preference: bucket must be a power of two, got ", bucket);
  TORCH_CHECK_VALUE(max_threads >= 32 && max_threads <= 1024,
                    "launch preference: max_threads must be 32 to 1024, got ", max_threads);
  std::lock_guard<std::mutex> lock(table_mutex());
  table()[Key(op, dtype, bucket)] = LaunchPreference{variant, max_threads};
}

void clear_launch_preferences() {
  std::lock_guard<std::mutex> lock(table_mutex());
  table().clear();
}

std::optional<LaunchPreference> launch_preference(const char* op, at::ScalarType dtype,
                                                  int64_t size) {
  std::lock_guard<std::mutex> lock(table_mutex());
  if (table().empty()) return std::nullopt;
  const auto found = table().find(Key(op, dtype, size_bucket(size)));
  if (found == table().end()) return std::nullopt;
  return found->second;
}

std::vector<std::tuple<std::string, std::string, int64_t, std::string, int64_t>>
list_launch_preferences() {
  std::lock_guard<std::mutex> lock(table_mutex());
  std::vector<std::tuple<std::string, std::string, int64_t, std::string, int64_t>> rows;
  for (const auto& [key, preference] : table()) {
    rows.emplace_back(std::get<0>(key), c10::toString(std::get<1>(key)), std::get<2>(key),
                      preference.variant, preference.max_threads);
  }
  return rows;
}

}  // namespace metalgen
