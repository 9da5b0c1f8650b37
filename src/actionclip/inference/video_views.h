#pragma once
// Test-time views of one video: N temporal clips (TSN segment sampling, offset per clip)
// x 1 or 3 spatial crops. One view is ActionCLIP's validation protocol (shorter side to
// 256/224 of the input size, centre crop); 3 crops cover the longer side after scaling the
// shorter one to the input size (mmaction2's ThreeCrop), as the paper's 10 x 3 protocol does.
#include <torch/torch.h>

#include <string>

#include "actionclip/video/frame_source.h"

namespace actionclip {

struct ViewOptions {
  int frames = 8;   // segments per clip
  int clips = 1;
  int crops = 1;    // 1 or 3
  int input_size = 224;
  std::string frame_template = video::kDefaultFrameTemplate;  // file names in rawframe folders

  int views() const { return clips * crops; }
  // "CROPSxCLIPS": "1x1" (single view), "3x10" (3 crops x 10 clips, the paper's best).
  static ViewOptions parse(const std::string& crops_x_clips, int frames, int input_size);
};

// Normalized views [clips * crops, frames, 3, S, S] of the video or frame folder at `path`.
// Throws FileError naming the path when it cannot be decoded.
torch::Tensor load_video_views(const std::string& path, const ViewOptions& options);
torch::Tensor make_views(video::FrameSource& source, const ViewOptions& options);

}  // namespace actionclip
