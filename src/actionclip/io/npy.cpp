#include "actionclip/io/npy.h"

#include <fstream>
#include <regex>

#include "actionclip/io/atomic_file.h"
#include "actionclip/util/error.h"

namespace actionclip::io {
namespace {

std::string descr_of(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "<f4";
    case torch::kFloat64: return "<f8";
    case torch::kInt64: return "<i8";
    case torch::kInt32: return "<i4";
    case torch::kUInt8: return "|u1";
    default: throw Error(std::string(".npy writer does not handle dtype ") + c10::toString(type));
  }
}

torch::ScalarType type_of(const std::string& path, const std::string& descr) {
  for (auto type : {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kInt32, torch::kUInt8})
    if (descr_of(type) == descr) return type;
  throw FileError(path, "unsupported .npy dtype " + descr);
}

}  // namespace

void save_npy(const std::string& path, const torch::Tensor& tensor) {
  auto t = tensor.detach().cpu().contiguous();
  std::string shape;
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  if (t.dim() == 1) shape += ",";  // a Python 1-tuple
  std::string header =
      "{'descr': '" + descr_of(t.scalar_type()) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // total header size a multiple of 64
  header += '\n';
  write_file_atomically(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const auto length = static_cast<uint16_t>(header.size());
    out.put(static_cast<char>(length & 0xff));
    out.put(static_cast<char>(length >> 8));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  });
}

torch::Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open");
  char magic[10];
  in.read(magic, 10);
  if (!in || std::string(magic, 6) != "\x93NUMPY" || magic[6] != 1) throw FileError(path, "not a version 1 .npy file");
  const auto length = static_cast<uint16_t>(static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8));
  std::string header(length, '\0');
  in.read(header.data(), length);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr': '([^']+)'"))) throw FileError(path, "no dtype in header");
  const auto type = type_of(path, m[1]);
  if (header.find("'fortran_order': True") != std::string::npos) throw FileError(path, "Fortran order is not supported");
  if (!std::regex_search(header, m, std::regex("'shape': \\(([^)]*)\\)"))) throw FileError(path, "no shape in header");
  std::vector<int64_t> shape;
  const std::string dims = m[1];
  const std::regex digits("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), digits), end; it != end; ++it)
    shape.push_back(std::stoll(it->str()));
  uint64_t bytes = c10::elementSize(type);
  for (const auto dim : shape) bytes = dim == 0 ? 0 : (bytes > UINT64_MAX / static_cast<uint64_t>(dim) ? UINT64_MAX : bytes * static_cast<uint64_t>(dim));
  const auto data_start = static_cast<uint64_t>(in.tellg());
  in.seekg(0, std::ios::end);
  if (static_cast<uint64_t>(in.tellg()) - data_start != bytes) throw FileError(path, "data size does not match the header's shape");
  in.seekg(static_cast<std::streamoff>(data_start));
  auto tensor = torch::empty(shape, torch::TensorOptions().dtype(type));
  in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.numel() * tensor.element_size()));
  if (!in) throw FileError(path, "truncated data");
  return tensor;
}

}  // namespace actionclip::io
