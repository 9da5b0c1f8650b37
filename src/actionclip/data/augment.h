#pragma once
// Training augmentation of one clip, after ActionCLIP's get_augmentation (datasets/transforms_ss.py):
// [RandAugment] -> GroupMultiScaleCrop -> GroupRandomHorizontalFlip -> colour jitter -> random
// grayscale -> /255 and CLIP normalisation.
//
// Clips are [T, 3, H, W] tensors, uint8 or float with values in 0..255, on any device. Every
// random parameter is drawn once per clip, so all frames get the same crop, flip, colour change
// and RandAugment ops: motion is then the only thing that differs between frames. The reference
// draws colour jitter and RandAugment anew for every frame, which makes clips flicker in ways
// real videos do not. Image statistics (contrast mean, autocontrast range, equalisation
// histogram) stay per frame, as when the reference applies an op to each image.
//
// Randomness comes from a std::mt19937_64 whose raw outputs are mapped to numbers here, not by
// the std distributions (which differ between standard libraries), so a seed gives the same
// clip everywhere. Draw order: RandAugment, crop, flip, jitter, grayscale.
#include <torch/types.h>

#include <array>
#include <random>
#include <vector>

#include "actionclip/video/transforms.h"

namespace actionclip::data {

// torchvision ColorJitter's ranges: brightness, contrast and saturation factors uniform in
// [max(0, 1 - x), 1 + x], hue shift uniform in [-hue, hue] (hue <= 0.5), the four applied in a
// random order; the whole jitter with probability p.
struct ColorJitterConfig {
  double p = 0.8;
  double brightness = 0.4, contrast = 0.4, saturation = 0.2, hue = 0.1;
};

// RandAugment (Cubuk et al. 2020) with torchvision's 14 ops and magnitude ranges: N ops drawn
// uniformly with replacement, each at strength M / max_magnitude of its range, signed ops
// (rotate, shear, translate, and the enhance factors) with a random sign.
struct RandAugmentConfig {
  int N = 0;  // 0 disables it, as in the reference
  int M = 9;
  // 30: torchvision (31 magnitude bins) and the reference's RandAugment; 10: timm's scale.
  int max_magnitude = 30;
};

// Mirrors the reference's data config: input_size, randaug.N / randaug.M, and the settings its
// get_augmentation hard-codes. (The reference's random_shift chooses random versus centred frame
// sampling, so it lives with the samplers in video/sampling.h.)
struct TrainAugmentConfig {
  int input_size = 224;
  std::vector<double> scales{1, .875, .75, .66};  // crop side / shorter image side
  int max_distort = 1;  // largest difference between the width's and height's scale index
  bool more_fix_crop = true;  // 13 fixed crop positions instead of 5
  bool flip = true;  // off for direction-sensitive data (Something-Something)
  ColorJitterConfig color_jitter;
  double gray_scale = 0.2;  // probability of converting the clip to grayscale
  RandAugmentConfig randaug;
  std::array<float, 3> mean = video::kClipMean;
  std::array<float, 3> std = video::kClipStd;
};

// The reference's candidate crop sizes (width, height), in its order: sides int(shorter * scale),
// snapped to input_size when within 3 px, paired when their scale indices differ by at most
// max_distort.
std::vector<std::array<int, 2>> multiscale_crop_sizes(int image_width, int image_height, int input_size,
                                                      const std::vector<double>& scales, int max_distort);

// The reference's fixed crop offsets (x, y), in its order: corners and centre, then with
// more_fix_crop the edge centres and the four quarter points, on a grid of (image - crop) // 4.
std::vector<std::array<int, 2>> fixed_crop_offsets(int image_width, int image_height, int crop_width,
                                                   int crop_height, bool more_fix_crop);

// GroupMultiScaleCrop(fix_crop=True): a random candidate size at a random fixed offset, resized
// to input_size x input_size (bilinear, antialiased like PIL). Crops larger than the image
// (snapping can do that) are clamped to it; the reference would pad them with black. -> float.
torch::Tensor multiscale_crop(const torch::Tensor& clip, const TrainAugmentConfig& config, std::mt19937_64& rng);

// Each op below returns a float clip in 0..255 of the input's size.
torch::Tensor random_horizontal_flip(const torch::Tensor& clip, double p, std::mt19937_64& rng);
torch::Tensor color_jitter(const torch::Tensor& clip, const ColorJitterConfig& config, std::mt19937_64& rng);
torch::Tensor random_grayscale(const torch::Tensor& clip, double p, std::mt19937_64& rng);
torch::Tensor rand_augment(const torch::Tensor& clip, const RandAugmentConfig& config, std::mt19937_64& rng);

// value / 255, then (x - mean) / std per channel -> float.
torch::Tensor normalize_clip(const torch::Tensor& clip, const std::array<float, 3>& mean = video::kClipMean,
                             const std::array<float, 3>& std = video::kClipStd);

// The full training pipeline -> normalised float [T, 3, input_size, input_size].
torch::Tensor augment_train(const torch::Tensor& clip, const TrainAugmentConfig& config, std::mt19937_64& rng);

// The reference's validation transform on tensors: shorter side to input_size * 256 / 224
// (bilinear, antialiased; video/transforms.h has the PIL-exact bicubic path for inference),
// centre crop, normalise -> float [T, 3, input_size, input_size].
torch::Tensor augment_val(const torch::Tensor& clip, int input_size = 224,
                          const std::array<float, 3>& mean = video::kClipMean,
                          const std::array<float, 3>& std = video::kClipStd);

}  // namespace actionclip::data
