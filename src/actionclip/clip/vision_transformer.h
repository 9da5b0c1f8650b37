#pragma once
// CLIP's ViT image encoder (OpenAI names under "visual."), with ActionCLIP's pre-network
// `Joint` prompt (a learned temporal embedding added to every frame's patch tokens, all
// frames through the ViT together).
#include <torch/torch.h>

#include "actionclip/clip/clip_config.h"
#include "actionclip/clip/image_encoder.h"
#include "actionclip/clip/transformer.h"

namespace actionclip {

class VisionTransformerImpl : public ImageEncoderImpl {
 public:
  explicit VisionTransformerImpl(const ClipConfig& config);

  // images [B, 3, H, W] -> embeddings [B, embed_dim]. Any H, W divisible by the patch size:
  // the positional embedding is interpolated for grids other than the checkpoint's.
  torch::Tensor forward(const torch::Tensor& images) override;

  // Frames [B*T, 3, H, W] of B videos with T frames each -> [B, embed_dim], using the
  // `Joint` temporal embedding (enable_joint must have been called).
  torch::Tensor forward_joint(const torch::Tensor& frames, int64_t num_frames);

  void enable_joint(int64_t num_frames);
  void enable_temporal_shift(int64_t num_frames);
  bool joint() const { return time_embedding.defined(); }

  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding, proj, time_embedding;
  Int8Linear proj_int8;  // packed by quantize_for_inference
  double emb_dropout = 0;  // training: dropout on the embedded tokens, before ln_pre (the reference's)
  LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  Transformer transformer{nullptr};

 private:
  torch::Tensor embed_patches(const torch::Tensor& images);  // [B, 1 + grid^2, width]
  torch::Tensor pool(const torch::Tensor& tokens);
  torch::Tensor encode_tokens(const torch::Tensor& tokens);  // embedded tokens -> embeddings

  int64_t checkpoint_grid_;
};
TORCH_MODULE(VisionTransformer);

}  // namespace actionclip
