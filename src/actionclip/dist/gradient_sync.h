#pragma once
// What DistributedDataParallel does around the optimiser step, without its module wrapper: the
// same starting weights on every rank (broadcast from rank 0), and the gradients averaged over
// ranks by all-reducing them in flat buckets (few large messages instead of one per tensor) that
// start while the backward pass is still running, as DDP's Reducer does.
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "actionclip/dist/process_group.h"

namespace torch::autograd {
struct Node;
}

namespace actionclip::dist {

// Rank 0's values of `tensors` (parameters and buffers) on every rank.
void broadcast_from_main(ProcessGroup& group, const std::vector<torch::Tensor>& tensors);

// Buckets hold consecutive parameters in reverse order (roughly the order backward produces their
// gradients), up to bucket_bytes each. A bucket's all-reduce starts as soon as every gradient in it
// has been accumulated and every earlier bucket has started, so all ranks start them in the same
// order. Every rank must run the same autograd graph (as DDP requires).
class GradientAverager {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;  // DDP's bucket_cap_mb

  GradientAverager(ProcessGroup& group, std::vector<torch::Tensor> parameters, int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientAverager();
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  // Before each backward pass. `synchronize` false (a micro-step of gradient accumulation that
  // does not step): the gradients only accumulate locally, as under DDP's no_sync().
  void prepare_for_backward(bool synchronize);
  // After a synchronised backward pass: starts the buckets it did not complete (those holding
  // parameters that got no gradient in this pass, which count as zeros), waits for all, and
  // replaces every gradient by its mean over the ranks. A parameter without a gradient on every
  // rank keeps none (the optimiser skips it, as in one process).
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  // How many buckets the last synchronised backward pass started itself (the others started in
  // finish(), after it).
  size_t buckets_started_in_backward() const { return started_in_backward_; }

 private:
  struct ReadyHook;
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_
    std::vector<int64_t> offsets;
    // The members' gradients, then one flag per member: 1 where this rank has a gradient.
    torch::Tensor flat;
    size_t waiting = 0;  // members whose gradient this pass has not produced yet
    ProcessGroup::Ticket ticket;
  };

  void on_gradient_accumulated(size_t parameter);
  void copy_into_bucket(size_t parameter);
  void start_completed_buckets();

  ProcessGroup& group_;
  std::vector<torch::Tensor> parameters_;
  // Held so that the accumulators (and the hooks on them) live as long as this averager; autograd
  // itself keeps them only while a graph refers to them.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hook_keys_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, slot_of_;
  std::vector<bool> accumulated_;
  bool synchronizing_ = false;
  size_t next_bucket_ = 0, started_in_backward_ = 0;
};

}  // namespace actionclip::dist
