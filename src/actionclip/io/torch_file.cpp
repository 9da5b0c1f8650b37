#include "actionclip/io/torch_file.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "actionclip/io/pickle_globals.h"
#include "actionclip/io/zip_archive.h"
#include "actionclip/util/error.h"

namespace actionclip::io {
namespace {

using pickle::Kind;
using pickle::Value;

// The legacy layout starts with this number, pickled at protocol 2.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
constexpr int kMaxModuleDepth = 64;

// How a storage's bytes are held: quantized integers as plain integers, bools as bytes (any
// non-zero byte a file holds becomes true, never an invalid bool).
c10::ScalarType read_dtype(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::QInt8: return c10::ScalarType::Char;
    case c10::ScalarType::QUInt8: return c10::ScalarType::Byte;
    case c10::ScalarType::QInt32: return c10::ScalarType::Int;
    case c10::ScalarType::Bool: return c10::ScalarType::Byte;
    default: return dtype;
  }
}

uint64_t storage_bytes(const std::string& path, const Value& storage) {
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(storage.integer), c10::elementSize(storage.dtype), &bytes))
    throw FileError(path, "storage '" + storage.text + "' declares an absurd size");
  return bytes;
}

}  // namespace

TorchFile::TorchFile(const std::string& path, bool verify_data, TensorData data)
    : TorchFile(std::make_shared<FileSource>(path), verify_data) {
  if (data == TensorData::Mapped && !verify_data) mapped_ = MappedFile::open(path);
}

TorchFile::TorchFile(std::shared_ptr<const ByteSource> file, bool verify_data)
    : path_(file->path()), file_(std::move(file)), verify_data_(verify_data) {
  unsigned char head[sizeof kLegacyMagic] = {};
  file_->read_at(0, head, std::min<uint64_t>(file_->size(), sizeof head));
  if (head[0] == 'P' && head[1] == 'K') {
    open_zip();
  } else if (file_->size() >= sizeof head && std::memcmp(head, kLegacyMagic, sizeof head) == 0) {
    open_legacy();
  } else {
    throw FileError(path_, "not a torch.save file (neither the zip nor the legacy layout)");
  }
}

TorchFile::~TorchFile() = default;

void TorchFile::open_zip() {
  zip_ = std::make_unique<ZipArchive>(file_);
  for (const auto& [name, _] : zip_->entries()) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash + 1, std::string::npos, "data.pkl") == 0) {
      prefix_ = name.substr(0, slash + 1);
      break;
    }
  }
  if (prefix_.empty()) throw FileError(path_, "zip archive has no <name>/data.pkl record: not a torch.save file");
  if (zip_->contains(prefix_ + "byteorder") && zip_->read_string(prefix_ + "byteorder") != "little")
    throw FileError(path_, "was saved on a big-endian machine; only little-endian files are supported");

  pickle::Options options;
  options.torchscript_objects = zip_->contains(prefix_ + "constants.pkl");
  if (options.torchscript_objects) {
    layout_ = TorchFileLayout::TorchScript;
    read_module_declarations();
  }
  options.persistent_load = [this](pickle::Document& d, const Value& id) { return load_storage(d, id, "data/"); };
  const auto pickle_bytes = zip_->read_string(prefix_ + "data.pkl");
  root_ = pickle::unpickle(path_, pickle_bytes.data(), pickle_bytes.size(), document_, options);
}

void TorchFile::open_legacy() {
  layout_ = TorchFileLayout::Legacy;
  const auto& file = *file_;
  // The pickles come first and are small next to the storages after them; read growing
  // windows until they all parse, so the storages are never read twice.
  uint64_t window = std::min<uint64_t>(file.size(), 1 << 20);
  while (true) {
    std::string head(window, '\0');
    file.read_at(0, head.data(), window);
    try {
      document_ = pickle::Document();
      storages_.clear();
      data_.clear();
      size_t pos = sizeof kLegacyMagic, used = 0;
      pickle::Options plain;
      auto* protocol = pickle::unpickle(path_, head.data() + pos, head.size() - pos, document_, plain, &used);
      pos += used;
      if (!protocol->is(Kind::Int) || protocol->integer != 1001)
        throw FileError(path_, "legacy torch.save protocol " + std::to_string(protocol->integer) + " is not supported");
      auto* sys_info = pickle::unpickle(path_, head.data() + pos, head.size() - pos, document_, plain, &used);
      pos += used;
      const auto* little = sys_info->get("little_endian");
      if (little && little->is(Kind::Bool) && !little->flag)
        throw FileError(path_, "was saved on a big-endian machine; only little-endian files are supported");
      pickle::Options options;
      options.persistent_load = [this](pickle::Document& d, const Value& id) { return load_storage(d, id, ""); };
      root_ = pickle::unpickle(path_, head.data() + pos, head.size() - pos, document_, options, &used);
      pos += used;
      auto* keys = pickle::unpickle(path_, head.data() + pos, head.size() - pos, document_, plain, &used);
      pos += used;
      if (!keys->is(Kind::List)) throw FileError(path_, "legacy storage key list is corrupt");
      // Each storage follows as an 8-byte element count and its data, in the order of the list.
      uint64_t offset = pos;
      for (const auto* key : keys->items) {
        if (!key->is(Kind::String) || !storages_.count(key->text))
          throw FileError(path_, "legacy storage list names a storage no tensor uses (corrupt file)");
        const auto* storage = storages_.at(key->text);
        int64_t count = 0;
        file.read_at(offset, &count, 8);
        if (count != storage->integer)
          throw FileError(path_, "storage '" + key->text + "' holds " + std::to_string(count) + " elements, its tensors expect " +
                                     std::to_string(storage->integer));
        const auto bytes = storage_bytes(path_, *storage);
        if (offset + 8 > file.size() || bytes > file.size() - offset - 8)
          throw FileError(path_, "storage '" + key->text + "' runs past the end of the file (truncated)");
        data_[storage].offset = offset + 8;
        offset += 8 + bytes;
      }
      for (const auto& [key, storage] : storages_)
        if (!data_.count(storage)) throw FileError(path_, "storage '" + key + "' has no data (truncated or corrupt file)");
      return;
    } catch (const FileError& e) {
      // A pickle cut by the window reads as truncated: widen it, up to the whole file.
      if (window == file.size() || std::string(e.what()).find("ends early") == std::string::npos) throw;
      window = std::min<uint64_t>(file.size(), window * 8);
    }
  }
}

