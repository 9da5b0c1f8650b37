#include "actionclip/clip/linear.h"

#include <ATen/autocast_mode.h>

namespace actionclip {

bool uses_onednn_linear(const torch::Tensor& input) {
  static const bool available = at::hasMKLDNN();
  return available && input.device().is_cpu() && input.scalar_type() == torch::kFloat32 &&
         !torch::GradMode::is_enabled() && !at::autocast::is_cpu_enabled();
}

torch::Tensor linear(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!uses_onednn_linear(input) || weight.scalar_type() != torch::kFloat32)
    return torch::nn::functional::linear(input, weight, bias);
  auto sizes = input.sizes().vec();
  sizes.back() = weight.size(0);
  auto rows = input.reshape({-1, input.size(-1)}).contiguous().to_mkldnn();
  return at::mkldnn_linear(rows, weight, bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt)
      .to_dense()
      .view(sizes);
}

torch::Tensor linear(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias,
                     const Int8Linear& int8) {
  return int8.defined() ? int8(input) : linear(input, weight, bias);
}

torch::Tensor project(const torch::Tensor& input, const torch::Tensor& matrix, const Int8Linear& int8) {
  return int8.defined() ? int8(input) : torch::matmul(input, matrix);
}

}  // namespace actionclip
