#include "actionclip/dist/gather.h"

namespace actionclip::dist {
namespace {

std::vector<int64_t> row_counts(ProcessGroup& group, int64_t local_rows) {
  std::vector<int64_t> counts;
  for (const auto& c : group.all_gather(torch::tensor({local_rows}))) counts.push_back(c.item<int64_t>());
  return counts;
}

torch::Tensor gather_padded(ProcessGroup& group, const torch::Tensor& rows, const std::vector<int64_t>& counts) {
  const auto longest = *std::max_element(counts.begin(), counts.end());
  auto shape = rows.sizes().vec();
  shape[0] = longest;
  auto padded = torch::zeros(shape, rows.options());
  padded.narrow(0, 0, rows.size(0)).copy_(rows);
  auto parts = group.all_gather(padded);
  for (size_t r = 0; r < parts.size(); ++r) parts[r] = parts[r].narrow(0, 0, counts[r]);
  return torch::cat(parts);
}

class GatherRows : public torch::autograd::Function<GatherRows> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& rows, ProcessGroup* group) {
    const auto counts = row_counts(*group, rows.size(0));
    int64_t offset = 0;
    for (int r = 0; r < group->rank(); ++r) offset += counts[static_cast<size_t>(r)];
    // AutogradContext keeps IValues only: the group (alive for the whole step) travels as an address.
    ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(group));
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["rows"] = rows.size(0);
    return gather_padded(*group, rows.detach(), counts);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* group = reinterpret_cast<ProcessGroup*>(static_cast<intptr_t>(ctx->saved_data["group"].toInt()));
    std::vector<torch::Tensor> summed{grad_outputs[0].contiguous().clone()};
    group->all_reduce_sum(summed);
    return {summed[0].narrow(0, ctx->saved_data["offset"].toInt(), ctx->saved_data["rows"].toInt()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_rows(ProcessGroup& group, const torch::Tensor& rows) {
  return gather_padded(group, rows.detach(), row_counts(group, rows.size(0)));
}

torch::Tensor all_gather_rows_with_grad(ProcessGroup& group, const torch::Tensor& rows) {
  return GatherRows::apply(rows, &group);
}

}  // namespace actionclip::dist
