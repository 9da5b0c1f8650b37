#pragma once
// NumPy .npy files (format 1.0, C order), for embeddings that Python tools read directly.
#include <torch/torch.h>

#include <string>

namespace actionclip::io {

void save_npy(const std::string& path, const torch::Tensor& tensor);  // float32, int64 or uint8
torch::Tensor load_npy(const std::string& path);

}  // namespace actionclip::io
