// Launch preferences: a tuned (variant, threads per threadgroup) per (op, dtype, size
// bucket), which the generated plan_<op> prefers over its own `when` conditions.
//
// The runtime installs them (torch_metalgen/tuning.py: the shipped tuning table's entries
// for this GPU family, then the user's table written by `python -m torch_metalgen tune`).
// A preference is only a preference: the plan takes it when the variant's `requires` holds
// for the input and its threadgroups fit the (lowered) thread limit, and otherwise plans as
// if there were none, so a wrong or stale table can make a launch slower, never incorrect.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace metalgen {

struct LaunchPreference {
  std::string variant;
  int64_t max_threads;  // threads per threadgroup the variant is planned under
};

// The bucket a size falls in: the smallest power of two at or above it (at least 1).
int64_t size_bucket(int64_t size);

void set_launch_preference(const std::string& op, at::ScalarType dtype, int64_t bucket,
                           const std::string& variant, int64_t max_threads);
void clear_launch_preferences();
std::optional<LaunchPreference> launch_preference(const char* op, at::ScalarType dtype,
                                                  int64_t size);
// (op, dtype, bucket, variant, max_threads) of every preference, for reports and tests.
std::vector<std::tuple<std::string, std::string, int64_t, std::string, int64_t>>
list_launch_preferences();

}  // namespace metalgen
