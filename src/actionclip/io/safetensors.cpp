#include "actionclip/io/safetensors.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actionclip/io/atomic_file.h"
#include "actionclip/util/error.h"

namespace actionclip::io {
namespace {

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};

constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64}, {"I32", torch::kInt32},
    {"I16", torch::kInt16},   {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

torch::ScalarType dtype_from_name(const std::string& path, const std::string& key, const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  throw FileError(path, "tensor '" + key + "' has unsupported dtype " + name);
}

std::string dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return d.name;
  throw Error(std::string("safetensors cannot store dtype ") + c10::toString(type));
}

}  // namespace

TensorMap load_safetensors(const std::string& path, Metadata* metadata, TensorData data) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(path, "cannot open (missing or unreadable)");
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) throw FileError(path, "too short for a safetensors file");
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | length_bytes[i];
  if (header_length == 0 || header_length > file_size - 8)
    throw FileError(path, "safetensors header length " + std::to_string(header_length) +
                              " exceeds the file size " + std::to_string(file_size) + " (truncated or not safetensors)");
  std::string header_text(header_length, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_length));

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw FileError(path, "safetensors header is not a JSON object");

  const uint64_t data_start = 8 + header_length;
  const uint64_t data_size = file_size - data_start;
  const auto mapped = data == TensorData::Mapped ? MappedFile::open(path) : nullptr;
  TensorMap tensors;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (metadata && entry.is_object())
        for (const auto& [mk, mv] : entry.items())
          if (mv.is_string()) (*metadata)[mk] = mv.get<std::string>();
      continue;
    }
    try {
      const auto type = dtype_from_name(path, key, entry.at("dtype").get<std::string>());
      const auto shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw FileError(path, "tensor '" + key + "' data lies outside the file (truncated?)");
      // Size checked before allocating: a corrupt header must not request terabytes.
      uint64_t expected = c10::elementSize(type);
      for (const auto dim : shape) {
        if (dim < 0) throw FileError(path, "tensor '" + key + "' has a negative dimension");
        const auto d = static_cast<uint64_t>(dim);
        expected = d == 0 ? 0 : (expected > UINT64_MAX / d ? UINT64_MAX : expected * d);
      }
      if (offsets[1] - offsets[0] != expected)
        throw FileError(path, "tensor '" + key + "' has " + std::to_string(offsets[1] - offsets[0]) +
                                  " bytes for shape " + c10::str(shape) + " (expected " + std::to_string(expected) + ")");
      if (mapped) {
        if (auto tensor = mapped->tensor(data_start + offsets[0], shape, type); tensor.defined()) {
          tensors.emplace(key, std::move(tensor));
          continue;
        }
      }
      auto tensor = torch::empty(shape, torch::TensorOptions().dtype(type));
      in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
      in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(expected));
      if (!in) throw FileError(path, "could not read tensor '" + key + "' (truncated?)");
      tensors.emplace(key, std::move(tensor));
    } catch (const nlohmann::json::exception& e) {
      throw FileError(path, "malformed header entry for '" + key + "': " + e.what());
    }
  }
  return tensors;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [key, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[key] = {{"dtype", dtype_name(t.scalar_type())},
                   {"shape", t.sizes().vec()},
                   {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(t));
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps tensor data 8-byte aligned
  write_file_atomically(path, [&](std::ostream& out) {
    uint64_t length = header_text.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xff));
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& t : contiguous)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  });
}

}  // namespace actionclip::io
