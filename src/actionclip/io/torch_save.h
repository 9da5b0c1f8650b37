#pragma once
// Writes torch.save's zip layout the way Python does (pickle protocol 2): what Python's
// torch.load reads back, and what the restricted reader's tests and benchmarks need to build
// files laid out exactly as users hold them.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "actionclip/io/safetensors.h"

namespace actionclip::io {

// Emits pickle opcodes one call at a time.
class PickleWriter {
 public:
  PickleWriter();
  PickleWriter& op(char opcode);
  PickleWriter& mark() { return op('('); }
  PickleWriter& str(const std::string& s);
  PickleWriter& integer(int64_t v);
  PickleWriter& boolean(bool b) { return op(b ? '\x88' : '\x89'); }
  PickleWriter& none() { return op('N'); }
  PickleWriter& global(const std::string& module, const std::string& name);
  PickleWriter& ints(const std::vector<int64_t>& values);  // a tuple of ints
  PickleWriter& ordered_dict();                           // collections.OrderedDict()
  // The persistent id ('storage', torch.<type>, key, location, numel).
  PickleWriter& storage(const std::string& type, const std::string& key, const std::string& location, int64_t numel);
  // torch._utils._rebuild_tensor_v2 of a view of that storage.
  PickleWriter& tensor(const std::string& type, const std::string& key, const std::string& location, int64_t numel,
                       int64_t offset, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides);
  std::string finish() const { return bytes_ + "."; }

 private:
  std::string bytes_;
};

// torch.FloatStorage and friends: the storage class torch.save names for a dtype.
std::string storage_type_name(torch::ScalarType dtype);

// A zip archive as torch.save writes it: `pickle` as data.pkl, each storage as data/<key>.
void write_torch_zip(const std::string& path, const std::string& pickle, const std::map<std::string, torch::Tensor>& storages);

// torch.save(module.state_dict()): an OrderedDict carrying _metadata, every storage tagged
// `location` (what a model trained on a GPU gives: "cuda:0").
void save_torch_state_dict(const std::string& path, const TensorMap& tensors, const std::string& location = "cpu");

}  // namespace actionclip::io
