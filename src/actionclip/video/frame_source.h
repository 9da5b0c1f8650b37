#pragma once
// Where the pipeline gets frames from: an encoded video file, or a folder of extracted frames
// (the "rawframes" layout of the ActionCLIP, TSN and mmaction2 data lists).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/video/frame.h"

namespace actionclip::video {

// The reference lists' frame file names: "img_00001.jpg" is frame index 0.
inline constexpr const char* kDefaultFrameTemplate = "img_{:05d}.jpg";
// The number in the first frame file's name: the reference's index_bias (1 for img_00001.jpg).
inline constexpr int64_t kDefaultFirstFrameNumber = 1;

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual int64_t frame_count() = 0;
  // Frames at 0-based indices, any order, repeats allowed.
  virtual std::vector<Frame> read_frames(const std::vector<int64_t>& indices) = 0;
  // Where frame `index` comes from, so users can check what was read: its presentation time
  // (video files) or the number in its file name (frame folders).
  virtual std::optional<double> frame_seconds(int64_t /*index*/) { return std::nullopt; }
  virtual std::optional<int64_t> frame_file_number(int64_t /*index*/) const { return std::nullopt; }
};

// A folder holding one image per frame. File names come from `name_template`, a pattern with
// one `{:0Nd}` (or `{}`) field that receives the frame number: frame index i is file number
// first_number + i, so with the reference lists' template and index_bias 1 "img_{:05d}.jpg"
// names frame index 0 "img_00001.jpg". The frame count is the number of consecutive names that
// exist, starting from first_number.
class RawFrameFolder : public FrameSource {
 public:
  explicit RawFrameFolder(std::string folder, std::string name_template = kDefaultFrameTemplate,
                          int64_t first_number = kDefaultFirstFrameNumber);
  int64_t frame_count() override;
  std::vector<Frame> read_frames(const std::vector<int64_t>& indices) override;
  std::optional<int64_t> frame_file_number(int64_t index) const override { return first_number_ + index; }
  std::string frame_path(int64_t index) const;  // path of 0-based frame `index`

 private:
  std::string folder_;
  std::string prefix_, suffix_;
  int width_ = 0;  // zero padding of the frame number
  int64_t first_number_;
  int64_t count_ = -1;
};

// A folder opens as a RawFrameFolder, anything else as a video file (where frame numbering
// always starts at 0 and `first_number` does not apply). Throws actionclip::FileError naming
// the path when it cannot be opened.
std::unique_ptr<FrameSource> open_frame_source(const std::string& path,
                                               const std::string& frame_template = kDefaultFrameTemplate,
                                               int64_t first_number = kDefaultFirstFrameNumber);

}  // namespace actionclip::video
