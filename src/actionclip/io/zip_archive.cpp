#include "actionclip/io/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "actionclip/util/error.h"

namespace actionclip::io {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEndOfDirectory = 0x06054b50,
                   kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr uint64_t kEndOfDirectorySize = 22, kCentralHeaderSize = 46, kLocalHeaderSize = 30;

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Bounds-checked little-endian reads from one block of the file.
class Cursor {
 public:
  Cursor(const std::string& path, const std::vector<unsigned char>& bytes, uint64_t pos = 0)
      : path_(path), bytes_(bytes), pos_(pos) {}
  uint64_t take(int n) {
    need(static_cast<uint64_t>(n));
    auto v = le(bytes_.data() + pos_, n);
    pos_ += static_cast<uint64_t>(n);
    return v;
  }
  std::string text(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n) { need(n), pos_ += n; }
  uint64_t pos() const { return pos_; }

 private:
  void need(uint64_t n) const {
    if (n > bytes_.size() - std::min<uint64_t>(pos_, bytes_.size()))
      throw FileError(path_, "zip central directory is truncated (corrupt archive)");
  }
  const std::string& path_;
  const std::vector<unsigned char>& bytes_;
  uint64_t pos_;
};

}  // namespace

ZipArchive::ZipArchive(std::shared_ptr<const ByteSource> file) : file_(std::move(file)) { read_directory(); }

void ZipArchive::read_at(uint64_t offset, void* out, uint64_t size) const { file_->read_at(offset, out, size); }

void ZipArchive::read_directory() {
  if (file_size() < kEndOfDirectorySize) throw FileError(path(), "too short for a zip archive");
  // The end-of-directory record sits in the last 22 bytes plus a comment of up to 64 KiB.
  const auto tail_size = std::min<uint64_t>(file_size(), kEndOfDirectorySize + 0xFFFF);
  std::vector<unsigned char> tail(tail_size);
  read_at(file_size() - tail_size, tail.data(), tail_size);
  int64_t end_pos = -1;
  for (auto i = static_cast<int64_t>(tail_size - kEndOfDirectorySize); i >= 0; --i) {
    const auto* p = tail.data() + i;
    if (le(p, 4) == kEndOfDirectory && static_cast<uint64_t>(i) + kEndOfDirectorySize + le(p + 20, 2) == tail_size) {
      end_pos = i;
      break;
    }
  }
  if (end_pos < 0) throw FileError(path(), "no zip end-of-directory record (truncated or not a zip archive)");
  Cursor end(path(), tail, static_cast<uint64_t>(end_pos) + 4);
  const auto disk = end.take(2), directory_disk = end.take(2);
  end.skip(2);
  uint64_t count = end.take(2), directory_size = end.take(4), directory_offset = end.take(4);
  if (disk != 0 || directory_disk != 0) throw FileError(path(), "multi-part zip archives are not supported");

  if (count == 0xFFFF || directory_size == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
    const auto locator_pos = file_size() - tail_size + static_cast<uint64_t>(end_pos);
    if (locator_pos < 20) throw FileError(path(), "zip64 locator is missing (corrupt archive)");
    std::vector<unsigned char> locator(20);
    read_at(locator_pos - 20, locator.data(), 20);
    if (le(locator.data(), 4) != kZip64Locator) throw FileError(path(), "zip64 locator is missing (corrupt archive)");
    std::vector<unsigned char> record(56);
    read_at(le(locator.data() + 8, 8), record.data(), record.size());
    if (le(record.data(), 4) != kZip64End) throw FileError(path(), "zip64 end-of-directory record is corrupt");
    count = le(record.data() + 32, 8), directory_size = le(record.data() + 40, 8), directory_offset = le(record.data() + 48, 8);
  }
  if (directory_offset > file_size() || directory_size > file_size() - directory_offset)
    throw FileError(path(), "zip central directory lies past the end of the file (truncated archive)");
  if (count > directory_size / kCentralHeaderSize)
    throw FileError(path(), "zip directory declares " + std::to_string(count) + " entries, more than its size holds");

  std::vector<unsigned char> directory(directory_size);
  read_at(directory_offset, directory.data(), directory_size);
  Cursor c(path(), directory);
  for (uint64_t i = 0; i < count; ++i) {
    if (c.take(4) != kCentralHeader) throw FileError(path(), "zip central directory entry " + std::to_string(i) + " is corrupt");
    c.skip(4);
    const auto flags = c.take(2), method = c.take(2);
    c.skip(4);
    Entry e;
    e.crc32 = static_cast<uint32_t>(c.take(4));
    uint64_t compressed = c.take(4), size = c.take(4);
    const auto name_length = c.take(2), extra_length = c.take(2), comment_length = c.take(2);
    c.skip(8);
    e.header_offset = c.take(4);
    auto name = c.text(name_length);
    const auto extra_end = c.pos() + extra_length;
    while (c.pos() + 4 <= extra_end) {
      const auto id = c.take(2), length = c.take(2);
      const auto field_end = c.pos() + length;
      if (id == 0x0001) {  // zip64 sizes, present for the fields saturated above
        if (size == 0xFFFFFFFF && c.pos() + 8 <= field_end) size = c.take(8);
        if (compressed == 0xFFFFFFFF && c.pos() + 8 <= field_end) compressed = c.take(8);
        if (e.header_offset == 0xFFFFFFFF && c.pos() + 8 <= field_end) e.header_offset = c.take(8);
      }
      if (field_end > extra_end) throw FileError(path(), "zip entry '" + name + "' has a corrupt extra field");
      c.skip(field_end - c.pos());
    }
    c.skip(extra_end - c.pos() + comment_length);
    if (flags & 1) throw FileError(path(), "zip entry '" + name + "' is encrypted");
    // Tensor data is stored; TorchScript deflates its code and debug records. Deflate expands
    // at most 1032-fold, so a larger claim is a corrupt directory, not a reason to allocate.
    if ((method != 0 && method != 8) || (method == 0 && compressed != size) ||
        (method == 8 && size / 1032 > compressed + 1))
      throw FileError(path(), "zip entry '" + name + "' has compression method " + std::to_string(method) + " and sizes " +
                                 std::to_string(compressed) + " -> " + std::to_string(size) + " (unsupported or corrupt)");
    e.size = size;
    e.compressed_size = compressed;
    e.deflated = method == 8;
    if (e.header_offset > directory_offset || compressed > directory_offset - e.header_offset)
      throw FileError(path(), "zip entry '" + name + "' (" + std::to_string(size) + " bytes at offset " +
                                 std::to_string(e.header_offset) + ") lies outside the archive's data");
    if (!entries_.emplace(std::move(name), e).second) throw FileError(path(), "zip archive has a duplicate entry");
  }
}

