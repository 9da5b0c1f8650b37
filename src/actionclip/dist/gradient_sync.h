#pragma once
// What DistributedDataParallel does around the optimiser step, without its module wrapper: the
// same starting weights on every rank (broadcast from rank 0), and after backward the gradients
// averaged over ranks by all-reducing them in flat buckets (few large messages instead of one per
// tensor).
#include <torch/torch.h>

#include <vector>

#include "actionclip/dist/process_group.h"

namespace actionclip::dist {

// Rank 0's values of `tensors` (parameters and buffers) on every rank.
void broadcast_from_main(ProcessGroup& group, const std::vector<torch::Tensor>& tensors);

class GradientAverager {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;  // DDP's bucket_cap_mb

  GradientAverager(ProcessGroup& group, std::vector<torch::Tensor> parameters, int64_t bucket_bytes = kDefaultBucketBytes);

  // Replaces every parameter's gradient by its mean over the ranks. A tensor without a gradient on
  // every rank keeps none (the optimiser skips it, as in one process); one with a gradient on some
  // ranks only counts zeros for the others.
  void average();

 private:
  ProcessGroup& group_;
  std::vector<torch::Tensor> parameters_;
  int64_t bucket_bytes_;
};

}  // namespace actionclip::dist
