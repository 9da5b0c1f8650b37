#include "actionclip/dist/gradient_sync.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include "actionclip/util/error.h"

namespace actionclip::dist {

void broadcast_from_main(ProcessGroup& group, const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> data;
  for (const auto& t : tensors) data.push_back(t.detach());
  group.broadcast(data, 0);
}

// Runs after a parameter's AccumulateGrad node, when its .grad holds this pass's sum.
struct GradientAverager::ReadyHook : torch::autograd::FunctionPostHook {
  ReadyHook(GradientAverager* averager, size_t parameter) : averager(averager), parameter(parameter) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    averager->on_gradient_accumulated(parameter);
    return outputs;
  }
  GradientAverager* averager;
  size_t parameter;
};

GradientAverager::GradientAverager(ProcessGroup& group, std::vector<torch::Tensor> parameters, int64_t bucket_bytes)
    : group_(group) {
  // Parameters that never get a gradient stay out of the buckets.
  for (auto& p : parameters)
    if (p.requires_grad()) parameters_.push_back(p);
  bucket_of_.resize(parameters_.size());
  slot_of_.resize(parameters_.size());
  accumulated_.assign(parameters_.size(), false);
  for (size_t i = parameters_.size(); i-- > 0;) {
    const auto& p = parameters_[i];
    const bool fits = !buckets_.empty() && [&] {
      const auto& first = parameters_[buckets_.back().members.front()];
      const int64_t bytes = (buckets_.back().offsets.back() + p.numel()) * static_cast<int64_t>(p.element_size());
      return first.scalar_type() == p.scalar_type() && first.device() == p.device() && bytes <= bucket_bytes;
    }();
    if (!fits) buckets_.emplace_back().offsets.push_back(0);
    auto& bucket = buckets_.back();
    bucket_of_[i] = buckets_.size() - 1;
    slot_of_[i] = bucket.members.size();
    bucket.members.push_back(i);
    bucket.offsets.push_back(bucket.offsets.back() + p.numel());
  }
  for (auto& bucket : buckets_) {
    const auto& first = parameters_[bucket.members.front()];
    bucket.flat = torch::zeros({bucket.offsets.back() + static_cast<int64_t>(bucket.members.size())}, first.options());
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(parameters_[i]);
    if (!accumulator) throw Error("gradient averaging: a trained parameter is not a leaf tensor");
    hook_keys_.push_back(accumulator->add_post_hook(std::make_unique<ReadyHook>(this, i)));
    accumulators_.push_back(std::move(accumulator));
  }
}

GradientAverager::~GradientAverager() {
  for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hook_keys_[i]);
}

void GradientAverager::prepare_for_backward(bool synchronize) {
  synchronizing_ = synchronize;
  if (!synchronize) return;
  std::fill(accumulated_.begin(), accumulated_.end(), false);
  for (auto& bucket : buckets_) bucket.waiting = bucket.members.size();
  next_bucket_ = started_in_backward_ = 0;
}

void GradientAverager::copy_into_bucket(size_t parameter) {
  torch::NoGradGuard no_grad;
  auto& bucket = buckets_[bucket_of_[parameter]];
  const auto slot = slot_of_[parameter];
  const auto begin = bucket.offsets[slot], size = bucket.offsets[slot + 1] - begin;
  const auto& grad = parameters_[parameter].grad();
  auto segment = bucket.flat.narrow(0, begin, size);
  if (grad.defined()) segment.copy_(grad.reshape(-1));
  else segment.zero_();
  bucket.flat[bucket.offsets.back() + static_cast<int64_t>(slot)] = grad.defined() ? 1 : 0;
}

void GradientAverager::on_gradient_accumulated(size_t parameter) {
  if (!synchronizing_) return;
  if (accumulated_[parameter])
    throw Error("gradient averaging: a parameter's gradient was accumulated twice in one backward pass");
  accumulated_[parameter] = true;
  copy_into_bucket(parameter);
  --buckets_[bucket_of_[parameter]].waiting;
  start_completed_buckets();
  started_in_backward_ = next_bucket_;
}

void GradientAverager::start_completed_buckets() {
  for (; next_bucket_ < buckets_.size() && buckets_[next_bucket_].waiting == 0; ++next_bucket_)
    buckets_[next_bucket_].ticket = group_.start_all_reduce_sum({buckets_[next_bucket_].flat});
}

void GradientAverager::finish() {
  torch::NoGradGuard no_grad;
  synchronizing_ = false;
  // What the pass left out: parameters outside this step's graph (their gradient, if any, is
  // from earlier accumulation micro-steps).
  for (size_t b = next_bucket_; b < buckets_.size(); ++b) {
    for (auto i : buckets_[b].members)
      if (!accumulated_[i]) copy_into_bucket(i);
    buckets_[b].waiting = 0;
  }
  start_completed_buckets();
  const double scale = 1.0 / group_.size();
  for (auto& bucket : buckets_) {
    group_.wait(bucket.ticket);
    bucket.ticket.reset();
    const auto with_gradient =
        bucket.flat.narrow(0, bucket.offsets.back(), static_cast<int64_t>(bucket.members.size())).to(torch::kCPU, torch::kFloat64);
    for (size_t slot = 0; slot < bucket.members.size(); ++slot) {
      if (with_gradient[static_cast<int64_t>(slot)].item<double>() == 0) continue;
      auto& p = parameters_[bucket.members[slot]];
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      const auto begin = bucket.offsets[slot];
      p.mutable_grad().copy_(bucket.flat.narrow(0, begin, bucket.offsets[slot + 1] - begin).view_as(p)).mul_(scale);
    }
  }
}

}  // namespace actionclip::dist
