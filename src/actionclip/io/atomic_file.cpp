#include "actionclip/io/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "actionclip/util/error.h"

namespace actionclip::io {
namespace {

namespace fs = std::filesystem;

// Removes the temporary file unless it was moved into place: a writer that throws, a full disk
// or a failed rename leaves nothing behind.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!committed_) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }
  const std::string& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

// fsync of a path opened with `flags`; errno on failure, 0 on success.
int sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  TemporaryFile temporary(path + ".tmp." + std::to_string(::getpid()));
  {
    std::ofstream out(temporary.path(), std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "cannot open for writing");
    write(out);
    out.close();
    if (!out) throw FileError(path, "write failed (disk full?)");
  }
  move_into_place(temporary.path(), path);
  temporary.commit();
}

void move_into_place(const std::string& temporary, const std::string& path) {
  // The data must be on disk before the rename makes it the file: otherwise a crash can leave
  // the new name pointing at an empty or partial file.
  if (const int err = sync_path(temporary, O_WRONLY))
    throw FileError(path, std::string("cannot flush the written file to disk: ") + std::strerror(err));
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) throw FileError(path, "cannot move the written file into place: " + ec.message());
  // The rename itself lives in the directory. Filesystems that cannot sync a directory say EINVAL.
  const auto parent = fs::path(path).parent_path();
  if (const int err = sync_path(parent.empty() ? "." : parent.string(), O_RDONLY | O_DIRECTORY); err && err != EINVAL)
    throw FileError(path, std::string("cannot flush the folder's entry to disk: ") + std::strerror(err));
}

}  // namespace actionclip::io
