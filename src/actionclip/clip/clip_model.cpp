#include "actionclip/clip/clip_model.h"

#include <cmath>

#include "actionclip/clip/linear.h"
#include "actionclip/clip/modified_resnet.h"
#include "actionclip/util/error.h"

namespace actionclip {

ClipModelImpl::ClipModelImpl(const ClipConfig& c) : config_(c) {
  visual = c.resnet() ? register_module<ImageEncoderImpl>("visual", ModifiedResNet(c).ptr())
                      : register_module<ImageEncoderImpl>("visual", VisionTransformer(c).ptr());
  transformer = register_module("transformer", Transformer(c.text_layers, BlockOptions{c.text_width, c.text_heads, c.activation}));
  token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.text_width));
  positional_embedding = register_parameter("positional_embedding", 0.01 * torch::randn({c.context_length, c.text_width}));
  ln_final = register_module("ln_final", LayerNorm(torch::nn::LayerNormOptions({c.text_width})));
  text_projection = register_parameter("text_projection",
                                       std::pow(c.text_width, -0.5) * torch::randn({c.text_width, c.embed_dim}));
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
  torch::nn::init::normal_(token_embedding->weight, 0.0, 0.02);
}

torch::Tensor ClipModelImpl::encode_image(const torch::Tensor& images) { return visual->forward(images); }

VisionTransformer ClipModelImpl::vision_transformer(const std::string& needed_by) const {
  auto vit = std::dynamic_pointer_cast<VisionTransformerImpl>(visual);
  if (!vit) throw Error(needed_by + " needs a ViT image encoder; this CLIP's is a ResNet (" + config_.describe_image_encoder() + ")");
  return VisionTransformer(vit);
}

void ClipModelImpl::set_dropout(double emb_dropout, double drop_out) {
  emb_dropout_ = emb_dropout;
  const auto schedule = config_.resnet() ? config_.text_layers : config_.vision_layers;
  if (auto vit = std::dynamic_pointer_cast<VisionTransformerImpl>(visual)) {
    vit->emb_dropout = emb_dropout;
    vit->transformer->set_drop_rates(drop_out, schedule);
  }
  transformer->set_drop_rates(drop_out, schedule);
}

torch::Tensor ClipModelImpl::causal_mask(int64_t length, const torch::TensorOptions& options) const {
  return torch::full({length, length}, -std::numeric_limits<float>::infinity(), options).triu(1);
}

torch::Tensor ClipModelImpl::encode_text(const torch::Tensor& token_ids) {
  if (token_ids.dim() != 2 || token_ids.size(1) > config_.context_length)
    throw Error("text encoder expects token ids [B, <= " + std::to_string(config_.context_length) + "], got " +
                c10::str(token_ids.sizes()));
  auto ids = token_ids.to(torch::kLong).to(token_embedding->weight.device());
  // First end-of-text position per row (argmax of a boolean picks the first true).
  auto is_eot = ids == eot_token();
  if (!is_eot.any(1).all().item<bool>()) throw Error("every tokenized text must contain the end-of-text token");
  auto eot_position = is_eot.to(torch::kInt).argmax(1);
  const auto length = eot_position.max().item<int64_t>() + 1;
  ids = ids.slice(1, 0, length);

  auto x = token_embedding(ids) + positional_embedding.slice(0, 0, length);
  if (emb_dropout_ > 0) x = torch::dropout(x, emb_dropout_, is_training());
  x = transformer(x, causal_mask(length, x.options()));
  x = ln_final(x);
  auto pooled = x.index({torch::arange(x.size(0), ids.options()), eot_position});
  return project(pooled, text_projection, text_projection_int8);
}

torch::Tensor l2_normalize(const torch::Tensor& x) { return x / x.norm(2, -1, true); }

}  // namespace actionclip