Value* TorchFile::load_storage(pickle::Document& document, const Value& id, const std::string& record_folder) {
  if (!id.is(Kind::Tuple) || id.items.size() < 5 || !id.items[0]->is(Kind::String) || id.items[0]->text != "storage" ||
      !id.items[2]->is(Kind::String) || !id.items[3]->is(Kind::String) || !id.items[4]->is(Kind::Int) ||
      id.items[4]->integer < 0)
    throw FileError(path_, "persistent reference is not a storage (corrupt file?)");
  if (id.items.size() > 5 && !id.items[5]->is(Kind::None))
    throw FileError(path_, "legacy storage views are not supported; re-save the file with a current torch.save");
  const auto dtype = pickle::storage_dtype(path_, *id.items[1]);
  // The device tag (cpu, cuda:0, mps, ...) only says where the storage was: it loads onto the CPU.
  const auto record = prefix_ + record_folder + id.items[2]->text;
  if (auto it = storages_.find(record); it != storages_.end()) {
    if (it->second->dtype != dtype || it->second->integer != id.items[4]->integer)
      throw FileError(path_, "storage '" + record + "' is referenced with two different types or sizes");
    return it->second;
  }
  auto* storage = document.make(Kind::Storage, path_);
  storage->dtype = dtype;
  storage->text = record;
  storage->integer = id.items[4]->integer;
  if (zip_) {
    if (!zip_->contains(record)) throw FileError(path_, "data record '" + record + "' is missing (truncated or incomplete file)");
    if (zip_->size_of(record) != storage_bytes(path_, *storage))
      throw FileError(path_, "data record '" + record + "' holds " + std::to_string(zip_->size_of(record)) +
                                 " bytes, its storage declares " + std::to_string(storage->integer) + " elements of " +
                                 c10::toString(dtype));
  }
  storages_.emplace(record, storage);
  return storage;
}

torch::Tensor TorchFile::read_storage(const Value& storage) const {
  if (mapped_) {
    const auto offset = zip_ ? zip_->stored_data_offset(storage.text) : std::optional<uint64_t>(data_.at(&storage).offset);
    if (offset)
      if (auto data = mapped_->tensor(*offset, {storage.integer}, read_dtype(storage.dtype)); data.defined())
        return storage.dtype == c10::ScalarType::Bool ? data.ne(0) : data;
  }
  auto data = torch::empty({storage.integer}, torch::TensorOptions().dtype(read_dtype(storage.dtype)));
  if (zip_) zip_->read(storage.text, data.data_ptr(), verify_data_);
  else file_->read_at(data_.at(&storage).offset, data.data_ptr(), storage_bytes(path_, storage));
  return storage.dtype == c10::ScalarType::Bool ? data.ne(0) : data;
}

torch::Tensor TorchFile::storage_data(const Value& storage) {
  auto& entry = data_[&storage];
  if (!entry.data.defined()) entry.data = read_storage(storage);
  return entry.data;
}

