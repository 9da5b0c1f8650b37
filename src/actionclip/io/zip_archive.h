#pragma once
// A read-only zip reader for the archives torch.save and TorchScript write: stored entries
// (tensor data) and deflated ones (TorchScript's code), zip64 included. Every offset and size in the directory is checked against
// the file before anything is allocated, so a corrupt or hostile directory costs an error,
// never a huge allocation; entries are verified against their CRC-32 when read.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actionclip/io/byte_source.h"

namespace actionclip::io {

class ZipArchive {
 public:
  struct Entry {
    uint64_t size = 0;          // bytes of data, uncompressed
    uint64_t compressed_size = 0;
    bool deflated = false;
    uint64_t header_offset = 0; // local file header
    uint32_t crc32 = 0;
  };

  // Reads the central directory; throws FileError naming the file for anything malformed.
  explicit ZipArchive(std::shared_ptr<const ByteSource> file);

  const std::string& path() const { return file_->path(); }
  uint64_t file_size() const { return file_->size(); }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  // Size of entry `name`; throws FileError when it is missing.
  uint64_t size_of(const std::string& name) const;

  // Copies entry `name` into `out` (exactly size_of(name) bytes), checking its CRC-32 when
  // `verify` (deflated entries are always checked).
  void read(const std::string& name, void* out, bool verify = true) const;
  std::string read_string(const std::string& name) const;
  // Where the bytes of entry `name` start in the file when it is stored as it is (not deflated).
  std::optional<uint64_t> stored_data_offset(const std::string& name) const;

 private:
  const Entry& entry(const std::string& name) const;
  uint64_t data_offset(const std::string& name, const Entry& e) const;
  void read_at(uint64_t offset, void* out, uint64_t size) const;
  void inflate_into(const std::string& name, uint64_t offset, const Entry& e, void* out) const;
  void read_directory();

  std::shared_ptr<const ByteSource> file_;
  std::map<std::string, Entry> entries_;
};

}  // namespace actionclip::io
