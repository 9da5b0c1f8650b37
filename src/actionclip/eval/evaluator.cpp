#include "actionclip/eval/evaluator.h"

#include "actionclip/eval/metrics.h"
#include "actionclip/util/error.h"

namespace actionclip {

Evaluation evaluate(VideoEncoder& encoder, const ViewScorer& scorer, const std::vector<data::VideoRecord>& records,
                    int64_t num_classes, Progress* progress) {
  Evaluation result;
  for (const auto& r : records) result.multi_label = result.multi_label || r.labels.size() > 1;
  std::vector<std::string> paths;
  std::vector<int64_t> frame_counts;
  for (const auto& r : records) paths.push_back(r.path), frame_counts.push_back(r.num_frames);
  std::vector<torch::Tensor> scores, labels;
  auto stats = encoder.encode(paths, [&](EncodedVideo& video) {
    if (!video.error.empty()) {
      result.failures.push_back(video.error);
      return;
    }
    scores.push_back(scorer(video.view_features));
    result.paths.push_back(video.path);
    result.indices.push_back(video.index);
    result.frames.push_back(std::move(video.view_frames));
    const auto& record = records[video.index];
    if (result.multi_label) {
      auto target = torch::zeros({num_classes});
      for (auto l : record.labels) target[l] = 1;
      labels.push_back(target);
    } else {
      labels.push_back(torch::tensor(record.labels.front()));
    }
  }, progress, frame_counts);
  result.seconds = stats.seconds;
  if (scores.empty()) return result;
  result.scores = torch::stack(scores);
  result.labels = torch::stack(labels);
  compute_metrics(result);
  return result;
}

void compute_metrics(Evaluation& e) {
  if (e.multi_label) {
    e.mean_ap = mean_average_precision(e.scores, e.labels);
  } else {
    e.top1 = top_k_accuracy(e.scores, e.labels, 1);
    e.top5 = top_k_accuracy(e.scores, e.labels, 5);
    e.mean_class_accuracy = mean_class_accuracy(e.scores, e.labels);
  }
}

}  // namespace actionclip
