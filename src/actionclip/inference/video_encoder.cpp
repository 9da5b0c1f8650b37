#include "actionclip/inference/video_encoder.h"

#include <c10/core/InferenceMode.h>

#include "actionclip/util/error.h"
#include "actionclip/util/ordered_prefetcher.h"
#include "actionclip/util/autocast.h"

namespace actionclip {
namespace {

struct PreparedVideo {
  SampledViews views;
  std::string error;
};

}  // namespace

VideoEncoder::VideoEncoder(ActionClipModel model, VideoEncoderOptions options)
    : model_(std::move(model)), options_(std::move(options)) {}

torch::Tensor VideoEncoder::encode_views(const torch::Tensor& views) {
  c10::InferenceMode inference;
  AutocastScope autocast(options_.bfloat16, options_.device);
  return model_->encode_video(views.to(options_.device)).to(torch::kFloat32).cpu();
}

EncodeStats VideoEncoder::encode(const std::vector<std::string>& paths, const std::function<void(EncodedVideo&)>& on_video,
                                 Progress* progress, const std::vector<int64_t>& frame_counts) {
  if (!frame_counts.empty() && frame_counts.size() != paths.size())
    throw std::invalid_argument("VideoEncoder::encode: one frame count per path, or none");
  EncodeStats stats;
  const auto start = std::chrono::steady_clock::now();
  const auto views = options_.views;
  OrderedPrefetcher<PreparedVideo> loader(
      paths.size(),
      [&](size_t i) {
        PreparedVideo prepared;
        try {
          prepared.views = read_video_views(paths[i], views, frame_counts.empty() ? 0 : frame_counts[i]);
        } catch (const std::exception& e) {
          prepared.error = e.what();
        }
        return prepared;
      },
      options_.decode_threads, static_cast<size_t>(options_.batch_size) * 2 + static_cast<size_t>(options_.decode_threads));

  std::vector<EncodedVideo> pending;
  std::vector<torch::Tensor> pending_views;
  auto flush = [&] {
    if (!pending_views.empty()) {
      auto features = encode_views(torch::cat(pending_views));
      int64_t offset = 0;
      for (auto& video : pending) {
        if (!video.error.empty()) continue;
        video.view_features = features.slice(0, offset, offset + views.views());
        offset += views.views();
      }
    }
    for (auto& video : pending) {
      stats.failed += video.error.empty() ? 0 : 1;
      on_video(video);
      if (progress) progress->advance(1);
    }
    pending.clear();
    pending_views.clear();
  };

  for (size_t i = 0; i < paths.size(); ++i) {
    auto prepared = *loader.next();
    pending.push_back({i, paths[i], {}, std::move(prepared.views.frames), prepared.error});
    if (prepared.error.empty()) pending_views.push_back(prepared.views.pixels);
    // A batch is a block of consecutive inputs, with a gap where one failed: the rows (and so the
    // rounding) a video gets do not depend on whether its neighbours could be read, and a shard of
    // whole blocks (dist/shards.h) encodes exactly as one process does.
    if (pending.size() >= static_cast<size_t>(options_.batch_size)) flush();
  }
  flush();
  stats.videos = paths.size();
  stats.data_wait_seconds = loader.wait_seconds();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace actionclip
