#include "actionclip/model/actionclip_model.h"

#include "actionclip/util/error.h"

namespace actionclip {

ActionClipModelImpl::ActionClipModelImpl(const ClipConfig& clip_config, const ActionClipOptions& options)
    : options_(options) {
  clip = register_module("clip", ClipModel(clip_config));
  auto prompt = VisualPromptOptions::for_clip(clip_config, options.prompt, options.num_frames);
  prompt.reference_conv1d = options.reference_conv1d;
  fusion = register_module("fusion", VisualPrompt(prompt));
  if (options.prompt == PromptType::Joint) clip->vision_transformer("the Joint prompt")->enable_joint(options.num_frames);
  if (options.prompt == PromptType::Shift)
    clip->vision_transformer("the Shift prompt")->enable_temporal_shift(options.num_frames);
}

torch::Tensor ActionClipModelImpl::encode_frames(const torch::Tensor& frames) {
  if (frames.dim() != 5) throw Error("video encoder expects frames [B, T, 3, H, W], got " + c10::str(frames.sizes()));
  const auto batch = frames.size(0), count = frames.size(1);
  return clip->encode_image(frames.flatten(0, 1)).view({batch, count, -1});
}

torch::Tensor ActionClipModelImpl::encode_video(const torch::Tensor& frames) {
  const auto count = frames.size(1);
  if ((options_.prompt == PromptType::Joint || options_.prompt == PromptType::Shift) && count != options_.num_frames)
    throw Error(prompt_type_name(options_.prompt) + " was built for " + std::to_string(options_.num_frames) +
                " frames per video, got " + std::to_string(count));
  if (options_.prompt == PromptType::Joint)
    return clip->vision_transformer("the Joint prompt")->forward_joint(frames.flatten(0, 1), count);
  return fusion(encode_frames(frames));
}

}  // namespace actionclip
