#pragma once
// Where the pipeline gets frames from: an encoded video file, or a folder of extracted frames
// (the "rawframes" layout of the ActionCLIP, TSN and mmaction2 data lists).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actionclip/video/frame.h"

namespace actionclip::video {

// The reference lists' frame file names: "img_00001.jpg" is frame index 0.
inline constexpr const char* kDefaultFrameTemplate = "img_{:05d}.jpg";

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual int64_t frame_count() = 0;
  // Frames at 0-based indices, any order, repeats allowed.
  virtual std::vector<Frame> read_frames(const std::vector<int64_t>& indices) = 0;
};

// A folder holding one image per frame. File names come from `name_template`, a pattern with
// one `{:0Nd}` (or `{}`) field that receives the 1-based frame number, as the reference lists
// use: "img_{:05d}.jpg" names frame index 0 "img_00001.jpg". The frame count is the number of
// consecutive names that exist, starting from 1.
class RawFrameFolder : public FrameSource {
 public:
  explicit RawFrameFolder(std::string folder, std::string name_template = kDefaultFrameTemplate);
  int64_t frame_count() override;
  std::vector<Frame> read_frames(const std::vector<int64_t>& indices) override;
  std::string frame_path(int64_t index) const;  // path of 0-based frame `index`

 private:
  std::string folder_;
  std::string prefix_, suffix_;
  int width_ = 0;  // zero padding of the frame number
  int64_t count_ = -1;
};

// A folder opens as a RawFrameFolder with the default template, anything else as a video file.
// Throws actionclip::FileError naming the path when it cannot be opened.
std::unique_ptr<FrameSource> open_frame_source(const std::string& path,
                                               const std::string& frame_template = kDefaultFrameTemplate);

}  // namespace actionclip::video
