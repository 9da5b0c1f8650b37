#pragma once
// ActionCLIP's objective: video-text similarity as a distribution, matched in both directions
// to the ground-truth matrix with KL divergence. Several videos in a batch may share a label,
// so the target is not the identity matrix of CLIP's cross-entropy.
#include <torch/torch.h>

namespace actionclip {

// [B, B] matrix with 1 where samples i and j share a label. `labels` is [B] (single label) or
// a [B, C] multi-hot matrix (samples sharing any label match).
torch::Tensor ground_truth_matrix(const torch::Tensor& labels);
// [R, C]: 1 where row sample i and column sample j share a label.
torch::Tensor ground_truth_matrix(const torch::Tensor& row_labels, const torch::Tensor& column_labels);

// The reference's KLLoss in one direction: KLDivLoss(log_softmax(logits), softmax(10 * gt)),
// element-mean times the batch size.
torch::Tensor kl_matching_loss(const torch::Tensor& logits, const torch::Tensor& ground_truth);

// Symmetric loss: logits = scale * normalized video @ normalized text^T; the mean of the
// video->text and text->video KL losses. `logit_scale` is the raw learnable temperature
// (exp() is applied here, as the reference does).
torch::Tensor symmetric_kl_loss(const torch::Tensor& video_features, const torch::Tensor& text_features,
                                const torch::Tensor& labels, const torch::Tensor& logit_scale);

// open_clip's local_loss: one shard's rows of both directions against the whole batch's columns.
// Every direction's loss is a sum over rows divided by the batch size, so the shards' losses add
// up to the whole batch's symmetric_kl_loss, without any rank building the whole matrix.
torch::Tensor symmetric_kl_loss_of_rows(const torch::Tensor& row_video, const torch::Tensor& row_text,
                                        const torch::Tensor& row_labels, const torch::Tensor& all_video,
                                        const torch::Tensor& all_text, const torch::Tensor& all_labels,
                                        const torch::Tensor& logit_scale);

}  // namespace actionclip
