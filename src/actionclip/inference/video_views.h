#pragma once
// Test-time views of one video: N temporal clips (TSN segment sampling; one clip follows the
// chosen formula, several are offset per clip) x 1 or 3 spatial crops. One view is ActionCLIP's
// validation protocol (shorter side to 256/224 of the input size, centre crop); 3 crops cover the
// longer side after scaling the shorter one to the input size (mmaction2's ThreeCrop), as the
// paper's 10 x 3 protocol does.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "actionclip/video/frame_source.h"
#include "actionclip/video/sampling.h"

namespace actionclip {

struct ViewOptions {
  int frames = 8;   // segments per clip
  int clips = 1;
  int crops = 1;    // 1 or 3
  int input_size = 224;
  std::string frame_template = video::kDefaultFrameTemplate;  // file names in rawframe folders
  video::Sampling sampling = video::Sampling::kActionclip;      // formula of single-clip views
  int64_t first_frame_number = video::kDefaultFirstFrameNumber;  // rawframe folders: index_bias

  int views() const { return clips * crops; }
  // "CROPSxCLIPS": "1x1" (single view), "3x10" (3 crops x 10 clips, the paper's best).
  static ViewOptions parse(const std::string& crops_x_clips, int frames, int input_size);
};

// The frames one view was made of, so users can check what the model saw.
struct ViewFrames {
  std::vector<int64_t> indices;       // 0-based positions in the video
  std::vector<double> seconds;        // presentation times (video files; else empty)
  std::vector<int64_t> file_numbers;  // numbers in the frame files' names (frame folders; else empty)
};

struct SampledViews {
  torch::Tensor pixels;            // [clips * crops, frames, 3, S, S] normalized
  std::vector<ViewFrames> frames;  // one per view, in the order of `pixels`
};

// Views of the video or frame folder at `path`. `frame_count` > 0 is the count a data list gives
// (the reference samples within the list's num_frames); 0 counts the source's frames. Throws
// FileError naming the path when it cannot be decoded.
SampledViews read_video_views(const std::string& path, const ViewOptions& options, int64_t frame_count = 0);
SampledViews make_views(video::FrameSource& source, const ViewOptions& options, int64_t frame_count = 0);
// The pixels of read_video_views.
torch::Tensor load_video_views(const std::string& path, const ViewOptions& options);

}  // namespace actionclip
