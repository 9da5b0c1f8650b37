#pragma once
// Reading and writing the safetensors layout: 8-byte little-endian header length, a JSON
// header (dtype, shape, data_offsets per tensor, optional "__metadata__" string map), raw
// little-endian data.
#include <torch/torch.h>

#include <map>
#include <string>

#include "actionclip/io/mapped_file.h"

namespace actionclip::io {

using TensorMap = std::map<std::string, torch::Tensor>;
using Metadata = std::map<std::string, std::string>;

// Throws FileError naming the path for a missing, truncated or malformed file. `data`
// Mapped: tensors over the mapped file (see mapped_file.h), read into memory only when touched.
TensorMap load_safetensors(const std::string& path, Metadata* metadata = nullptr, TensorData data = TensorData::Read);

// Writes atomically (temporary file in the same folder, then rename), so a crash never
// leaves a half-written file under `path`.
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

}  // namespace actionclip::io
