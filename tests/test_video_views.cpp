// Test-time views: which frames and which crops each view holds, in the order the scores average.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/inference/video_views.h"
#include "actionclip/video/sampling.h"
#include "actionclip/video/transforms.h"

namespace actionclip {
namespace {

using video::Frame;

// Frames whose pixels encode their index, so a view shows which frames it took.
class PatternSource : public video::FrameSource {
 public:
  PatternSource(int64_t count, int width, int height) : count_(count), width_(width), height_(height) {}
  int64_t frame_count() override { return count_; }
  std::vector<Frame> read_frames(const std::vector<int64_t>& indices) override {
    std::vector<Frame> frames;
    for (int64_t i : indices) frames.push_back(frame(i));
    return frames;
  }
  Frame frame(int64_t index) const {
    Frame f{width_, height_, std::vector<uint8_t>(static_cast<size_t>(width_) * height_ * 3)};
    for (size_t p = 0; p < f.rgb.size(); ++p) f.rgb[p] = static_cast<uint8_t>((p * 13 + index * 29) % 251);
    return f;
  }

 private:
  int64_t count_;
  int width_, height_;
};

TEST(VideoViews, SingleViewIsTheValidationTransformOfTheTsnCentres) {
  PatternSource source(40, 64, 48);
  const auto views = make_views(source, ViewOptions::parse("1x1", 4, 32));
  ASSERT_EQ(views.sizes(), (std::vector<int64_t>{1, 4, 3, 32, 32}));
  std::vector<Frame> frames;
  for (int64_t i : video::tsn_center_indices(40, 4)) frames.push_back(source.frame(i));
  EXPECT_TRUE(torch::equal(views[0], video::ClipPreprocess::actionclip_val(32)(frames)));
}

TEST(VideoViews, ThreeCropsPerClipInClipMajorOrder) {
  PatternSource source(40, 64, 48);
  const auto views = make_views(source, ViewOptions::parse("3x2", 4, 32));
  ASSERT_EQ(views.sizes(), (std::vector<int64_t>{6, 4, 3, 32, 32}));
  const auto clips = video::multi_clip_indices(40, 4, 2);
  for (int clip = 0; clip < 2; ++clip) {
    // Shorter side to the input size (48 -> 32 makes 64 -> 42), then crops along the longer side.
    for (int k = 0; k < 3; ++k) {
      std::vector<Frame> frames;
      for (int64_t i : clips[clip]) frames.push_back(video::crop(video::resize_shorter_side(source.frame(i), 32), k * 5, 0, 32, 32));
      EXPECT_TRUE(torch::equal(views[clip * 3 + k], video::to_clip_tensor(frames))) << "clip " << clip << ", crop " << k;
    }
  }
}

TEST(VideoViews, CropOutsideTheFrameIsRefused) {
  const Frame f = PatternSource(1, 8, 6).frame(0);
  EXPECT_EQ(video::crop(f, 2, 1, 6, 5).rgb.size(), 6u * 5 * 3);
  EXPECT_THROW(video::crop(f, 3, 0, 6, 5), std::invalid_argument);
  EXPECT_THROW(video::crop(f, 0, -1, 2, 2), std::invalid_argument);
}

}  // namespace
}  // namespace actionclip
