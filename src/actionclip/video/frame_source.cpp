#include "actionclip/video/frame_source.h"

#include <filesystem>
#include <stdexcept>

#include "actionclip/util/error.h"
#include "actionclip/video/image_reader.h"
#include "actionclip/video/video_reader.h"

namespace actionclip::video {
namespace {

class VideoFileSource : public FrameSource {
 public:
  explicit VideoFileSource(const std::string& path) : reader_(path) {}
  int64_t frame_count() override { return reader_.frame_count(); }
  std::vector<Frame> read_frames(const std::vector<int64_t>& indices) override {
    return reader_.read_frames(indices);
  }
  std::optional<double> frame_seconds(int64_t index) override { return reader_.frame_seconds(index); }

 private:
  VideoReader reader_;
};

}  // namespace

RawFrameFolder::RawFrameFolder(std::string folder, std::string name_template, int64_t first_number)
    : folder_(std::move(folder)), first_number_(first_number) {
  if (first_number < 0) throw std::invalid_argument("frame folder " + folder_ + ": negative first frame number");
  if (!std::filesystem::is_directory(folder_)) throw FileError(folder_, "not a folder of frames");
  const auto open = name_template.find('{');
  const auto close = name_template.find('}', open);
  if (open == std::string::npos || close == std::string::npos)
    throw std::invalid_argument("frame name template '" + name_template + "' has no {} field");
  const std::string spec = name_template.substr(open + 1, close - open - 1);
  // Accepts "", ":d" and ":0Nd" — the forms frame-extraction scripts use.
  if (!spec.empty()) {
    const bool zero_padded = spec.size() > 3 && spec.compare(0, 2, ":0") == 0;
    const std::string digits = zero_padded ? spec.substr(2, spec.size() - 3) : "";
    if (spec.back() != 'd' || (spec != ":d" && (!zero_padded || digits.find_first_not_of("0123456789") !=
                                                                    std::string::npos)))
      throw std::invalid_argument("frame name template '" + name_template + "': unsupported field {" + spec + "}");
    if (zero_padded) width_ = std::stoi(digits);
  }
  prefix_ = name_template.substr(0, open);
  suffix_ = name_template.substr(close + 1);
}

std::string RawFrameFolder::frame_path(int64_t index) const {
  std::string number = std::to_string(first_number_ + index);
  if (static_cast<int>(number.size()) < width_) number.insert(0, width_ - number.size(), '0');
  return (std::filesystem::path(folder_) / (prefix_ + number + suffix_)).string();
}

int64_t RawFrameFolder::frame_count() {
  if (count_ < 0) {
    int64_t n = 0;
    while (std::filesystem::exists(frame_path(n))) ++n;
    if (n == 0) throw FileError(folder_, "no frames (expected " + frame_path(0) + ")");
    count_ = n;
  }
  return count_;
}

std::vector<Frame> RawFrameFolder::read_frames(const std::vector<int64_t>& indices) {
  const int64_t count = frame_count();
  std::vector<Frame> frames;
  frames.reserve(indices.size());
  for (int64_t i : indices) {
    if (i < 0 || i >= count)
      throw std::out_of_range(folder_ + ": frame index " + std::to_string(i) + " outside [0, " +
                              std::to_string(count) + ")");
    frames.push_back(read_image(frame_path(i)));
  }
  return frames;
}

std::unique_ptr<FrameSource> open_frame_source(const std::string& path, const std::string& frame_template,
                                               int64_t first_number) {
  if (std::filesystem::is_directory(path)) return std::make_unique<RawFrameFolder>(path, frame_template, first_number);
  return std::make_unique<VideoFileSource>(path);
}

}  // namespace actionclip::video
