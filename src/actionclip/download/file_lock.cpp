#include "actionclip/download/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "actionclip/util/error.h"

namespace actionclip {

FileLock::FileLock(const std::string& path, const std::function<void()>& on_wait)
    : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
  if (fd_ < 0) throw FileError(path, std::string("cannot create the lock file: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  if (errno == EWOULDBLOCK && on_wait) on_wait();
  int result;
  while ((result = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
  }
  if (result != 0) {
    const int err = errno;
    ::close(fd_);
    throw FileError(path, std::string("cannot lock: ") + std::strerror(err));
  }
}

// Closing the descriptor releases the lock. The file stays: removing it could let a third
// process lock a new file of the same name while a second still waits on the old one.
FileLock::~FileLock() { ::close(fd_); }

}  // namespace actionclip
