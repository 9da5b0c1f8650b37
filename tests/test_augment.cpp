// Training augmentation: the reference's multi-scale crop geometry, shapes and value ranges,
// determinism for a seed, and that every frame of a clip gets the same random parameters.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <random>
#include <vector>

#include "actionclip/data/augment.h"

namespace {

using namespace actionclip::data;
using Sizes = std::vector<std::array<int, 2>>;

// A textured uint8 clip [T, 3, H, W] whose frames differ, with distinct channels.
torch::Tensor make_clip(int64_t frames, int64_t height, int64_t width, uint64_t seed = 0) {
  torch::manual_seed(static_cast<int64_t>(seed));
  return torch::randint(0, 256, {frames, 3, height, width}, torch::kUInt8);
}

// The same texture in every frame.
torch::Tensor make_still_clip(int64_t frames, int64_t height, int64_t width) {
  return make_clip(1, height, width).expand({frames, 3, height, width}).contiguous();
}

// Everything random switched on, RandAugment included.
TrainAugmentConfig everything() {
  TrainAugmentConfig config;
  config.color_jitter.p = 1.0;
  config.gray_scale = 0.5;
  config.randaug.N = 3;
  config.randaug.M = 15;
  return config;
}

TEST(Augment, MultiScaleCropSizesMatchTheReference) {
  // 340x256: sides int(256 * {1, .875, .75, .66}) = 256, 224, 192, 168 (224 snapped to itself),
  // then the reference's loops: for each height index i, each width index j with |i - j| <= 1.
  const Sizes expected{{256, 256}, {224, 256}, {256, 224}, {224, 224}, {192, 224},
                       {224, 192}, {192, 192}, {168, 192}, {192, 168}, {168, 168}};
  EXPECT_EQ(multiscale_crop_sizes(340, 256, 224, {1, .875, .75, .66}, 1), expected);
  // A side within 3 px of the input size snaps to it: 226 -> 224, int(226 * .875) = 197.
  const Sizes snapped{{224, 224}, {197, 224}, {224, 197}, {197, 197}};
  EXPECT_EQ(multiscale_crop_sizes(300, 226, 224, {1, .875}, 1), snapped);
  EXPECT_EQ(multiscale_crop_sizes(300, 226, 224, {1, .875}, 0), (Sizes{{224, 224}, {197, 197}}));
}

TEST(Augment, FixedCropOffsetsMatchTheReference) {
  // (340 - 224) // 4 = 29, (256 - 192) // 4 = 16.
  const Sizes five{{0, 0}, {116, 0}, {0, 64}, {116, 64}, {58, 32}};
  EXPECT_EQ(fixed_crop_offsets(340, 256, 224, 192, false), five);
  Sizes thirteen = five;
  thirteen.insert(thirteen.end(),
                  {{0, 32}, {116, 32}, {58, 64}, {58, 0}, {29, 16}, {87, 16}, {29, 48}, {87, 48}});
  EXPECT_EQ(fixed_crop_offsets(340, 256, 224, 192, true), thirteen);
}

TEST(Augment, TrainOutputIsANormalisedClipOfTheInputSize) {
  std::mt19937_64 rng(1);
  const TrainAugmentConfig config = everything();
  // The normalised images of 0 and 255 bound every value.
  float low = 0, high = 0;
  for (int c = 0; c < 3; ++c) {
    low = std::min(low, -config.mean[c] / config.std[c]);
    high = std::max(high, (1 - config.mean[c]) / config.std[c]);
  }
  for (int i = 0; i < 6; ++i) {
    const auto out = augment_train(make_clip(4, 256, 340, i), config, rng);
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 3, 224, 224}));
    EXPECT_EQ(out.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
    EXPECT_GE(out.min().item<float>(), low - 1e-4f);
    EXPECT_LE(out.max().item<float>(), high + 1e-4f);
  }
}

TEST(Augment, ASeedDeterminesTheClip) {
  const auto clip = make_clip(3, 240, 320);
  const TrainAugmentConfig config = everything();
  std::mt19937_64 a(42), b(42), c(43);
  const auto first = augment_train(clip, config, a);
  EXPECT_TRUE(torch::equal(first, augment_train(clip, config, b)));
  EXPECT_FALSE(torch::equal(first, augment_train(clip, config, c)));
  // uint8 and float inputs of the same values give the same clip.
  std::mt19937_64 d(42);
  EXPECT_TRUE(torch::allclose(first, augment_train(clip.to(torch::kFloat), config, d)));
}

