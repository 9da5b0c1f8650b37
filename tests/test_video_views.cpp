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

TEST(VideoViews, SingleViewIsTheValidationTransformOfTheReferenceFrames) {
  PatternSource source(40, 64, 48);
  const auto views = make_views(source, ViewOptions::parse("1x1", 4, 32)).pixels;
  ASSERT_EQ(views.sizes(), (std::vector<int64_t>{1, 4, 3, 32, 32}));
  std::vector<Frame> frames;
  for (int64_t i : video::actionclip_test_indices(40, 4)) frames.push_back(source.frame(i));
  EXPECT_TRUE(torch::equal(views[0], video::ClipPreprocess::actionclip_val(32)(frames)));
}

TEST(VideoViews, ThreeCropsPerClipInClipMajorOrder) {
  PatternSource source(40, 64, 48);
  const auto views = make_views(source, ViewOptions::parse("3x2", 4, 32)).pixels;
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

TEST(VideoViews, EachViewReportsTheFramesItRead) {
  PatternSource source(40, 64, 48);
  const auto single = make_views(source, ViewOptions::parse("1x1", 4, 32));
  ASSERT_EQ(single.frames.size(), 1u);
  EXPECT_EQ(single.frames[0].indices, (std::vector<int64_t>{4, 14, 24, 34}));  // the reference's
  EXPECT_TRUE(single.frames[0].seconds.empty());       // the source has no timestamps
  EXPECT_TRUE(single.frames[0].file_numbers.empty());  // nor file names

  auto options = ViewOptions::parse("1x1", 4, 32);
  options.sampling = video::Sampling::kMmaction;
  const auto mmaction = make_views(source, options);
  EXPECT_EQ(mmaction.frames[0].indices, (std::vector<int64_t>{5, 15, 25, 35}));
  std::vector<Frame> frames;
  for (int64_t i : mmaction.frames[0].indices) frames.push_back(source.frame(i));
  EXPECT_TRUE(torch::equal(mmaction.pixels[0], video::ClipPreprocess::actionclip_val(32)(frames)));

  // Several clips keep their layout whatever the formula; each crop of a clip read its frames.
  const auto tiled = make_views(source, ViewOptions::parse("3x2", 4, 32));
  ASSERT_EQ(tiled.frames.size(), 6u);
  const auto clips = video::multi_clip_indices(40, 4, 2);
  for (size_t v = 0; v < 6; ++v) EXPECT_EQ(tiled.frames[v].indices, clips[v / 3]) << "view " << v;
}

// A data list's frame count bounds the sampling, as the reference samples within num_frames.
TEST(VideoViews, AListsFrameCountBoundsTheSampling) {
  PatternSource source(40, 64, 48);
  const auto views = make_views(source, ViewOptions::parse("1x1", 4, 32), 20);
  EXPECT_EQ(views.frames[0].indices, video::actionclip_test_indices(20, 4));
}

TEST(VideoViews, CropOutsideTheFrameIsRefused) {
  const Frame f = PatternSource(1, 8, 6).frame(0);
  EXPECT_EQ(video::crop(f, 2, 1, 6, 5).rgb.size(), 6u * 5 * 3);
  EXPECT_THROW(video::crop(f, 3, 0, 6, 5), std::invalid_argument);
  EXPECT_THROW(video::crop(f, 0, -1, 2, 2), std::invalid_argument);
}

}  // namespace
}  // namespace actionclip
