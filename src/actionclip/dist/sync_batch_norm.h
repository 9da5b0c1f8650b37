#pragma once
// torch.nn.SyncBatchNorm's training-mode statistics: the batch mean and variance of every channel
// over the global batch of a data-parallel job, so that W ranks of B images normalise as one
// process of W*B does.
#include <torch/torch.h>

#include "actionclip/dist/process_group.h"

namespace actionclip::dist {

// Batch norm of `input` [N, C, ...] in training mode with statistics over every rank's batch
// (ranks' N may differ). Differentiable: the gradient reaching the shared statistics is summed
// over the ranks, so each rank gets the gradient of the global batch's loss with respect to its
// own input. Updates the running statistics (identical on every rank) as batch norm does, with
// the unbiased variance of the global batch.
torch::Tensor sync_batch_norm(ProcessGroup& group, const torch::Tensor& input, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor& running_mean, torch::Tensor& running_var,
                              double momentum, double eps);

// Every batch norm of `module` (the ResNet CLIP's) normalises over the group's global batch while
// training; eval mode, or a group of one rank, stays plain batch norm.
void synchronize_batch_norm(torch::nn::Module& module, std::shared_ptr<ProcessGroup> group);

}  // namespace actionclip::dist
