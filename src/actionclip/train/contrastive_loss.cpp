#include "actionclip/train/contrastive_loss.h"

#include "actionclip/clip/clip_model.h"

namespace actionclip {

torch::Tensor ground_truth_matrix(const torch::Tensor& labels) {
  if (labels.dim() == 2) {
    auto multi_hot = labels.to(torch::kFloat32);
    return (torch::matmul(multi_hot, multi_hot.t()) > 0).to(torch::kFloat32);
  }
  return (labels.unsqueeze(1) == labels.unsqueeze(0)).to(torch::kFloat32);
}

torch::Tensor ground_truth_matrix(const torch::Tensor& row_labels, const torch::Tensor& column_labels) {
  if (row_labels.dim() == 2) {
    return (torch::matmul(row_labels.to(torch::kFloat32), column_labels.to(torch::kFloat32).t()) > 0).to(torch::kFloat32);
  }
  return (row_labels.unsqueeze(1) == column_labels.unsqueeze(0)).to(torch::kFloat32);
}

torch::Tensor kl_matching_loss(const torch::Tensor& logits, const torch::Tensor& ground_truth) {
  auto log_predicted = torch::log_softmax(logits, 1);
  auto target = torch::softmax(ground_truth.to(logits.dtype()) * 10, 1);
  // KLDivLoss(reduction='mean') averages over all B*B elements; the reference multiplies by B.
  // For a shard of R rows of the [B, B] matrix this is the shard's share: its rows' sum over B.
  auto pointwise = target * (target.log() - log_predicted);
  return pointwise.mean() * logits.size(0);
}

torch::Tensor symmetric_kl_loss(const torch::Tensor& video_features, const torch::Tensor& text_features,
                                const torch::Tensor& labels, const torch::Tensor& logit_scale) {
  auto logits_per_video = logit_scale.exp() * torch::matmul(l2_normalize(video_features), l2_normalize(text_features).t());
  auto ground_truth = ground_truth_matrix(labels).to(logits_per_video.device());
  return (kl_matching_loss(logits_per_video, ground_truth) + kl_matching_loss(logits_per_video.t(), ground_truth)) / 2;
}

torch::Tensor symmetric_kl_loss_of_rows(const torch::Tensor& row_video, const torch::Tensor& row_text,
                                        const torch::Tensor& row_labels, const torch::Tensor& all_video,
                                        const torch::Tensor& all_text, const torch::Tensor& all_labels,
                                        const torch::Tensor& logit_scale) {
  const auto scale = logit_scale.exp();
  auto video_rows = scale * torch::matmul(l2_normalize(row_video), l2_normalize(all_text).t());
  auto text_rows = scale * torch::matmul(l2_normalize(row_text), l2_normalize(all_video).t());
  auto ground_truth = ground_truth_matrix(row_labels, all_labels).to(video_rows.device());
  return (kl_matching_loss(video_rows, ground_truth) + kl_matching_loss(text_rows, ground_truth)) / 2;
}

}  // namespace actionclip
