#pragma once
// Recognition metrics over a score matrix [N videos, C classes].
#include <torch/torch.h>

#include <string>
#include <vector>

namespace actionclip {

// Share of videos whose true label is among the k best scores. `labels` [N] int64.
double top_k_accuracy(const torch::Tensor& scores, const torch::Tensor& labels, int k);

// Top-1 accuracy of each class, averaged over the classes that occur in `labels`.
double mean_class_accuracy(const torch::Tensor& scores, const torch::Tensor& labels);

// [C, C] counts: row = true class, column = predicted class.
torch::Tensor confusion_matrix(const torch::Tensor& scores, const torch::Tensor& labels, int64_t num_classes);

// Multi-label mAP (Charades): average precision per class over the ranking of videos by
// score, averaged over classes with at least one positive. `targets` [N, C] multi-hot.
double mean_average_precision(const torch::Tensor& scores, const torch::Tensor& targets);

// The confusion matrix as CSV with a header of class names.
void write_confusion_csv(const std::string& path, const torch::Tensor& confusion, const std::vector<std::string>& names);

}  // namespace actionclip
