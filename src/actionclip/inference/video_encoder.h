#pragma once
// Many videos through the model: a pool of decoding threads prepares views while the model
// encodes batches of videos. Each video's result (or the reason it failed) comes back in
// input order; one bad file never stops the others.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "actionclip/inference/video_views.h"
#include "actionclip/model/actionclip_model.h"
#include "actionclip/util/progress.h"

namespace actionclip {

struct VideoEncoderOptions {
  ViewOptions views;
  int batch_size = 8;       // consecutive inputs per model call (fewer videos when some fail)
  int decode_threads = 2;
  torch::Device device = torch::kCPU;
  // Matrix products in bfloat16 (autocast): on GPUs and on CPUs with AVX-512 BF16 or AMX about
  // 1.5x the float32 speed, at bf16's ~3 significant digits in the features.
  bool bfloat16 = false;
};

struct EncodedVideo {
  size_t index;
  std::string path;
  torch::Tensor view_features;  // [views, D] as the model outputs them; undefined when `error` is set
  std::vector<ViewFrames> view_frames;  // the frames of each view
  std::string error;
};

struct EncodeStats {
  size_t videos = 0, failed = 0;
  double seconds = 0, data_wait_seconds = 0;
};

class VideoEncoder {
 public:
  VideoEncoder(ActionClipModel model, VideoEncoderOptions options);

  // Calls `on_video` once per path, in input order. `frame_counts`, when given, holds each
  // video's frame count from its data list (0: count the frames), as read_video_views takes it.
  EncodeStats encode(const std::vector<std::string>& paths, const std::function<void(EncodedVideo&)>& on_video,
                     Progress* progress = nullptr, const std::vector<int64_t>& frame_counts = {});

  // Features [views, D] of already prepared views [views, T, 3, S, S].
  torch::Tensor encode_views(const torch::Tensor& views);

 private:
  ActionClipModel model_;
  VideoEncoderOptions options_;
};

}  // namespace actionclip
