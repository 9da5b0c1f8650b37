#include "actionclip/io/torch_save.h"

#include <caffe2/serialize/inline_container.h>

#include "actionclip/util/error.h"

namespace actionclip::io {

PickleWriter::PickleWriter() : bytes_("\x80\x02") {}

PickleWriter& PickleWriter::op(char opcode) {
  bytes_ += opcode;
  return *this;
}

PickleWriter& PickleWriter::str(const std::string& s) {
  op('X');
  for (int i = 0; i < 4; ++i) bytes_ += static_cast<char>((s.size() >> (8 * i)) & 0xFF);
  bytes_ += s;
  return *this;
}

PickleWriter& PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < (int64_t{1} << 31)) {
    op('J');
    for (int i = 0; i < 4; ++i) bytes_ += static_cast<char>((v >> (8 * i)) & 0xFF);
    return *this;
  }
  op('\x8a');
  bytes_ += '\x08';
  for (int i = 0; i < 8; ++i) bytes_ += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF);
  return *this;
}

PickleWriter& PickleWriter::global(const std::string& module, const std::string& name) {
  op('c');
  bytes_ += module + "\n" + name + "\n";
  return *this;
}

PickleWriter& PickleWriter::ints(const std::vector<int64_t>& values) {
  mark();
  for (auto v : values) integer(v);
  return op('t');
}

PickleWriter& PickleWriter::ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }

PickleWriter& PickleWriter::storage(const std::string& type, const std::string& key, const std::string& location,
                                    int64_t numel) {
  mark().str("storage").global("torch", type).str(key).str(location).integer(numel).op('t');
  return op('Q');
}

PickleWriter& PickleWriter::tensor(const std::string& type, const std::string& key, const std::string& location,
                                   int64_t numel, int64_t offset, const std::vector<int64_t>& sizes,
                                   const std::vector<int64_t>& strides) {
  global("torch._utils", "_rebuild_tensor_v2").mark();
  storage(type, key, location, numel).integer(offset).ints(sizes).ints(strides).boolean(false).ordered_dict();
  return op('t').op('R');
}

std::string storage_type_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32: return "FloatStorage";
    case torch::kFloat16: return "HalfStorage";
    case torch::kBFloat16: return "BFloat16Storage";
    case torch::kFloat64: return "DoubleStorage";
    case torch::kInt64: return "LongStorage";
    case torch::kInt32: return "IntStorage";
    case torch::kInt16: return "ShortStorage";
    case torch::kInt8: return "CharStorage";
    case torch::kUInt8: return "ByteStorage";
    case torch::kBool: return "BoolStorage";
    default: throw Error(std::string("torch.save has no storage class for ") + c10::toString(dtype));
  }
}

void write_torch_zip(const std::string& path, const std::string& pickle, const std::map<std::string, torch::Tensor>& storages) {
  try {
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    for (const auto& [key, data] : storages) {
      auto contiguous = data.contiguous();
      writer.writeRecord("data/" + key, contiguous.data_ptr(), static_cast<size_t>(contiguous.nbytes()));
    }
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    throw FileError(path, std::string("cannot write: ") + e.what_without_backtrace());
  }
}

void save_torch_state_dict(const std::string& path, const TensorMap& tensors, const std::string& location) {
  PickleWriter p;
  std::map<std::string, torch::Tensor> storages;
  p.ordered_dict().mark();
  for (const auto& [name, t] : tensors) {
    const auto key = std::to_string(storages.size());
    auto contiguous = t.detach().cpu().contiguous();
    storages[key] = contiguous;
    p.str(name).tensor(storage_type_name(t.scalar_type()), key, location, contiguous.numel(), 0, contiguous.sizes().vec(),
                       contiguous.strides().vec());
  }
  p.op('u');
  // state_dict()'s _metadata: {"": {"version": 1}}, set as an attribute by BUILD.
  p.op('}').str("_metadata").ordered_dict().mark().str("").op('}').str("version").integer(1).op('s').op('u').op('s');
  p.op('b');
  write_torch_zip(path, p.finish(), storages);
}

}  // namespace actionclip::io
