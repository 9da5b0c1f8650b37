#pragma once
// ActionCLIP: CLIP's encoders plus a visual prompt that turns frame features into one video
// feature. Video-text similarity is the cosine of the two embeddings.
#include <torch/torch.h>

#include "actionclip/clip/clip_model.h"
#include "actionclip/model/visual_prompt.h"

namespace actionclip {

struct ActionClipOptions {
  PromptType prompt = PromptType::MeanP;
  int64_t num_frames = 8;
  bool reference_conv1d = true;
};

class ActionClipModelImpl : public torch::nn::Module {
 public:
  ActionClipModelImpl(const ClipConfig& clip_config, const ActionClipOptions& options);

  // frames [B, T, 3, H, W] -> unnormalized video features [B, D].
  torch::Tensor encode_video(const torch::Tensor& frames);
  // frames [B, T, 3, H, W] -> per-frame features [B, T, D] (the visual prompt's input).
  torch::Tensor encode_frames(const torch::Tensor& frames);
  torch::Tensor encode_text(const torch::Tensor& token_ids) { return clip->encode_text(token_ids); }

  const ActionClipOptions& options() const { return options_; }

  ClipModel clip{nullptr};
  VisualPrompt fusion{nullptr};

 private:
  ActionClipOptions options_;
};
TORCH_MODULE(ActionClipModel);

}  // namespace actionclip
