#pragma once
// Encoding a collection of videos in one process or over the ranks of a job, for commands whose
// output is one result per video in input order (classify, embed-video): each rank encodes its
// shard (shards.h: whole batches, so the model sees the batches one process would), and the
// per-video results are gathered and handed to rank 0 in input order.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actionclip/dist/process_group.h"
#include "actionclip/inference/video_encoder.h"

namespace actionclip::dist {

// What a command keeps of one encoded video (its index is the video's position in `paths`),
// including a failed one's error.
using VideoSummary = std::function<nlohmann::json(EncodedVideo& video)>;

// Encodes `paths` and hands each video's summary to `on_result`, in input order. Without a
// group, as each video is encoded; with one, on rank 0 alone, once every rank is done. The
// counts are the whole collection's on every rank; `progress` counts this rank's shard.
EncodeStats encode_in_order(ProcessGroup* group, VideoEncoder& encoder, const std::vector<std::string>& paths,
                            size_t batch_size, const VideoSummary& summarize,
                            const std::function<void(const nlohmann::json&)>& on_result, Progress* progress = nullptr);

}  // namespace actionclip::dist
