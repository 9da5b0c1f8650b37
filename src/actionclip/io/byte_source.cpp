#include "actionclip/io/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "actionclip/util/error.h"

namespace actionclip::io {

void ByteSource::read_at(uint64_t offset, void* out, uint64_t size) const {
  if (offset > this->size() || size > this->size() - offset)
    throw FileError(path(), "file is truncated: " + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                                " lie past its end (" + std::to_string(this->size()) + " bytes)");
  read_unchecked(offset, out, size);
}

FileSource::FileSource(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw FileError(path, "not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

FileSource::~FileSource() { ::close(fd_); }

void FileSource::read_unchecked(uint64_t offset, void* out, uint64_t size) const {
  auto* dst = static_cast<char*>(out);
  while (size > 0) {
    const auto got = ::pread(fd_, dst, std::min<uint64_t>(size, uint64_t{1} << 30), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw FileError(path_, "read failed (file changed or truncated while reading)");
    dst += got, offset += static_cast<uint64_t>(got), size -= static_cast<uint64_t>(got);
  }
}

void MemorySource::read_unchecked(uint64_t offset, void* out, uint64_t size) const {
  std::memcpy(out, bytes_.data() + offset, size);
}

}  // namespace actionclip::io
