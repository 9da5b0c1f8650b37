#include "actionclip/dist/sharded_encode.h"

#include <chrono>

#include "actionclip/dist/shards.h"

namespace actionclip::dist {

EncodeStats encode_in_order(ProcessGroup* group, VideoEncoder& encoder, const std::vector<std::string>& paths,
                            size_t batch_size, const VideoSummary& summarize,
                            const std::function<void(const nlohmann::json&)>& on_result, Progress* progress) {
  if (!group)
    return encoder.encode(paths, [&](EncodedVideo& video) { on_result(summarize(video)); }, progress);

  const auto start = std::chrono::steady_clock::now();
  const auto positions = shard_positions(paths.size(), batch_size, group->rank(), group->size());
  std::vector<std::string> shard;
  for (auto p : positions) shard.push_back(paths[p]);
  if (progress) progress->set_total(static_cast<int64_t>(shard.size()));
  std::vector<nlohmann::json> items;
  auto stats = encoder.encode(shard, [&](EncodedVideo& video) {
    video.index = positions[video.index];
    items.push_back({{"failed", !video.error.empty()}, {"summary", summarize(video)}});
  }, progress);

  const auto gathered = all_gather_in_order(*group, positions, std::move(items));
  stats.videos = gathered.size();
  stats.failed = 0;
  for (const auto& item : gathered) {
    stats.failed += item["failed"].get<bool>() ? 1 : 0;
    if (group->is_main()) on_result(item["summary"]);
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace actionclip::dist
