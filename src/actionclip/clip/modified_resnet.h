#pragma once
// CLIP's ResNet image encoder (RN50, RN101, RN50x4, RN50x16, RN50x64) with OpenAI's parameter
// names under "visual." (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, attnpool.q_proj, ...).
// It differs from torchvision's ResNet in a 3-convolution stem with an average pool, anti-aliased
// strides (an average pool before the strided step, all convolutions at stride 1) and an
// attention pool in place of the global average pool.
#include <torch/torch.h>

#include "actionclip/clip/clip_config.h"
#include "actionclip/clip/image_encoder.h"
#include "actionclip/clip/int8_linear.h"

namespace actionclip {
namespace dist {
class ProcessGroup;
}  // namespace dist

// nn.BatchNorm2d (eps 1e-5, momentum 0.1, same parameter and buffer names) that normalises in
// its parameters' precision, so that under bf16 autocast a bf16 input meets float32 statistics
// in float32, as LayerNorm does here. (Subclassing torch's BatchNorm2dImpl does not link:
// distribution libtorch does not export its base template's methods.)
class BatchNormImpl : public torch::nn::Module {
 public:
  explicit BatchNormImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& input);
  // Training-mode statistics over the global batch of `group`'s ranks (network.sync_bn).
  void synchronize_over(std::shared_ptr<dist::ProcessGroup> group) { sync_group_ = std::move(group); }

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  std::shared_ptr<dist::ProcessGroup> sync_group_;
};
TORCH_MODULE(BatchNorm);

class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  // 1x1 convolution + batch norm after an average pool of the stride. OpenAI registers that
  // pool as "downsample.-1", so the convolution is "downsample.0" and the norm "downsample.1".
  torch::nn::Sequential downsample{nullptr};

 private:
  int64_t stride_;
};
TORCH_MODULE(Bottleneck);

// Multi-head attention whose only query is the mean of the final feature grid.
class AttentionPool2dImpl : public torch::nn::Module {
 public:
  AttentionPool2dImpl(int64_t grid, int64_t width, int64_t heads, int64_t output_dim);
  torch::Tensor forward(const torch::Tensor& features);  // [B, C, H, W] -> [B, output_dim]

  torch::Tensor positional_embedding;  // [grid^2 + 1, width]
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, c_proj{nullptr};
  Int8Linear q_proj_int8, k_proj_int8, v_proj_int8, c_proj_int8;  // packed by quantize_for_inference

 private:
  int64_t grid_, heads_;
};
TORCH_MODULE(AttentionPool2d);

class ModifiedResNetImpl : public ImageEncoderImpl {
 public:
  explicit ModifiedResNetImpl(const ClipConfig& config);
  // Any H, W divisible by 32: the attention pool's positional embedding is interpolated for
  // grids other than the checkpoint's.
  torch::Tensor forward(const torch::Tensor& images) override;

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  AttentionPool2d attnpool{nullptr};
};
TORCH_MODULE(ModifiedResNet);

}  // namespace actionclip