torch::Tensor TorchFile::tensor(const Value& value) {
  if (!value.is(Kind::Tensor) || value.items.empty()) throw FileError(path_, "expected a tensor");
  auto t = storage_data(*value.items[0]).as_strided(value.sizes, value.strides, value.integer);
  if (!value.quantization) return t;
  const auto& q = *value.quantization;
  if (!q.per_channel) return ((t.to(torch::kFloat64) - q.zero_point) * q.scale).to(torch::kFloat32);
  auto scales = tensor(*q.scales).to(torch::kFloat64).flatten();
  auto zero_points = tensor(*q.zero_points).to(torch::kFloat64).flatten();
  if (scales.numel() != t.size(q.axis) || zero_points.numel() != t.size(q.axis))
    throw FileError(path_, "quantized tensor has " + std::to_string(scales.numel()) + " channel scales for " +
                               std::to_string(t.size(q.axis)) + " channels");
  std::vector<int64_t> shape(static_cast<size_t>(t.dim()), 1);
  shape[static_cast<size_t>(q.axis)] = -1;
  return ((t.to(torch::kFloat64) - zero_points.view(shape)) * scales.view(shape)).to(torch::kFloat32);
}

void TorchFile::read_storages(const std::vector<const Value*>& tensors) {
  std::vector<const Value*> pending;
  for (const auto* t : tensors)
    if (t->is(Kind::Tensor) && !t->items.empty() && !data_[t->items[0]].data.defined()) pending.push_back(t->items[0]);
  std::sort(pending.begin(), pending.end());
  pending.erase(std::unique(pending.begin(), pending.end()), pending.end());
  // Reading and checksumming run in parallel, one storage per task: each task only fills its
  // own, already present, entry of data_.
  std::vector<torch::Tensor> read(pending.size());
  at::parallel_for(0, static_cast<int64_t>(pending.size()), 1, [&](int64_t begin, int64_t end) {
    for (auto i = begin; i < end; ++i) read[static_cast<size_t>(i)] = read_storage(*pending[static_cast<size_t>(i)]);
  });
  for (size_t i = 0; i < pending.size(); ++i) data_[pending[i]].data = read[i];
}

TensorMap TorchFile::tensors(const Value& dict, const std::string& what) {
  if (!dict.is(Kind::Dict)) throw FileError(path_, what + " is a " + pickle::kind_name(dict.kind) + ", not a dict of tensors");
  std::vector<const Value*> wanted;
  for (const auto& [key, value] : dict.entries)
    if (key->is(Kind::String)) wanted.push_back(value);
  read_storages(wanted);
  TensorMap out;
  for (const auto& [key, value] : dict.entries)
    if (key->is(Kind::String) && value->is(Kind::Tensor)) out[key->text] = tensor(*value);
  if (out.empty()) throw FileError(path_, what + " holds no tensors");
  return out;
}

void TorchFile::read_module_declarations() {
  // code/__torch__/clip/model.py declares `class CLIP(Module):` with its `__parameters__` and
  // `__buffers__` lists: the class is __torch__.clip.model.CLIP.
  const auto code = prefix_ + "code/";
  for (const auto& [name, _] : zip_->entries()) {
    if (name.rfind(code, 0) != 0 || name.size() < 3 || name.compare(name.size() - 3, 3, ".py") != 0) continue;
    auto module = name.substr(code.size(), name.size() - code.size() - 3);
    std::replace(module.begin(), module.end(), '/', '.');
    std::istringstream text(zip_->read_string(name));
    std::string line, current;
    while (std::getline(text, line)) {
      if (line.find("def ") != std::string::npos) declares_methods_ = true;
      if (line.rfind("class ", 0) == 0) {
        const auto paren = line.find('(');
        current = module + "." + line.substr(6, paren == std::string::npos ? std::string::npos : paren - 6);
        module_state_names_[current];
      } else if (!current.empty() && (line.find("__parameters__ = [") != std::string::npos ||
                                      line.find("__buffers__ = [") != std::string::npos)) {
        for (size_t open = line.find('"'); open != std::string::npos; open = line.find('"', open + 1)) {
          const auto close = line.find('"', open + 1);
          if (close == std::string::npos) break;
          module_state_names_[current].insert(line.substr(open + 1, close - open - 1));
          open = close;
        }
      }
    }
  }
}

TensorMap TorchFile::module_tensors() {
  if (!root_->is(Kind::Object)) throw FileError(path_, "TorchScript archive does not hold a module");
  TensorMap out;
  struct Pending {
    const Value* module;
    std::string prefix;
    int depth;
  };
  std::vector<Pending> pending{{root_, "", 0}};
  std::set<const Value*> visited{root_};
  while (!pending.empty()) {
    auto [module, prefix, depth] = pending.back();
    pending.pop_back();
    const auto declared = module_state_names_.find(module->text);
    for (const auto& [key, value] : module->entries) {
      if (!key->is(Kind::String)) continue;
      if (value->is(Kind::Tensor)) {
        if (declared == module_state_names_.end() || declared->second.count(key->text))
          out[prefix + key->text] = tensor(*value);
      } else if (value->is(Kind::Object) && visited.insert(value).second) {
        if (depth + 1 > kMaxModuleDepth) throw FileError(path_, "TorchScript modules nest too deeply");
        pending.push_back({value, prefix + key->text + ".", depth + 1});
      }
    }
  }
  if (out.empty()) throw FileError(path_, "TorchScript archive holds no parameters");
  return out;
}

}  // namespace actionclip::io
