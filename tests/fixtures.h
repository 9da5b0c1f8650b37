#pragma once
// Locates ../shared/fixtures (or $ACTIONCLIP_FIXTURES) for parity tests.
#include <gtest/gtest.h>

#include "actionclip/build_paths.h"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace actionclip::testing {

inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("ACTIONCLIP_FIXTURES")) return env;
  return std::filesystem::path(ACTIONCLIP_SOURCE_DIR) / ".." / "shared" / "fixtures";
}

inline std::filesystem::path shared_data_dir() { return fixtures_dir() / ".." / "data"; }

inline std::string fixture(const std::string& relative) { return (fixtures_dir() / relative).string(); }

}  // namespace actionclip::testing

// Skips (visibly) when the shared fixtures are not present.
#define REQUIRE_FIXTURES()                                                              \
  do {                                                                                  \
    if (!std::filesystem::exists(actionclip::testing::fixtures_dir()))                  \
      GTEST_SKIP() << "fixtures not found at " << actionclip::testing::fixtures_dir()   \
                   << " (set ACTIONCLIP_FIXTURES)";                                     \
  } while (0)
