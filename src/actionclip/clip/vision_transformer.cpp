#include "actionclip/clip/vision_transformer.h"

#include "actionclip/clip/linear.h"
#include "actionclip/util/error.h"

namespace actionclip {

VisionTransformerImpl::VisionTransformerImpl(const ClipConfig& c) : checkpoint_grid_(c.grid_size()) {
  const auto width = c.vision_width;
  const double scale = 1.0 / std::sqrt(static_cast<double>(width));
  conv1 = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, c.vision_patch_size).stride(c.vision_patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", scale * torch::randn({width}));
  positional_embedding =
      register_parameter("positional_embedding", scale * torch::randn({checkpoint_grid_ * checkpoint_grid_ + 1, width}));
  ln_pre = register_module("ln_pre", LayerNorm(torch::nn::LayerNormOptions({width})));
  transformer = register_module("transformer", Transformer(c.vision_layers, BlockOptions{width, c.vision_heads, c.activation}));
  ln_post = register_module("ln_post", LayerNorm(torch::nn::LayerNormOptions({width})));
  proj = register_parameter("proj", scale * torch::randn({width, c.embed_dim}));
}

void VisionTransformerImpl::enable_joint(int64_t num_frames) {
  // [T, width] as the reference's VisualTransformer, so its Joint checkpoints load.
  time_embedding = register_parameter("time_embedding", torch::zeros({num_frames, conv1->options.out_channels()}));
}

void VisionTransformerImpl::enable_temporal_shift(int64_t num_frames) {
  for (auto& block : transformer->blocks) block->shift_segments = num_frames;
}

torch::Tensor VisionTransformerImpl::embed_patches(const torch::Tensor& images) {
  const auto patch = conv1->options.kernel_size()->at(0);
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) % patch != 0 || images.size(3) % patch != 0)
    throw Error("image encoder expects [B, 3, H, W] with H and W multiples of " + std::to_string(patch) + ", got " +
                c10::str(images.sizes()));
  auto x = conv1(images.to(conv1->weight.dtype()));  // [B, width, gh, gw]
  const auto grid_h = x.size(2), grid_w = x.size(3);
  x = x.flatten(2).transpose(1, 2);  // [B, gh*gw, width]
  auto cls = class_embedding.to(x.dtype()).expand({x.size(0), 1, x.size(2)});
  return torch::cat({cls, x}, 1) +
         grid_positional_embedding(positional_embedding, checkpoint_grid_, grid_h, grid_w).to(x.dtype());
}

torch::Tensor VisionTransformerImpl::pool(const torch::Tensor& tokens) {
  return project(ln_post(tokens.select(1, 0)), proj, proj_int8);
}

torch::Tensor VisionTransformerImpl::encode_tokens(const torch::Tensor& tokens) {
  auto x = emb_dropout > 0 ? torch::dropout(tokens, emb_dropout, is_training()) : tokens;
  return pool(transformer(ln_pre(x)));
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images) { return encode_tokens(embed_patches(images)); }

torch::Tensor VisionTransformerImpl::forward_joint(const torch::Tensor& frames, int64_t num_frames) {
  TORCH_CHECK(joint(), "Joint prompt is not enabled on this image encoder");
  auto x = embed_patches(frames);  // [B*T, 1+N, D]
  const auto videos = x.size(0) / num_frames, patches = x.size(1) - 1, width = x.size(2);
  // Every frame's class token is the same vector (class embedding + position 0), so one per
  // video is kept; the patch tokens of all frames follow, each with its frame's embedding.
  auto cls = x.slice(0, 0, videos).slice(1, 0, 1);
  auto tokens = x.slice(1, 1).reshape({videos, num_frames, patches, width});
  tokens = tokens + time_embedding.to(x.dtype()).view({1, num_frames, 1, width});
  tokens = tokens.permute({0, 2, 1, 3}).reshape({videos, patches * num_frames, width});  // (n t) order
  return encode_tokens(torch::cat({cls, tokens}, 1));
}

}  // namespace actionclip
