#pragma once
// Scores a labelled video list with a model and computes the paper's metrics: top-1/top-5,
// mean class accuracy and the confusion matrix, or mAP for multi-label data.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "actionclip/data/annotations.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/util/progress.h"

namespace actionclip {

// Class scores [C] of one video from its view features [views, D] (views averaged inside).
using ViewScorer = std::function<torch::Tensor(const torch::Tensor& view_features)>;

struct Evaluation {
  torch::Tensor scores;  // [N, C] for the videos that could be read
  torch::Tensor labels;  // [N] or [N, C] multi-hot
  std::vector<std::string> paths;               // [N] the scored videos
  std::vector<size_t> indices;                  // [N] their positions in the records evaluated
  std::vector<std::vector<ViewFrames>> frames;  // [N] the frames of each of their views
  std::vector<std::string> failures;
  bool multi_label = false;
  double seconds = 0;

  double top1 = 0, top5 = 0, mean_class_accuracy = 0, mean_ap = 0;
  size_t videos() const { return scores.defined() ? static_cast<size_t>(scores.size(0)) : 0; }
};

// Fills in top-1/top-5/mean class accuracy, or mAP, from `scores` and `labels`.
void compute_metrics(Evaluation& evaluation);

// Frames are sampled within each record's num_frames when the list gives one, as the reference does.
Evaluation evaluate(VideoEncoder& encoder, const ViewScorer& scorer, const std::vector<data::VideoRecord>& records,
                    int64_t num_classes, Progress* progress = nullptr);

}  // namespace actionclip
