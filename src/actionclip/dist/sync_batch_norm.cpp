#include "actionclip/dist/sync_batch_norm.h"

#include "actionclip/clip/modified_resnet.h"
#include "actionclip/util/error.h"

namespace actionclip::dist {
namespace {

// The sum over ranks; backward sums the incoming gradient over the ranks too, since every rank's
// loss depends on the summed value.
class AllReduceSum : public torch::autograd::Function<AllReduceSum> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local, ProcessGroup* group) {
    // AutogradContext keeps IValues only: the group (alive for the whole step) travels as an address.
    ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(group));
    std::vector<torch::Tensor> sum{local.detach().clone()};
    group->all_reduce_sum(sum);
    return sum[0];
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* group = reinterpret_cast<ProcessGroup*>(static_cast<intptr_t>(ctx->saved_data["group"].toInt()));
    std::vector<torch::Tensor> sum{grad_outputs[0].contiguous().clone()};
    group->all_reduce_sum(sum);
    return {sum[0], torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(ProcessGroup& group, const torch::Tensor& input, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor& running_mean, torch::Tensor& running_var,
                              double momentum, double eps) {
  const auto channels = input.size(1);
  std::vector<int64_t> reduced{0};
  for (int64_t d = 2; d < input.dim(); ++d) reduced.push_back(d);
  const auto count = torch::full({1}, static_cast<double>(input.numel() / channels), input.options());
  // One message per layer: per-channel sums, sums of squares, and the element count.
  const auto totals = AllReduceSum::apply(torch::cat({input.sum(reduced), input.square().sum(reduced), count}), &group);
  const auto n = totals.narrow(0, 2 * channels, 1);
  const auto mean = totals.narrow(0, 0, channels) / n;
  const auto variance = totals.narrow(0, channels, channels) / n - mean.square();  // biased, as batch norm normalises
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
  const auto shift = bias - mean * scale;
  return input * scale.view(per_channel) + shift.view(per_channel);
}

void synchronize_batch_norm(torch::nn::Module& module, std::shared_ptr<ProcessGroup> group) {
  for (auto& child : module.modules())
    if (auto* norm = dynamic_cast<BatchNormImpl*>(child.get())) norm->synchronize_over(group);
}

}  // namespace actionclip::dist
