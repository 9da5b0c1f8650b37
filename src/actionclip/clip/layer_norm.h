#pragma once
// LayerNorm that normalises in the weights' precision: under bf16 autocast the input of a norm
// may be bf16 while its parameters stay float32, a mix libtorch 1.13's CPU kernel rejects (and
// normalising in float32 is what autocast intends anyway).
#include <torch/torch.h>

namespace actionclip {

class LayerNormImpl : public torch::nn::LayerNormImpl {
 public:
  using torch::nn::LayerNormImpl::LayerNormImpl;
  torch::Tensor forward(const torch::Tensor& input) { return torch::nn::LayerNormImpl::forward(input.to(weight.dtype())); }
};
TORCH_MODULE(LayerNorm);

}  // namespace actionclip
