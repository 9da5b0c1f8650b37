#pragma once
// ActionCLIP's objective: video-text similarity as a distribution, matched in both directions
// to the ground-truth matrix with KL divergence. Several videos in a batch may share a label,
// so the target is not the identity matrix of CLIP's cross-entropy.
#include <torch/torch.h>

namespace actionclip {

// [B, B] matrix with 1 where samples i and j share a label. `labels` is [B] (single label) or
// a [B, C] multi-hot matrix (samples sharing any label match).
torch::Tensor ground_truth_matrix(const torch::Tensor& labels);

// The reference's KLLoss in one direction: KLDivLoss(log_softmax(logits), softmax(10 * gt)),
// element-mean times the batch size.
torch::Tensor kl_matching_loss(const torch::Tensor& logits, const torch::Tensor& ground_truth);

// Symmetric loss: logits = scale * normalized video @ normalized text^T; the mean of the
// video->text and text->video KL losses. `logit_scale` is the raw learnable temperature
// (exp() is applied here, as the reference does).
torch::Tensor symmetric_kl_loss(const torch::Tensor& video_features, const torch::Tensor& text_features,
                                const torch::Tensor& labels, const torch::Tensor& logit_scale);

}  // namespace actionclip
