#pragma once
// An exclusive advisory lock between processes (flock on a lock file), so that two processes
// fetching the same file take turns instead of writing into each other's bytes.
#include <functional>
#include <string>

namespace actionclip {

class FileLock {
 public:
  // Creates `path` when missing and blocks until this process holds its lock. `on_wait` runs
  // once, before blocking, when another process holds it.
  explicit FileLock(const std::string& path, const std::function<void()>& on_wait = {});
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace actionclip
