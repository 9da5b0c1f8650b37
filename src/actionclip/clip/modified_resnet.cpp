#include "actionclip/clip/modified_resnet.h"

#include <cmath>

#include "actionclip/clip/linear.h"
#include "actionclip/dist/sync_batch_norm.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace {

constexpr int64_t kStride = 32;  // stem 4, stages 2-4 another 8

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

torch::Tensor average_pool(const torch::Tensor& x, int64_t size) {
  return size > 1 ? torch::avg_pool2d(x, {size, size}) : x;
}

torch::nn::Sequential make_stage(int64_t& inplanes, int64_t planes, int64_t blocks, int64_t stride) {
  torch::nn::Sequential stage;
  for (int64_t i = 0; i < blocks; ++i) {
    Bottleneck block(inplanes, planes, i == 0 ? stride : 1);
    // CLIP starts every residual branch at zero.
    torch::NoGradGuard no_grad;
    block->bn3->weight.zero_();
    stage->push_back(block);
    inplanes = planes * BottleneckImpl::kExpansion;
  }
  return stage;
}

}  // namespace

BatchNormImpl::BatchNormImpl(int64_t channels) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
  running_mean = register_buffer("running_mean", torch::zeros({channels}));
  running_var = register_buffer("running_var", torch::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& input) {
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked += 1;
  }
  constexpr double kMomentum = 0.1, kEps = 1e-5;
  if (is_training() && sync_group_ && sync_group_->size() > 1)
    return dist::sync_batch_norm(*sync_group_, input.to(weight.dtype()), weight, bias, running_mean, running_var, kMomentum, kEps);
  return torch::batch_norm(input.to(weight.dtype()), weight, bias, running_mean, running_var, is_training(), kMomentum, kEps,
                           at::globalContext().userEnabledCuDNN());
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride) : stride_(stride) {
  const auto out = planes * kExpansion;
  conv1 = register_module("conv1", conv(inplanes, planes, 1));
  bn1 = register_module("bn1", BatchNorm(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3));
  bn2 = register_module("bn2", BatchNorm(planes));
  conv3 = register_module("conv3", conv(planes, out, 1));
  bn3 = register_module("bn3", BatchNorm(out));
  if (stride > 1 || inplanes != out)
    downsample = register_module("downsample", torch::nn::Sequential(conv(inplanes, out, 1), BatchNorm(out)));
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = torch::relu(bn1(conv1(x)));
  out = torch::relu(bn2(conv2(out)));
  out = bn3(conv3(average_pool(out, stride_)));
  const auto identity = downsample ? downsample->forward(average_pool(x, stride_)) : x;
  return torch::relu(out + identity);
}

AttentionPool2dImpl::AttentionPool2dImpl(int64_t grid, int64_t width, int64_t heads, int64_t output_dim)
    : grid_(grid), heads_(heads) {
  TORCH_CHECK(width % heads == 0, "attention pool width ", width, " is not divisible by ", heads, " heads");
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({grid * grid + 1, width}) / std::sqrt(static_cast<double>(width)));
  q_proj = register_module("q_proj", torch::nn::Linear(width, width));
  k_proj = register_module("k_proj", torch::nn::Linear(width, width));
  v_proj = register_module("v_proj", torch::nn::Linear(width, width));
  c_proj = register_module("c_proj", torch::nn::Linear(width, output_dim));
  // CLIP's initialisation of the pool's projections.
  torch::NoGradGuard no_grad;
  for (auto* projection : {&q_proj, &k_proj, &v_proj, &c_proj})
    (*projection)->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(width)));
}

torch::Tensor AttentionPool2dImpl::forward(const torch::Tensor& features) {
  const auto batch = features.size(0), width = features.size(1), grid_h = features.size(2), grid_w = features.size(3);
  auto tokens = features.flatten(2).transpose(1, 2);  // [B, HW, C]
  tokens = torch::cat({tokens.mean(1, true), tokens}, 1) +
           grid_positional_embedding(positional_embedding, grid_, grid_h, grid_w).to(tokens.dtype());
  const auto head_dim = width / heads_;
  auto split_heads = [&](const torch::Tensor& t) { return t.view({batch, t.size(1), heads_, head_dim}).transpose(1, 2); };
  // Only the mean token's output is used, so it is the only query computed.
  auto q = split_heads(linear(tokens.slice(1, 0, 1), q_proj->weight, q_proj->bias, q_proj_int8)) *
           (1.0 / std::sqrt(static_cast<double>(head_dim)));
  auto k = split_heads(linear(tokens, k_proj->weight, k_proj->bias, k_proj_int8));
  auto v = split_heads(linear(tokens, v_proj->weight, v_proj->bias, v_proj_int8));
  auto context = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)), -1), v);  // [B, H, 1, Dh]
  return linear(context.transpose(1, 2).reshape({batch, width}), c_proj->weight, c_proj->bias, c_proj_int8);
}

ModifiedResNetImpl::ModifiedResNetImpl(const ClipConfig& c) {
  const auto width = c.vision_width;
  conv1 = register_module("conv1", conv(3, width / 2, 3, 2));
  bn1 = register_module("bn1", BatchNorm(width / 2));
  conv2 = register_module("conv2", conv(width / 2, width / 2, 3));
  bn2 = register_module("bn2", BatchNorm(width / 2));
  conv3 = register_module("conv3", conv(width / 2, width, 3));
  bn3 = register_module("bn3", BatchNorm(width));
  int64_t inplanes = width;
  const auto& layers = c.vision_stage_layers;
  layer1 = register_module("layer1", make_stage(inplanes, width, layers[0], 1));
  layer2 = register_module("layer2", make_stage(inplanes, width * 2, layers[1], 2));
  layer3 = register_module("layer3", make_stage(inplanes, width * 4, layers[2], 2));
  layer4 = register_module("layer4", make_stage(inplanes, width * 8, layers[3], 2));
  attnpool = register_module("attnpool", AttentionPool2d(c.image_resolution / kStride, width * 32, c.vision_heads, c.embed_dim));
}

torch::Tensor ModifiedResNetImpl::forward(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) % kStride != 0 || images.size(3) % kStride != 0)
    throw Error("ResNet image encoder expects [B, 3, H, W] with H and W multiples of 32, got " + c10::str(images.sizes()));
  auto x = images.to(conv1->weight.dtype());
  x = torch::relu(bn1(conv1(x)));
  x = torch::relu(bn2(conv2(x)));
  x = torch::relu(bn3(conv3(x)));
  x = average_pool(x, 2);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return attnpool(x);
}

}  // namespace actionclip
