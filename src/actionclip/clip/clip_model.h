#pragma once
// CLIP (image + text encoders, logit scale) with OpenAI's parameter names, so that
// named_parameters() match the keys of released checkpoints one to one.
#include <torch/torch.h>

#include <string>

#include "actionclip/clip/clip_config.h"
#include "actionclip/clip/image_encoder.h"
#include "actionclip/clip/transformer.h"
#include "actionclip/clip/vision_transformer.h"

namespace actionclip {

class ClipModelImpl : public torch::nn::Module {
 public:
  explicit ClipModelImpl(const ClipConfig& config);

  // [B, 3, H, W] normalized pixels -> unnormalized image features [B, embed_dim].
  torch::Tensor encode_image(const torch::Tensor& images);

  // Token ids [B, context] (SOT ... EOT, padded) -> unnormalized features [B, embed_dim],
  // pooled at the first end-of-text token. Because attention is causal, positions after the
  // last end-of-text token of the batch cannot affect the pooled outputs, so they are not
  // computed at all (exact, and most prompts are far shorter than 77 tokens).
  torch::Tensor encode_text(const torch::Tensor& token_ids);

  // Training regularisation as the reference's CLIP has it: dropout on the embedded tokens of both
  // encoders, and in every transformer block stochastic depth and attention dropout at a rate
  // rising linearly from 0 to `drop_out`, over the image encoder's depth (the text blocks take the
  // same rates by index). A ResNet image encoder has neither.
  void set_dropout(double emb_dropout, double drop_out);

  const ClipConfig& config() const { return config_; }
  int64_t eot_token() const { return config_.vocab_size - 1; }

  // The image encoder as a ViT, for what only a ViT has (Joint, Shift); an Error naming
  // `needed_by` when it is a ResNet.
  VisionTransformer vision_transformer(const std::string& needed_by) const;

  std::shared_ptr<ImageEncoderImpl> visual;  // a VisionTransformer or a ModifiedResNet
  Transformer transformer{nullptr};
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding, text_projection, logit_scale;
  Int8Linear text_projection_int8;  // packed by quantize_for_inference
  LayerNorm ln_final{nullptr};

 private:
  torch::Tensor causal_mask(int64_t length, const torch::TensorOptions& options) const;

  ClipConfig config_;
  double emb_dropout_ = 0;
};
TORCH_MODULE(ClipModel);

// L2 normalization along the last dimension.
torch::Tensor l2_normalize(const torch::Tensor& x);

}  // namespace actionclip
