// Atomic file replacement: complete new contents or the old file, and no temporary files left.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "actionclip/io/atomic_file.h"
#include "actionclip/util/error.h"
#include "temp_dir.h"

namespace actionclip::io {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t entries_in(const fs::path& folder) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(folder)) ++n;
  return n;
}

TEST(AtomicFile, WritesAndReplacesLeavingOnlyTheTarget) {
  testing::TempDir dir;
  const auto target = dir.path("out.bin");
  write_file_atomically(target, [](std::ostream& out) { out << "first"; });
  EXPECT_EQ(read_text(target), "first");
  write_file_atomically(target, [](std::ostream& out) { out << std::string(100000, 'x'); });
  EXPECT_EQ(read_text(target), std::string(100000, 'x'));
  EXPECT_EQ(entries_in(dir.path()), 1u);
}

TEST(AtomicFile, AWriterThatThrowsLeavesTheTargetUntouchedAndNoTemporaryFile) {
  testing::TempDir dir;
  const auto target = dir.path("model.safetensors");
  write_file_atomically(target, [](std::ostream& out) { out << "old contents"; });
  EXPECT_THROW(write_file_atomically(target,
                                     [](std::ostream& out) {
                                       out << "half of the new";
                                       throw std::runtime_error("serialiser failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(read_text(target), "old contents");
  EXPECT_EQ(entries_in(dir.path()), 1u) << "a temporary file was left behind";

  // The same for a target that did not exist yet: nothing at all remains.
  const auto fresh = dir.path("fresh.npy");
  EXPECT_THROW(write_file_atomically(fresh, [](std::ostream&) { throw std::runtime_error("no"); }), std::runtime_error);
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_EQ(entries_in(dir.path()), 1u);
}

TEST(AtomicFile, AFolderThatDoesNotExistIsAFileErrorNamingThePath) {
  testing::TempDir dir;
  const auto target = dir.path("missing/out.bin");
  try {
    write_file_atomically(target, [](std::ostream& out) { out << "x"; });
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), target);
  }
}

// A target that is a folder cannot be replaced: the rename fails, the temporary file goes.
TEST(AtomicFile, AFailedRenameRemovesTheTemporaryFile) {
  testing::TempDir dir;
  fs::create_directories(dir.path("taken/inside"));
  EXPECT_THROW(write_file_atomically(dir.path("taken"), [](std::ostream& out) { out << "x"; }), FileError);
  EXPECT_TRUE(fs::is_directory(dir.path("taken")));
  EXPECT_EQ(entries_in(dir.path()), 1u);
}

}  // namespace
}  // namespace actionclip::io