const ZipArchive::Entry& ZipArchive::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw FileError(path(), "archive has no record '" + name + "' (truncated or incomplete file)");
  return it->second;
}

uint64_t ZipArchive::size_of(const std::string& name) const { return entry(name).size; }

uint64_t ZipArchive::data_offset(const std::string& name, const Entry& e) const {
  unsigned char header[kLocalHeaderSize];
  read_at(e.header_offset, header, kLocalHeaderSize);
  if (le(header, 4) != kLocalHeader) throw FileError(path(), "zip entry '" + name + "' has a corrupt local header");
  const auto offset = e.header_offset + kLocalHeaderSize + le(header + 26, 2) + le(header + 28, 2);
  if (offset > file_size() || e.compressed_size > file_size() - offset)
    throw FileError(path(), "file is truncated: zip entry '" + name + "' runs past its end");
  return offset;
}

std::optional<uint64_t> ZipArchive::stored_data_offset(const std::string& name) const {
  const auto& e = entry(name);
  if (e.deflated) return std::nullopt;
  return data_offset(name, e);
}

void ZipArchive::read(const std::string& name, void* out, bool verify) const {
  const auto& e = entry(name);
  const auto offset = data_offset(name, e);
  if (e.deflated) {
    inflate_into(name, offset, e, out);
  } else {
    read_at(offset, out, e.size);
  }
  if (!verify && !e.deflated) return;
  uLong crc = crc32_z(0L, Z_NULL, 0);
  crc = crc32_z(crc, static_cast<const Bytef*>(out), static_cast<z_size_t>(e.size));
  if (static_cast<uint32_t>(crc) != e.crc32)
    throw FileError(path(), "zip entry '" + name + "' fails its CRC-32 check (corrupt file)");
}

void ZipArchive::inflate_into(const std::string& name, uint64_t offset, const Entry& e, void* out) const {
  if (e.compressed_size > std::numeric_limits<uInt>::max() || e.size > std::numeric_limits<uInt>::max())
    throw FileError(path(), "zip entry '" + name + "' is too large to inflate");
  std::vector<unsigned char> compressed(e.compressed_size);
  read_at(offset, compressed.data(), compressed.size());
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw FileError(path(), "cannot start zlib");
  z.next_in = compressed.data();
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = static_cast<Bytef*>(out);
  z.avail_out = static_cast<uInt>(e.size);
  const int status = inflate(&z, Z_FINISH);
  const auto produced = z.total_out;
  inflateEnd(&z);
  if (status != Z_STREAM_END || produced != e.size)
    throw FileError(path(), "zip entry '" + name + "' does not inflate to its declared size (corrupt file)");
}

std::string ZipArchive::read_string(const std::string& name) const {
  std::string bytes(size_of(name), '\0');
  read(name, bytes.data());
  return bytes;
}

}  // namespace actionclip::io