TEST(Augment, AllFramesOfAClipShareTheirParameters) {
  const auto still = make_still_clip(4, 200, 260);
  const TrainAugmentConfig config = everything();
  for (uint64_t seed = 0; seed < 12; ++seed) {
    std::mt19937_64 rng(seed);
    const auto out = augment_train(still, config, rng);
    for (int64_t t = 1; t < out.size(0); ++t)
      ASSERT_TRUE(torch::equal(out[t], out[0])) << "seed " << seed << ", frame " << t;
  }
}

TEST(Augment, RandAugmentKeepsShapeAndRangeForEveryMagnitude) {
  const auto clip = make_clip(2, 64, 80);
  for (const int max_magnitude : {10, 30}) {
    for (const int magnitude : {0, max_magnitude / 3, max_magnitude}) {
      std::mt19937_64 rng(static_cast<uint64_t>(magnitude));
      for (int i = 0; i < 20; ++i) {  // 20 draws of 2 ops cover the 14 ops in all likelihood
        const auto out = rand_augment(clip, {2, magnitude, max_magnitude}, rng);
        ASSERT_EQ(out.sizes(), clip.sizes());
        ASSERT_GE(out.min().item<float>(), 0.f);
        ASSERT_LE(out.max().item<float>(), 255.f);
      }
    }
  }
}

// Dark left half, bright right half; a square, so a scale-1 crop is the whole image at any offset.
torch::Tensor left_dark_clip() {
  auto clip = torch::full({2, 3, 224, 224}, 200.f);
  clip.narrow(3, 0, 112).fill_(20.f);
  return clip;
}

bool is_flipped(const torch::Tensor& out) {
  return out.narrow(3, 0, 112).mean().item<float>() > out.narrow(3, 112, 112).mean().item<float>();
}

TEST(Augment, FlipCanBeSwitchedOff) {
  TrainAugmentConfig config;
  config.scales = {1};
  config.color_jitter.p = 0;
  config.gray_scale = 0;
  int flips = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    flips += is_flipped(augment_train(left_dark_clip(), config, rng));
  }
  EXPECT_GT(flips, 2);
  EXPECT_LT(flips, 18);

  config.flip = false;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    const auto out = augment_train(left_dark_clip(), config, rng);
    ASSERT_FALSE(is_flipped(out)) << "seed " << seed;
    // Nothing else is random here: the output is the normalised input.
    ASSERT_TRUE(torch::allclose(out, normalize_clip(left_dark_clip()), 1e-5, 1e-5));
  }
}

TEST(Augment, ColourOpsBehaveAsTorchvision) {
  const auto clip = make_clip(2, 32, 48).to(torch::kFloat);
  std::mt19937_64 rng(5);
  EXPECT_TRUE(torch::equal(color_jitter(clip, {0.0, 0.4, 0.4, 0.2, 0.1}, rng), clip));  // p = 0

  // A vanishing hue shift is the identity: checks the RGB -> HSV -> RGB round trip.
  const auto shifted = color_jitter(clip, {1.0, 0, 0, 0, 1e-9}, rng);
  EXPECT_TRUE(torch::allclose(shifted, clip, 0, 1e-3)) << (shifted - clip).abs().max().item<float>();

  // Hue shifts leave greys grey.
  const auto grey = clip.select(1, 0).unsqueeze(1).expand({2, 3, 32, 48}).contiguous();
  const auto grey_out = color_jitter(grey, {1.0, 0, 0, 0, 0.5}, rng);
  EXPECT_TRUE(torch::allclose(grey_out, grey, 0, 1e-3));

  const auto gray = random_grayscale(clip, 1.0, rng);
  EXPECT_TRUE(torch::equal(gray.select(1, 0), gray.select(1, 1)));
  EXPECT_TRUE(torch::equal(gray.select(1, 1), gray.select(1, 2)));
  EXPECT_TRUE(torch::equal(random_grayscale(clip, 0.0, rng), clip));
}

TEST(Augment, ValidationResizesTheShorterSideAndCropsTheCentre) {
  const auto clip = make_clip(3, 256, 340);
  const auto out = augment_val(clip);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 3, 224, 224}));
  // The shorter side is already 256: no resampling, a crop at top 16, left round(58.0) = 58.
  const auto expected = normalize_clip(clip.narrow(2, 16, 224).narrow(3, 58, 224));
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-5));
  EXPECT_EQ(augment_val(make_clip(1, 480, 360)).sizes(), (std::vector<int64_t>{1, 3, 224, 224}));
}

TEST(Augment, RejectsClipsThatAreNotTxCxHxW) {
  std::mt19937_64 rng(0);
  EXPECT_THROW(augment_train(torch::zeros({3, 224, 224}), TrainAugmentConfig{}, rng), std::invalid_argument);
  EXPECT_THROW(augment_val(torch::zeros({2, 1, 224, 224})), std::invalid_argument);
}

}  // namespace
