#pragma once
// Files written by torch.save (the zip layout of torch >= 1.6 and the legacy layout before it)
// and TorchScript archives (torch.jit.save, OpenAI's released CLIP models), read with the
// restricted pickle interpreter: nothing the file contains is executed. Storages tagged with
// any device (cuda:0, mps, ...) load onto the CPU; a storage is read from disk only when a
// tensor in it is asked for, so an optimizer state nobody uses costs nothing.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actionclip/io/byte_source.h"
#include "actionclip/io/mapped_file.h"
#include "actionclip/io/pickle.h"
#include "actionclip/io/safetensors.h"

namespace actionclip::io {

class ZipArchive;

enum class TorchFileLayout { Zip, TorchScript, Legacy };

class TorchFile {
 public:
  // Reads and interprets the pickle (not the tensor data); FileError naming the file on failure.
  // Tensor data is checksummed only with `verify_data` (the pickle and code records always
  // are): as with torch.load, whose zip reader is built without CRC checks, a load then costs
  // one read of the weights; a structural problem is caught either way.
  // With `data` Mapped, storages stored as they are (not deflated, not verified) are tensors over
  // the mapped file (mapped_file.h), in the dtype the file stores.
  explicit TorchFile(const std::string& path, bool verify_data = false, TensorData data = TensorData::Read);
  explicit TorchFile(std::shared_ptr<const ByteSource> file, bool verify_data = false);
  ~TorchFile();

  const std::string& path() const { return path_; }
  TorchFileLayout layout() const { return layout_; }
  const pickle::Value& root() const { return *root_; }

  // The CPU tensor a Tensor value describes. Views of one storage share its memory, as they
  // did when saved; quantized tensors come back dequantized to float32.
  torch::Tensor tensor(const pickle::Value& value);

  // A dict of tensors (a state dict, OrderedDict or not) by key; `what` names it in errors.
  // Entries that are not tensors are skipped; a dict without any tensor is an error.
  TensorMap tensors(const pickle::Value& dict, const std::string& what);

  // TorchScript: the parameters and buffers of the module tree, under their dotted names
  // (what Module.named_parameters() and named_buffers() return).
  TensorMap module_tensors();

  // TorchScript: whether any class of the archive defines a method (code that libtorch's own
  // loader would compile and, for __setstate__, run). Archives of attributes only (what
  // torch::serialize::OutputArchive writes) have none.
  bool declares_methods() const { return declares_methods_; }

 private:
  struct StorageRecord {
    uint64_t offset = 0;  // legacy layout: where the data starts in the file
    torch::Tensor data;   // read on first use
  };

  void open_zip();
  void open_legacy();
  pickle::Value* load_storage(pickle::Document& document, const pickle::Value& id, const std::string& record_folder);
  torch::Tensor storage_data(const pickle::Value& storage);
  torch::Tensor read_storage(const pickle::Value& storage) const;
  // Reads the storages of `tensors` not read yet, in parallel.
  void read_storages(const std::vector<const pickle::Value*>& tensors);
  void read_module_declarations();

  std::string path_;
  TorchFileLayout layout_ = TorchFileLayout::Zip;
  std::shared_ptr<const ByteSource> file_;
  std::shared_ptr<const MappedFile> mapped_;
  bool verify_data_ = false;
  std::unique_ptr<ZipArchive> zip_;
  std::string prefix_;  // the archive's top-level folder, with its slash
  pickle::Document document_;
  pickle::Value* root_ = nullptr;
  std::map<std::string, pickle::Value*> storages_;     // record name -> Storage value
  std::map<const pickle::Value*, StorageRecord> data_;  // Storage value -> its data
  // TorchScript classes -> names of their parameters and buffers (from the archive's code,
  // which is read as text, never run).
  std::map<std::string, std::set<std::string>> module_state_names_;
  bool declares_methods_ = false;
};

}  // namespace actionclip::io
