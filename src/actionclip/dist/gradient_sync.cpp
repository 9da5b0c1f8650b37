#include "actionclip/dist/gradient_sync.h"

namespace actionclip::dist {

void broadcast_from_main(ProcessGroup& group, const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> data;
  for (const auto& t : tensors) data.push_back(t.detach());
  group.broadcast(data, 0);
}

GradientAverager::GradientAverager(ProcessGroup& group, std::vector<torch::Tensor> parameters, int64_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)), bucket_bytes_(bucket_bytes) {}

void GradientAverager::average() {
  torch::NoGradGuard no_grad;
  auto defined = torch::zeros({static_cast<int64_t>(parameters_.size())});
  auto* flags = defined.data_ptr<float>();
  for (size_t i = 0; i < parameters_.size(); ++i) flags[i] = parameters_[i].grad().defined() ? 1.f : 0.f;
  std::vector<torch::Tensor> mask{defined};
  group_.all_reduce_sum(mask);

  std::vector<torch::Tensor> grads;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (flags[i] == 0) continue;
    auto& p = parameters_[i];
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const double scale = 1.0 / group_.size();
  size_t begin = 0;
  while (begin < grads.size()) {
    // One bucket: consecutive gradients of one dtype and device, up to bucket_bytes_.
    size_t end = begin;
    int64_t bytes = 0;
    while (end < grads.size() && grads[end].scalar_type() == grads[begin].scalar_type() &&
           grads[end].device() == grads[begin].device() && (end == begin || bytes + grads[end].nbytes() <= static_cast<size_t>(bucket_bytes_))) {
      bytes += static_cast<int64_t>(grads[end].nbytes());
      ++end;
    }
    std::vector<torch::Tensor> flat_parts;
    for (size_t i = begin; i < end; ++i) flat_parts.push_back(grads[i].reshape(-1));
    std::vector<torch::Tensor> bucket{torch::cat(flat_parts)};
    group_.all_reduce_sum(bucket);
    bucket[0].mul_(scale);
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const auto n = grads[i].numel();
      grads[i].copy_(bucket[0].narrow(0, offset, n).view_as(grads[i]));
      offset += n;
    }
    begin = end;
  }
}

}  // namespace actionclip::dist
