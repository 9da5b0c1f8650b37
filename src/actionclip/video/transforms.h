#pragma once
// CLIP-exact image preprocessing: PIL's bicubic resize, torchvision's centre crop and
// normalisation, reproduced bit for bit so features match the Python reference.
#include <torch/types.h>

#include <array>
#include <vector>

#include "actionclip/video/frame.h"

namespace actionclip::video {

inline constexpr std::array<float, 3> kClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kClipStd{0.26862954f, 0.26130258f, 0.27577711f};

// Resize so the shorter side becomes `size` and the longer int(size * long / short), as
// torchvision's Resize(int) computes it, with PIL's Image.resize(..., BICUBIC) arithmetic.
Frame resize_shorter_side(const Frame& frame, int size);

// The width x height window whose top-left pixel is (left, top); it must lie inside the frame.
Frame crop(const Frame& frame, int left, int top, int width, int height);

// The central size x size window; offsets int(round((dim - size) / 2.0)) as torchvision.
Frame center_crop(const Frame& frame, int size);

// Frames of equal size -> float [T, 3, H, W]: value / 255, then (x - mean) / std.
torch::Tensor to_clip_tensor(const std::vector<Frame>& frames, const std::array<float, 3>& mean = kClipMean,
                             const std::array<float, 3>& std = kClipStd);

// Resize the shorter side, centre crop, normalise.
struct ClipPreprocess {
  int resize_size = 224;
  int crop_size = 224;
  std::array<float, 3> mean = kClipMean;
  std::array<float, 3> std = kClipStd;

  // OpenAI CLIP's `preprocess`: shorter side to n, crop n.
  static ClipPreprocess clip(int input_size = 224) { return {input_size, input_size}; }
  // ActionCLIP's validation transform: GroupScale(n * 256 / 224) (a torchvision Resize(int),
  // so the shorter side), then GroupCenterCrop(n).
  static ClipPreprocess actionclip_val(int input_size = 224) { return {input_size * 256 / 224, input_size}; }

  Frame apply(const Frame& frame) const;
  torch::Tensor operator()(const std::vector<Frame>& frames) const;  // [T, 3, crop, crop]
};

}  // namespace actionclip::video
