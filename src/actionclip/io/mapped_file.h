#pragma once
// Weight files mapped into memory, so that loading a model holds its weights once: a tensor
// over the mapping costs no memory until it is touched, its bytes come from the page cache
// when it is copied into its parameter, and release_mapped_pages then drops them from the
// process again (they stay in the page cache, not in the resident memory). Read, tensors would
// all be in memory at once beside the model they are copied into.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace actionclip::io {

// How a reader hands out tensor data: read into memory of its own, or mapped from the file
// (and then in the dtype the file stores; read tensors of a checkpoint are float32).
enum class TensorData { Read, Mapped };

class MappedFile : public std::enable_shared_from_this<MappedFile> {
 public:
  // The whole file, private and copy-on-write: writing to a tensor over it never changes the
  // file. FileError naming the path when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // A contiguous tensor over `shape` elements of `dtype` at byte `offset`, keeping the mapping
  // alive; undefined when the offset is not a multiple of the element size (readers then read
  // the tensor instead). The range must lie in the file (readers check it first).
  torch::Tensor tensor(uint64_t offset, c10::IntArrayRef shape, torch::ScalarType dtype) const;

 private:
  MappedFile(std::string path, void* data, uint64_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  void* data_ = nullptr;
  uint64_t size_ = 0;
};

// After the values of `tensor` were copied elsewhere: when it lies in a MappedFile, the pages
// wholly inside it leave this process's resident memory (touching it again reads them back from
// the file); any other tensor is left alone.
void release_mapped_pages(const torch::Tensor& tensor);

}  // namespace actionclip::io
