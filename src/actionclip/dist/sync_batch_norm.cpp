#include "actionclip/dist/sync_batch_norm.h"

#include "actionclip/clip/modified_resnet.h"
#include "actionclip/dist/gather.h"
#include "actionclip/util/error.h"

namespace actionclip::dist {

torch::Tensor sync_batch_norm(ProcessGroup& group, const torch::Tensor& input, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor& running_mean, torch::Tensor& running_var,
                              double momentum, double eps) {
  const auto channels = input.size(1);
  std::vector<int64_t> reduced{0};
  for (int64_t d = 2; d < input.dim(); ++d) reduced.push_back(d);
  // Each rank's count, mean and variance, combined as torch's SyncBatchNorm does (Chan's parallel
  // variance), in float64: where a channel's spread is small against its mean (flat image
  // regions), float32 rounding of the statistics is amplified into the normalised values, and
  // 2 ranks trained the tiny ResNet on synthetic videos 2e-5 to 1e-3 (relative) away from one
  // process in three steps. Summing x and x^2 over the ranks would cancel outright there.
  const auto [local_variance, local_mean] = torch::var_mean(input.to(torch::kFloat64), reduced, /*unbiased=*/false);
  const auto count = torch::full({1}, static_cast<double>(input.numel() / channels), local_mean.options());
  // The gathered statistics' gradient is summed over the ranks, each taking its own row's.
  const auto ranks = all_gather_rows_with_grad(group, torch::cat({count, local_mean, local_variance}).unsqueeze(0));
  const auto counts = ranks.narrow(1, 0, 1), means = ranks.narrow(1, 1, channels), variances = ranks.narrow(1, 1 + channels, channels);
  const auto n = counts.sum();
  const auto mean = (counts * means).sum(0) / n;
  const auto variance = ((counts * (variances + (means - mean).square())).sum(0) / n).to(input.scalar_type());  // biased, as batch norm normalises
  {
    torch::NoGradGuard no_grad;
    const auto elements = n.item<double>();
    if (elements < 2) throw Error("batch norm needs more than one value per channel in the global batch");
    running_mean.mul_(1 - momentum).add_(mean.detach(), momentum);
    running_var.mul_(1 - momentum).add_(variance.detach() * (elements / (elements - 1)), momentum);
  }
  std::vector<int64_t> per_channel(static_cast<size_t>(input.dim()), 1);
  per_channel[1] = channels;
  const auto scale = weight * torch::rsqrt(variance + eps);
  const auto shift = bias - mean.to(input.scalar_type()) * scale;
  return input * scale.view(per_channel) + shift.view(per_channel);
}

void synchronize_batch_norm(torch::nn::Module& module, std::shared_ptr<ProcessGroup> group) {
  for (auto& child : module.modules())
    if (auto* norm = dynamic_cast<BatchNormImpl*>(child.get())) norm->synchronize_over(group);
}

}  // namespace actionclip::dist
