#pragma once
// A scratch folder per test: unique under the system temporary folder, created on construction and
// removed (never throwing) on destruction.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace actionclip::testing {

class TempDir {
 public:
  // Named PREFIX + current test name + "_" + pid + "_" + a process-wide counter.
  explicit TempDir(const std::string& prefix = "actionclip_") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info ? info->name() : "no_test";
    std::replace(test.begin(), test.end(), '/', '_');  // parameterized tests are named "Name/0"
    path_ = std::filesystem::temp_directory_path() /
            (prefix + test + "_" + std::to_string(::getpid()) + "_" + std::to_string(next_id()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }
  std::string path(const std::string& relative) const { return (path_ / relative).string(); }

  // Writes `bytes` exactly as given (binary, so CRLF stays CRLF) to RELATIVE under the folder,
  // creating its parent folders; returns the file's path.
  std::string write(const std::string& relative, const std::string& bytes) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return file.string();
  }

 private:
  static int next_id() {
    static int counter = 0;
    return counter++;
  }

  std::filesystem::path path_;
};

}  // namespace actionclip::testing
