#pragma once
// Positional reads from a file (or bytes already in memory), every one checked against the
// size first: a size or offset read from a corrupt file becomes an error, never a read or an
// allocation past the end.
#include <cstdint>
#include <string>
#include <string_view>

namespace actionclip::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The file the bytes are, for error messages.
  virtual const std::string& path() const = 0;
  virtual uint64_t size() const = 0;
  // Exactly `size` bytes at `offset`; FileError("... truncated ...") when they are not all there.
  void read_at(uint64_t offset, void* out, uint64_t size) const;

 protected:
  virtual void read_unchecked(uint64_t offset, void* out, uint64_t size) const = 0;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path);  // FileError when missing or not a regular file
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  const std::string& path() const override { return path_; }
  uint64_t size() const override { return size_; }

 private:
  void read_unchecked(uint64_t offset, void* out, uint64_t size) const override;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Bytes owned by the caller, which must outlive the source.
class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string path, std::string_view bytes) : path_(std::move(path)), bytes_(bytes) {}
  const std::string& path() const override { return path_; }
  uint64_t size() const override { return bytes_.size(); }

 private:
  void read_unchecked(uint64_t offset, void* out, uint64_t size) const override;
  std::string path_;
  std::string_view bytes_;
};

}  // namespace actionclip::io
