#include "actionclip/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "actionclip/util/error.h"

namespace actionclip::io {
namespace {

using MappingReference = std::shared_ptr<const MappedFile>;

// The deleter of every tensor over a mapping: release_mapped_pages recognises such tensors by it.
void drop_mapping_reference(void* reference) { delete static_cast<MappingReference*>(reference); }

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(path, "not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  void* data = size == 0 ? nullptr : ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // the mapping keeps the file
  if (data == MAP_FAILED) throw FileError(path, std::string("cannot map into memory: ") + std::strerror(mmap_errno));
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

torch::Tensor MappedFile::tensor(uint64_t offset, c10::IntArrayRef shape, torch::ScalarType dtype) const {
  const auto element = c10::elementSize(dtype);
  if (offset % element != 0) return {};
  int64_t numel = 1;
  for (const auto d : shape) numel *= d;
  const auto bytes = static_cast<size_t>(numel) * element;
  auto* start = static_cast<char*>(data_) + offset;
  c10::DataPtr data(start, new MappingReference(shared_from_this()), &drop_mapping_reference, torch::kCPU);
  c10::Storage storage(c10::Storage::use_byte_size_t(), bytes, std::move(data), /*allocator=*/nullptr, /*resizable=*/false);
  return torch::empty({0}, torch::TensorOptions().dtype(dtype)).set_(storage, 0, shape);
}

void release_mapped_pages(const torch::Tensor& tensor) {
  if (!tensor.defined() || !tensor.has_storage()) return;
  const auto& storage = tensor.storage();
  if (storage.data_ptr().get_deleter() != &drop_mapping_reference) return;
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(storage.data());
  const auto first = (begin + page - 1) / page * page, last = (begin + storage.nbytes()) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace actionclip::io
